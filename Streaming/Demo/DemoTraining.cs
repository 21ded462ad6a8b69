using System.Diagnostics;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Features;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Demo;

/// <summary>
/// Trains one model per kind at demo start-up on generated history, with exactly the pipeline's features: each key's
/// events are decoded and run through a fresh <see cref="FeatureExtractor"/>, and the targets at step t are the
/// normalised target feature (feature 0) at steps t+1 .. t+K — what the head's outputs mean in the pipeline.
/// </summary>
public static class DemoTraining
{
    /// <summary>Generates history for every key of <paramref name="generator"/> and trains a model on it with the CPU trainer.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="generator">A generator for the kind (its own seed, not the live one).</param>
    /// <param name="config">Model sizes (InputSize must match the kind's features).</param>
    /// <param name="eventsPerKey">History length per key.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="alpha">Normalisation decay (as in the pipeline).</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <returns>The trained model and its final training loss.</returns>
    public static (LstmModel Model, double Loss, TimeSpan Elapsed) Train(SourceKind kind, IEventGenerator generator, LstmConfig config, int eventsPerKey, int epochs, double alpha, int seed)
    {
        var sw = Stopwatch.StartNew();
        var keys = generator.KeyCount;
        var decoder = EventDecoder.For(kind);
        var features = FeatureExtractor.For(kind, alpha);
        features.EnsureCapacity(keys);
        var raw = new double[decoder.ValueCount];
        var perKey = Enumerable.Range(0, keys).Select(_ => new List<float>(eventsPerKey * config.InputSize)).ToArray();
        var buffer = new byte[EventJson.MaxEventBytes];
        var x = new float[config.InputSize];
        var lastTs = new long[keys];
        Array.Fill(lastTs, long.MinValue);
        for (long i = 0, total = (long)keys * eventsPerKey; i < total; i++)
        {
            var info = generator.Next(buffer, out var n);
            if (decoder.Decode(buffer.AsSpan(0, n), raw, out var ts, out _) != DeadLetterReason.None || ts < lastTs[info.KeyIndex]) continue;
            lastTs[info.KeyIndex] = ts;
            features.Extract(info.KeyIndex, raw, ts, x);
            perKey[info.KeyIndex].AddRange(x);
        }

        var k = config.Horizons;
        var series = new List<TimeSeries>();
        foreach (var list in perKey)
        {
            var steps = list.Count / config.InputSize - k;
            if (steps < 8) continue;
            var inputs = list.GetRange(0, steps * config.InputSize).ToArray();
            var targets = new float[steps * k];
            for (var t = 0; t < steps; t++)
            {
                for (var h = 0; h < k; h++) targets[t * k + h] = list[(t + h + 1) * config.InputSize];
            }

            series.Add(new TimeSeries(inputs, targets));
        }

        var model = LstmModel.CreateRandom(config, seed);
        var trainer = new LstmTrainer(model, new TrainingOptions
        {
            WindowLength = 32,
            BatchSize = 32,
            BatchesPerEpoch = 8,
            Epochs = epochs,
            LearningRate = 5e-3,
            Seed = seed,
        });
        var report = trainer.Fit(new SeriesDataset(config.InputSize, k, series));
        model.Metadata = model.Metadata with
        {
            Version = $"demo-{kind.ToWireName()}-h{config.HiddenSize}-e{epochs}",
            FeatureNames = features.FeatureNames,
        };
        return (model, report.Epochs[^1].TrainLoss, sw.Elapsed);
    }
}
