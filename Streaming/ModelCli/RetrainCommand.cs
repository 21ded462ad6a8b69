using System.CommandLine;
using System.Net.Http.Headers;

namespace StreamLstm.Streaming.ModelCli;

/// <summary><c>model retrain KIND [--url URL] [--token T]</c>: asks a running service for a fine-tune now (the manual trigger).</summary>
internal static class RetrainCommand
{
    /// <summary>The command.</summary>
    /// <returns>The <c>retrain</c> command.</returns>
    public static Command Create()
    {
        var kind = new Argument<string>("kind") { Description = "Kind: tick, vitals or audio." };
        var url = new Option<string>("--url") { Description = "The service's web address.", DefaultValueFactory = _ => Web.WebOptions.DefaultUrl };
        var token = new Option<string?>("--token") { Description = "Bearer token (Web:BearerToken), when the service asks for one." };
        var cmd = new Command("retrain", "Ask the running service to fine-tune KIND's model now (POST /api/models/KIND/retrain); the gate still decides.");
        cmd.Arguments.Add(kind);
        cmd.Options.Add(url);
        cmd.Options.Add(token);
        cmd.SetAction(async (p, ct) =>
        {
            var k = p.GetValue(kind)!.Trim().ToLowerInvariant();
            if (k is not ("tick" or "vitals" or "audio"))
            {
                await p.InvocationConfiguration.Error.WriteLineAsync($"model retrain: unknown kind '{k}': tick, vitals or audio").ConfigureAwait(false);
                return 2;
            }

            if (!Uri.TryCreate(p.GetValue(url)!.Trim().TrimEnd('/') + "/", UriKind.Absolute, out var root) || root.Scheme is not ("http" or "https"))
            {
                await p.InvocationConfiguration.Error.WriteLineAsync($"model retrain: --url '{p.GetValue(url)}' is not an http(s) address (e.g. {Web.WebOptions.DefaultUrl})").ConfigureAwait(false);
                return 2;
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(root, $"api/models/{k}/retrain"));
            if (p.GetValue(token) is { Length: > 0 } t) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", t);
            try
            {
                using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                var writer = response.IsSuccessStatusCode ? p.InvocationConfiguration.Output : p.InvocationConfiguration.Error;
                await writer.WriteLineAsync($"{(int)response.StatusCode} {body}").ConfigureAwait(false);
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                await p.InvocationConfiguration.Error.WriteLineAsync($"model retrain: {p.GetValue(url)} is not reachable ({e.Message})").ConfigureAwait(false);
                return 1;
            }
        });
        return cmd;
    }
}
