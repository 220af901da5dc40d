using Microsoft.Extensions.Time.Testing;
using Switchboard.Core.Queues;

namespace Switchboard.Core.Tests.Queues;

public sealed class WorkQueueTests
{
    private static async Task<string> TakeAsync(WorkQueue<string> q)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (ok, item) = await q.TryTakeAsync(cts.Token);
        Assert.True(ok);
        return item;
    }

    [Fact]
    public async Task Add_SameKeyTwice_QueuedOnce()
    {
        using var q = new WorkQueue<string>(new FakeTimeProvider());
        q.Add("a");
        q.Add("a");
        q.Add("b");
        Assert.Equal(2, q.Count);
        Assert.Equal("a", await TakeAsync(q));
        Assert.Equal("b", await TakeAsync(q));
    }

    [Fact]
    public async Task Add_WhileProcessing_RequeuedAfterDone()
    {
        using var q = new WorkQueue<string>(new FakeTimeProvider());
        q.Add("a");
        var item = await TakeAsync(q);
        q.Add("a");
        Assert.Equal(0, q.Count); // not handed to a second worker while the first still has it
        q.Done(item);
        Assert.Equal(1, q.Count);
        Assert.Equal("a", await TakeAsync(q));
    }

    [Fact]
    public void AddRateLimited_BacksOffExponentially_ForgetResets()
    {
        var time = new FakeTimeProvider();
        using var q = new WorkQueue<string>(time, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        q.AddRateLimited("a");
        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Equal(0, q.Count);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, q.Count);

        q.AddRateLimited("b");
        q.AddRateLimited("b");
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(2, q.Count); // a, and b's first attempt (10 ms); the second wants 20 ms but b is already queued
        q.Forget("b");
        q.AddRateLimited("c");
        q.AddRateLimited("c");
        q.AddRateLimited("c");
        time.Advance(TimeSpan.FromMilliseconds(39));
        Assert.Equal(3, q.Count);
    }

    [Fact]
    public async Task ShutDown_EndsWaitingTakers()
    {
        using var q = new WorkQueue<string>(new FakeTimeProvider());
        var taker = q.TryTakeAsync(CancellationToken.None);
        q.ShutDown();
        var (ok, _) = await taker.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(ok);
    }

    [Fact]
    public void ShutDown_Twice_WithItemsWaiting_IsHarmless()
    {
        using var q = new WorkQueue<string>(new FakeTimeProvider());
        q.Add("a");
        q.Add("b");
        q.ShutDown();
        q.ShutDown();
    }
}
