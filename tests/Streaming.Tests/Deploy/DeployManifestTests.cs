using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using static StreamLstm.Streaming.Tests.Deploy.DeployFiles;

namespace StreamLstm.Streaming.Tests.Deploy;

/// <summary>
/// What can be checked of deploy/ without Docker or a cluster: the files parse, refer only to files that exist, and say what
/// the service needs (non-root, loopback-only ports, InfluxDB auth, a stop grace period longer than the drain, probes on the
/// health endpoints).
/// </summary>
public class DeployManifestTests
{
    private static YamlMappingNode Compose => Load(InDeploy("docker-compose.yml"));

    private static IEnumerable<(string Name, YamlMappingNode Service)> Services =>
        Compose.Map("services").Entries().Select(e => (e.Name, (YamlMappingNode)e.Node));

    [Fact]
    public void Compose_HasKafkaKraft_Influx_Grafana_AndTheService()
    {
        var names = Services.Select(s => s.Name).ToHashSet();
        foreach (var n in new[] { "kafka", "influxdb", "grafana", "streamlstm" })
        {
            Assert.True(names.Contains(n), $"compose phase: no '{n}' service (has {string.Join(",", names)})");
        }

        var kafka = Compose.Map("services.kafka.environment");
        Assert.Contains("controller", kafka.Str("KAFKA_PROCESS_ROLES"), StringComparison.Ordinal);
        Assert.Equal("kafka:9092", Compose.Str("services.streamlstm.environment.STREAMLSTM_Kafka__BootstrapServers"));
    }

    [Fact]
    public void Compose_EveryHostPathItMountsOrBuilds_Exists()
    {
        var checkedPaths = 0;
        foreach (var (name, service) in Services)
        {
            if (service.Get("volumes") is YamlSequenceNode volumes)
            {
                foreach (var v in volumes.Scalars())
                {
                    var source = v.Split(':')[0];
                    if (!source.StartsWith('.') && !source.StartsWith('/'))
                    {
                        Assert.True(Compose.Map("volumes").Get(source) is not null, $"compose phase: {name} mounts named volume '{source}' that is not declared");
                        continue;
                    }

                    var path = Path.GetFullPath(Path.Combine(DeployDir, source));
                    Assert.True(File.Exists(path) || Directory.Exists(path), $"compose phase: {name} mounts '{source}', which does not exist ({path})");
                    checkedPaths++;
                }
            }

            if (service.Get("build") is YamlMappingNode build)
            {
                var context = Path.GetFullPath(Path.Combine(DeployDir, build.Str("context")));
                Assert.True(Directory.Exists(context), $"compose phase: {name} build context {context} is missing");
                Assert.True(File.Exists(Path.Combine(context, build.Str("dockerfile"))), $"compose phase: {name} Dockerfile {build.Str("dockerfile")} is missing");
                checkedPaths++;
            }
        }

        Assert.True(checkedPaths >= 5, $"compose phase: only {checkedPaths} host paths found; the parser is not reading the mounts");
    }

    [Fact]
    public void Compose_PublishesOnlyOnLoopback_AndInfluxRequiresAuth()
    {
        foreach (var (name, service) in Services)
        {
            if (service.Get("ports") is YamlSequenceNode ports)
            {
                foreach (var p in ports.Scalars())
                {
                    Assert.True(p.StartsWith("127.0.0.1:", StringComparison.Ordinal), $"compose phase: {name} publishes '{p}' beyond loopback");
                }
            }
        }

        var influx = Compose.Map("services.influxdb");
        Assert.Null(influx.Get("ports"));
        Assert.Equal("true", influx.Str("environment.INFLUXDB_HTTP_AUTH_ENABLED"));
        // Credentials come from the environment (.env), never from the file itself.
        foreach (var key in new[] { "INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_WRITE_USER_PASSWORD", "INFLUXDB_READ_USER_PASSWORD" })
        {
            Assert.Matches(@"^\$\{[A-Z_]+:\?.+\}$", influx.Str("environment." + key));
        }

        Assert.Matches(@"^\$\{INFLUXDB_WRITE_PASSWORD:\?.+\}$", Compose.Str("services.streamlstm.environment.STREAMLSTM_Sink__Influx__Password"));
        Assert.Matches(@"^\$\{[A-Z_]+:\?.+\}$", Compose.Str("services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD"));
    }

