using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Training;

/// <summary>Deep copies of models (a fine-tune trains a copy while the original keeps serving).</summary>
public static class ModelCopy
{
    /// <summary>A copy of <paramref name="model"/>: same sizes and metadata, its own parameter arrays.</summary>
    /// <param name="model">Model.</param>
    /// <returns>The copy.</returns>
    public static LstmModel Clone(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var copy = new LstmModel(model.Config, model.Metadata);
        var from = model.Parameters();
        var to = copy.Parameters();
        for (var i = 0; i < from.Count; i++) from[i].Values.CopyTo(to[i].Values, 0);
        return copy;
    }
}
