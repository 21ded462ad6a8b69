namespace StreamLstm.Model.Forecasting;

// What the pipeline's one scoring state per key adds to each row: its score, and the (rare) alert events the batch caused.
public sealed partial class ForecastBatch
{
    private RowScore[]? _scores;

    /// <summary>Score per row (<c>[Count]</c>); a row with <see cref="RowScore.HasScore"/> false was written unscored.</summary>
    public RowScore[] Scores => _scores ??= new RowScore[Capacity];

    /// <summary>Alert events caused by this batch's rows, in row order (usually empty).</summary>
    public List<AlertEvent> Alerts { get; } = [];
}
