using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Consumer;

/// <summary>One assigned partition's lag: high watermark minus the offset stored for commit.</summary>
/// <param name="Topic">Topic.</param>
/// <param name="Partition">Partition.</param>
/// <param name="Kind">Source kind of the topic.</param>
/// <param name="Lag">Messages behind.</param>
public readonly record struct PartitionLag(string Topic, int Partition, SourceKind Kind, long Lag);
