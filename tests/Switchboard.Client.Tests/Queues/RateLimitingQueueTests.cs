using Switchboard.Client.Queues;

namespace Switchboard.Client.Tests.Queues;

public sealed class RateLimitingQueueTests
{
    private static RateLimitingQueue<string> NewQueue() =>
        new(TimeProvider.System, RateLimiters.WithBase<string>(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), TimeProvider.System));

    [Fact]
    public async Task RunWorkersAsync_FailingKey_IsRetriedUntilItSyncsThenForgotten()
    {
        using var queue = NewQueue();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var attempts = 0;
        var synced = new TaskCompletionSource();
        var failures = new List<string>();
        queue.Add("ns/a");
        var run = queue.RunWorkersAsync(2, (key, _) =>
        {
            if (Interlocked.Increment(ref attempts) < 3)
            {
                throw new InvalidOperationException("boom " + attempts);
            }
            synced.TrySetResult();
            return Task.CompletedTask;
        }, (key, e) =>
        {
            lock (failures)
            {
                failures.Add(key + ": " + e.Message);
            }
            return true;
        }, cts.Token);

        await synced.Task.WaitAsync(cts.Token);
        await cts.CancelAsync();
        await run;

        Assert.Equal(3, attempts);
        Assert.Equal(["ns/a: boom 1", "ns/a: boom 2"], failures);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
    }

    [Fact]
    public async Task RunWorkersAsync_RetryDeclined_DropsTheKey()
    {
        using var queue = NewQueue();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var attempts = new Dictionary<string, int>();
        var second = new TaskCompletionSource();
        queue.Add("bad");
        var run = queue.RunWorkersAsync(1, (key, _) =>
        {
            lock (attempts)
            {
                attempts[key] = attempts.GetValueOrDefault(key) + 1;
            }
            if (key == "bad")
            {
                throw new InvalidOperationException("never");
            }
            second.TrySetResult();
            return Task.CompletedTask;
        }, (_, _) => false, cts.Token);
        // One worker, FIFO: "good" is taken after "bad" failed and was dropped, not requeued.
        queue.Add("good");

        await second.Task.WaitAsync(cts.Token);
        await cts.CancelAsync();
        await run;

        Assert.Equal(1, attempts["bad"]);
        Assert.Equal(0, queue.NumRequeues("bad"));
    }

    [Fact]
    public async Task RunWorkersAsync_ManyWorkers_NeverSyncOneKeyTwiceAtOnce_AndCancellationEndsTheRun()
    {
        using var queue = NewQueue();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var busy = 0;
        var overlaps = 0;
        var done = 0;
        var run = queue.RunWorkersAsync(4, async (_, ct) =>
        {
            if (Interlocked.Increment(ref busy) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }
            await Task.Delay(2, ct);
            Interlocked.Decrement(ref busy);
            Interlocked.Increment(ref done);
        }, (_, _) => true, cts.Token);
        for (var i = 0; i < 50; i++)
        {
            queue.Add("same");
            await Task.Delay(1, cts.Token);
        }
        while (Volatile.Read(ref done) == 0 || queue.Count > 0)
        {
            await Task.Delay(10, cts.Token);
        }

        await cts.CancelAsync();
        await run;

        Assert.Equal(0, overlaps);
        var (ok, _) = await queue.TryTakeAsync(CancellationToken.None);
        Assert.False(ok); // the run shut the queue down
    }
}