    [Fact]
    public void StopGracePeriods_ExceedTheHostsDrainTimeout()
    {
        var drain = HostShutdownTimeout();
        Assert.True(drain > TimeSpan.Zero, "host phase: no shutdown timeout configured");
        var compose = ComposeDuration(Compose.Str("services.streamlstm.stop_grace_period"));
        Assert.True(compose > drain, $"compose phase: stop_grace_period {compose} does not exceed the drain {drain}");

        var pod = StatefulSet().Map("spec.template.spec");
        var k8s = TimeSpan.FromSeconds(int.Parse(pod.Str("terminationGracePeriodSeconds"), CultureInfo.InvariantCulture));
        Assert.True(k8s > drain, $"k8s phase: terminationGracePeriodSeconds {k8s} does not exceed the drain {drain}");
    }

    [Fact]
    public void Compose_MountsModels_AndTheServiceRunsNonRoot()
    {
        var service = Compose.Map("services.streamlstm");
        Assert.Contains(service.Seq("volumes").Scalars(), v => v.StartsWith("./models:/models:ro", StringComparison.Ordinal));
        Assert.True(service.Get("user") is null || service.Str("user") is not ("root" or "0"), "compose phase: the service is set to run as root");

        var dockerfile = File.ReadAllLines(InDeploy("Dockerfile"));
        var user = dockerfile.LastOrDefault(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.True(user is not null, "dockerfile phase: no USER line: the image runs as root");
        Assert.DoesNotMatch(@"^USER\s+(root|0)(:|\s|$)", user);
        Assert.Contains(dockerfile, l => l.Contains("chmod -R 0700 /var/lib/streamlstm", StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_CopiesOnlyWhatExists_AndDockerignoreKeepsSecretsAndBuildOutputsOut()
    {
        foreach (var line in File.ReadAllLines(InDeploy("Dockerfile")).Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[1..^1])
            {
                var path = Path.Combine(Root, source);
                Assert.True(File.Exists(path) || Directory.Exists(path), $"dockerfile phase: '{line}' copies '{source}', which does not exist");
            }
        }

        var ignore = File.ReadAllLines(Path.Combine(Root, ".dockerignore")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet();
        foreach (var required in new[] { ".git", "artifacts", "**/bin", "**/obj", "tests", "deploy/.env", "deploy/models" })
        {
            Assert.True(ignore.Contains(required), $"dockerignore phase: '{required}' is not excluded from the build context");
        }
    }

    [Fact]
    public void Grafana_ProvisioningFilesParse_AndPointAtTheMountedDashboards()
    {
        var grafana = Compose.Map("services.grafana");
        var mounts = grafana.Seq("volumes").Scalars().Select(v => v.Split(':')).Where(p => p.Length >= 2).ToDictionary(p => p[1], p => p[0]);

        var datasource = Assert.Single(Load(InDeploy("grafana", "provisioning", "datasources", "influxdb.yaml")).Seq("datasources").Children);
        Assert.Equal("influxdb", datasource.Str("type"));
        Assert.Equal("http://influxdb:8086", datasource.Str("url"));
        Assert.Equal("streamlstm", datasource.Str("jsonData.dbName"));
        // Grafana expands $VARS in provisioning from its environment; each one must be set on the container.
        var env = grafana.Map("environment").Entries().Select(e => e.Name).ToHashSet();
        foreach (var v in new[] { datasource.Str("user"), datasource.Str("secureJsonData.password") })
        {
            Assert.True(env.Contains(v.TrimStart('$')), $"grafana phase: datasource uses {v}, not set in the grafana service's environment");
        }

        var provider = Assert.Single(Load(InDeploy("grafana", "provisioning", "dashboards", "streamlstm.yaml")).Seq("providers").Children);
        var inContainer = provider.Str("options.path");
        Assert.True(mounts.TryGetValue(inContainer, out var hostDir), $"grafana phase: provider path {inContainer} is not a mount of the grafana service");
        var dashboards = Directory.GetFiles(Path.Combine(DeployDir, hostDir!), "*.json");
        Assert.NotEmpty(dashboards);
        var dashboardUid = datasource.Str("uid");
        foreach (var file in dashboards)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var uids = DatasourceUids(doc.RootElement).Distinct().ToList();
            Assert.True(uids.All(u => u == dashboardUid || u == "-- Grafana --"), $"grafana phase: {Path.GetFileName(file)} uses datasource uids [{string.Join(",", uids)}], provisioned is {dashboardUid}");
            Assert.True(mounts.ContainsKey("/etc/grafana/provisioning") && Directory.Exists(Path.Combine(DeployDir, mounts["/etc/grafana/provisioning"])), "grafana phase: provisioning folder not mounted");
        }
    }

    [Fact]
    public void Kubernetes_ManifestsParse_AndReferToEachOther()
    {
        var kustomization = Load(InDeploy("k8s", "kustomization.yaml"));
        var docs = new List<YamlMappingNode>();
        foreach (var resource in kustomization.Seq("resources").Scalars())
        {
            docs.AddRange(LoadAll(InDeploy("k8s", resource)));
        }

        var kinds = docs.GroupBy(d => d.Str("kind")).ToDictionary(g => g.Key, g => g.Select(d => d.Str("metadata.name")).ToHashSet());
        foreach (var kind in new[] { "StatefulSet", "Service", "PodDisruptionBudget", "ConfigMap", "PersistentVolumeClaim" })
        {
            Assert.True(kinds.ContainsKey(kind), $"k8s phase: no {kind} among the kustomization's resources");
        }

        var sts = StatefulSet();
        var podLabels = sts.Map("spec.template.metadata.labels");
        Assert.True(Matches(sts.Map("spec.selector.matchLabels"), podLabels), "k8s phase: StatefulSet selector does not match its pod labels");
        Assert.True(kinds["Service"].Contains(sts.Str("spec.serviceName")), "k8s phase: serviceName has no Service");
        foreach (var doc in docs)
        {
            switch (doc.Str("kind"))
            {
                case "Service":
                    Assert.True(Matches(doc.Map("spec.selector"), podLabels), "k8s phase: Service selector does not match the pods");
                    break;
                case "PodDisruptionBudget":
                    Assert.True(Matches(doc.Map("spec.selector.matchLabels"), podLabels), "k8s phase: PodDisruptionBudget selector does not match the pods");
                    break;
            }
        }

        var pod = sts.Map("spec.template.spec");
        var container = (YamlMappingNode)Assert.Single(pod.Seq("containers").Children);
        foreach (var envFrom in container.Seq("envFrom").Children)
        {
            Assert.True(kinds["ConfigMap"].Contains(envFrom.Str("configMapRef.name")), "k8s phase: envFrom names a ConfigMap that is not deployed");
        }

        var secretNames = LoadAll(InDeploy("k8s", "secret.example.yaml")).Where(d => d.Str("kind") == "Secret").ToDictionary(d => d.Str("metadata.name"), d => d.Map("stringData").Entries().Select(e => e.Name).ToHashSet());
        foreach (var env in container.Seq("env").Children.Where(e => e.Get("valueFrom") is not null))
        {
            var name = env.Str("valueFrom.secretKeyRef.name");
            var key = env.Str("valueFrom.secretKeyRef.key");
            Assert.True(secretNames.TryGetValue(name, out var keys) && keys.Contains(key), $"k8s phase: secret {name}/{key} is not in secret.example.yaml");
        }

        var claims = sts.Seq("spec.volumeClaimTemplates").Children.Select(c => c.Str("metadata.name")).ToHashSet();
        var podVolumes = pod.Seq("volumes").Children.ToDictionary(v => v.Str("name"));
        foreach (var mount in container.Seq("volumeMounts").Children)
        {
            var name = mount.Str("name");
            Assert.True(claims.Contains(name) || podVolumes.ContainsKey(name), $"k8s phase: volumeMount {name} has no volume");
            if (podVolumes.TryGetValue(name, out var volume) && volume.StrOrNull("persistentVolumeClaim.claimName") is { } claim)
            {
                Assert.True(kinds["PersistentVolumeClaim"].Contains(claim), $"k8s phase: volume {name} claims {claim}, which is not deployed");
            }
        }

        // The data volume (state and spool) is per pod, where the image keeps them.
        Assert.Contains(container.Seq("volumeMounts").Children, m => claims.Contains(m.Str("name")) && m.Str("mountPath") == "/var/lib/streamlstm");
        Assert.Equal("true", pod.Str("securityContext.runAsNonRoot"));
    }

    [Fact]
    public void Kubernetes_ProbesHitTheHealthEndpoints_OnTheServedPort()
    {
        var container = (YamlMappingNode)Assert.Single(StatefulSet().Seq("spec.template.spec.containers").Children);
        var args = container.Seq("args").Scalars().ToList();
        var urls = args[args.IndexOf("--urls") + 1];
        var port = new Uri(urls).Port;
        var ports = container.Seq("ports").Children.ToDictionary(p => p.Str("name"), p => int.Parse(p.Str("containerPort"), CultureInfo.InvariantCulture));
        Assert.Equal(port, ports["http"]);
        Assert.Equal("/health/ready", container.Str("readinessProbe.httpGet.path"));
        Assert.Equal("/health/live", container.Str("livenessProbe.httpGet.path"));
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            var p = container.Str(probe + ".httpGet.port");
            Assert.True(p == "http" || p == port.ToString(CultureInfo.InvariantCulture), $"k8s phase: {probe} uses port {p}, the service listens on {port}");
        }

        var compose = Compose.Map("services.streamlstm");
        Assert.Equal(args, compose.Seq("command").Scalars().ToList());
    }

    [Fact]
    public void InfluxDoc_UsesPrefixedEnvironmentVariables_AndNanosecondImports()
    {
        var doc = File.ReadAllText(InDeploy("influxdb.md"));
        Assert.DoesNotMatch(new Regex(@"(?<!STREAMLSTM_)\bSink__"), doc);
        Assert.Contains("STREAMLSTM_Sink__Influx__Password", doc, StringComparison.Ordinal);
        Assert.DoesNotContain("precision=ms", doc, StringComparison.Ordinal);
        Assert.Contains("precision=ns", doc, StringComparison.Ordinal);
    }

    private static YamlMappingNode StatefulSet() => Assert.Single(LoadAll(InDeploy("k8s", "statefulset.yaml")), d => d.Str("kind") == "StatefulSet");

    private static bool Matches(YamlMappingNode selector, YamlMappingNode labels) =>
        selector.Entries().All(e => (labels.Get(e.Name) as YamlScalarNode)?.Value == ((YamlScalarNode)e.Node).Value); // label names contain dots

    private static IEnumerable<string> DatasourceUids(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                if (p.Name == "datasource" && p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("uid", out var uid))
                {
                    yield return uid.GetString()!;
                }

                foreach (var u in DatasourceUids(p.Value)) yield return u;
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
            {
                foreach (var u in DatasourceUids(item)) yield return u;
            }
        }
    }
}
