using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Registry;

namespace StreamLstm.Streaming.Hosting;

/// <summary>The one model per source kind the pipeline runs (their inputs differ, so each kind has its own).</summary>
/// <param name="Models">Kind → model.</param>
public sealed record PipelineModels(IReadOnlyDictionary<SourceKind, LstmModel> Models)
{
    /// <summary>Loads the configured model files; kinds without a file get the registry's serving version, else a seeded random model (and are listed).</summary>
    /// <param name="settings">Model settings.</param>
    /// <param name="kinds">Kinds that have an input topic.</param>
    /// <param name="audioCoefficients">Coefficients per audio frame.</param>
    /// <param name="randomKinds">Kinds that got a random model.</param>
    /// <returns>The models.</returns>
    public static PipelineModels FromSettings(ModelSettings settings, IEnumerable<SourceKind> kinds, int audioCoefficients, out List<SourceKind> randomKinds)
    {
        var models = new Dictionary<SourceKind, LstmModel>();
        randomKinds = [];
        foreach (var kind in kinds)
        {
            var path = kind switch
            {
                SourceKind.Tick => settings.TickModel,
                SourceKind.Vitals => settings.VitalsModel,
                _ => settings.AudioModel,
            };
            if (!string.IsNullOrWhiteSpace(path))
            {
                models[kind] = ModelFile.Load(path);
                continue;
            }

            // No explicit file: the registry's promoted version, when there is a registry with one for this kind.
            var promoted = string.IsNullOrWhiteSpace(settings.Registry) ? null : new ModelRegistry(settings.Registry).ServingPath(kind);
            if (promoted is not null)
            {
                models[kind] = ModelFile.Load(promoted);
                continue;
            }

            randomKinds.Add(kind);
            models[kind] = CreateRandom(kind, settings, audioCoefficients);
        }

        return new PipelineModels(models);
    }

    /// <summary>A seeded random model with the kind's input size.</summary>
    /// <param name="kind">Kind.</param>
    /// <param name="settings">Sizes.</param>
    /// <param name="audioCoefficients">Coefficients per audio frame.</param>
    /// <returns>The model.</returns>
    public static LstmModel CreateRandom(SourceKind kind, ModelSettings settings, int audioCoefficients)
    {
        var inputs = FeatureExtractor.For(kind, 0.01, audioCoefficients).FeatureCount;
        var model = LstmModel.CreateRandom(new LstmConfig(inputs, settings.Hidden, settings.Layers, settings.Horizons), settings.Seed + (int)kind);
        model.Metadata = model.Metadata with { Version = $"random-{kind.ToWireName()}-h{settings.Hidden}-s{settings.Seed}" };
        return model;
    }
}
