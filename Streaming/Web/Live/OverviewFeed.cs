using System.Reactive.Linq;
using Microsoft.Extensions.Options;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Web.Endpoints;

namespace StreamLstm.Streaming.Web.Live;

/// <summary>
/// The overview every page shares: one status sampler for all connected pages (started by the first, stopped with the
/// last), replaying the latest sample to a page that just opened so it shows rates at once.
/// </summary>
public sealed class OverviewFeed(StatusFeed status, LiveFeed feed, AlertLog alerts, IOptions<WebOptions> options)
{
    private readonly Lazy<IObservable<SseMessage>> _shared = new(() =>
        status.Samples(options.Value.OverviewPeriod)
            .Select(s => new SseMessage("overview", DashboardJson.Serialize(DashboardJson.Overview(s, feed, alerts))))
            .Replay(1)
            .RefCount());

    /// <summary>Overview messages, one per period.</summary>
    public IObservable<SseMessage> Messages => _shared.Value;
}
