using Microsoft.Extensions.Time.Testing;
using Switchboard.Client.Queues;

namespace Switchboard.Client.Tests.Informers;

/// <summary>The rate limiters (client-go semantics) and the queue built on Core's WorkQueue, on virtual time.</summary>
public sealed class RateLimitingQueueTests
{
    [Fact]
    public void ItemExponential_DoublesPerFailureUpToMax_ForgetResets()
    {
        var limiter = new ItemExponentialRateLimiter<string>(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(30));

        Assert.Equal([5, 10, 20, 30, 30], Enumerable.Range(0, 5).Select(_ => limiter.When("a").TotalMilliseconds));
        Assert.Equal(5, limiter.NumRequeues("a"));
        Assert.Equal(5, limiter.When("b").TotalMilliseconds);
        limiter.Forget("a");
        Assert.Equal(0, limiter.NumRequeues("a"));
        Assert.Equal(5, limiter.When("a").TotalMilliseconds);
    }

    [Fact]
    public void Bucket_BurstThenQps_RefillsWithTime()
    {
        var time = new FakeTimeProvider();
        var limiter = new BucketRateLimiter<string>(qps: 10, burst: 3, time);

        Assert.Equal([0, 0, 0, 100, 200], Enumerable.Range(0, 5).Select(i => limiter.When("k" + i).TotalMilliseconds).Select(d => Math.Round(d)));
        time.Advance(TimeSpan.FromSeconds(1));
        // A second's 10 tokens pay the 2 owed and refill the bucket up to its burst.
        Assert.Equal(0, limiter.When("x").TotalMilliseconds);
    }

    [Fact]
    public async Task Queue_AddRateLimited_WaitsTheLimiterDelay()
    {
        var time = new FakeTimeProvider();
        using var queue = new RateLimitingQueue<string>(time, new ItemExponentialRateLimiter<string>(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)));

        queue.AddRateLimited("svc");
        Assert.Equal(0, queue.Count);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, queue.Count);
        time.Advance(TimeSpan.FromMilliseconds(1));
        var (ok, item) = await queue.TryTakeAsync(CancellationToken.None);
        Assert.True(ok);
        Assert.Equal("svc", item);
        Assert.Equal(1, queue.NumRequeues("svc"));
        queue.Forget(item);
        queue.Done(item);
        Assert.Equal(0, queue.NumRequeues("svc"));
    }
}
