using StreamLstm.Model.Delivery;

namespace StreamLstm.Model.Tests.Delivery;

public class DeliveryEpochsTests
{
    [Fact]
    public async Task BulkCompletion_DrainsTheEpoch_OnlyOnceEveryDeliveryIsCounted()
    {
        var epochs = new DeliveryEpochs();
        var epoch = epochs.Current;
        epoch.Begin(5);
        epochs.Complete(epoch, 3);
        var flush = epochs.FlushAsync(TestContext.Current.CancellationToken);
        Assert.False(flush.IsCompleted, "the flush completed with 2 of 5 deliveries still pending");
        epochs.Complete(epoch, 2);
        await flush.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }
}
