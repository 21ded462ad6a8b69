using StreamLstm.Streaming.Online;

namespace StreamLstm.Streaming.Pipeline;

// Online learning hook: every worker's engine feeds its kind's replay buffer and swaps to promoted models.
public sealed partial class StreamPipeline
{
    /// <summary>Online learning attached with <see cref="AttachOnline"/> (null: none).</summary>
    public OnlineLearning? Online { get; private set; }

    /// <summary>Attaches online learning to every worker's engines; call before <see cref="Start"/>.</summary>
    /// <param name="online">Online learning state.</param>
    public void AttachOnline(OnlineLearning online)
    {
        ArgumentNullException.ThrowIfNull(online);
        Online = online;
        foreach (var w in _workers)
        {
            foreach (var kind in online.Kinds)
            {
                if (w.Engine(kind.Kind) is { } engine) engine.Online = kind;
            }
        }
    }
}
