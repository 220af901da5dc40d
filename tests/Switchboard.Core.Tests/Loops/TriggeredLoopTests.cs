using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Core.Loops;

namespace Switchboard.Core.Tests.Loops;

public sealed class TriggeredLoopTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Trigger_RunsAPassBeforeTheInterval_AndTheIntervalRunsTheNext()
    {
        var time = new FakeTimeProvider();
        var passes = Channel.CreateUnbounded<DateTimeOffset>();
        await using var loop = new TriggeredLoop(time, TimeSpan.FromSeconds(10), _ =>
        {
            passes.Writer.TryWrite(time.GetUtcNow());
            return Task.FromResult(false);
        }, e => Assert.Fail(e.ToString()));
        var start = time.GetUtcNow();
        loop.Start();

        loop.Trigger();
        Assert.Equal(start, await passes.Reader.ReadAsync().AsTask().WaitAsync(Wait));

        await AdvanceUntilAsync(time, passes.Reader);
        Assert.Equal(start + TimeSpan.FromSeconds(10), (await passes.Reader.ReadAsync().AsTask().WaitAsync(Wait)));
    }

    [Fact]
    public async Task Settle_FoldsABurstOfTriggersIntoOnePass()
    {
        var time = new FakeTimeProvider();
        var count = 0;
        var passed = new SemaphoreSlim(0);
        await using var loop = new TriggeredLoop(time, TimeSpan.FromHours(1), _ =>
        {
            Interlocked.Increment(ref count);
            passed.Release();
            return Task.FromResult(false);
        }, e => Assert.Fail(e.ToString()), settle: TimeSpan.FromSeconds(1));
        loop.Start();

        loop.Trigger();
        loop.Trigger();
        loop.Trigger();
        while (!await passed.WaitAsync(10))
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
        }

        Assert.Equal(1, count);
    }

    [Fact]
    public async Task APassAskingToLookAgain_RunsAfterSoon_AndAFailureDoesNotStopTheLoop()
    {
        var time = new FakeTimeProvider();
        var passes = Channel.CreateUnbounded<DateTimeOffset>();
        var failures = new List<string>();
        var n = 0;
        await using var loop = new TriggeredLoop(time, TimeSpan.FromMinutes(5), _ =>
        {
            passes.Writer.TryWrite(time.GetUtcNow());
            return ++n switch
            {
                1 => Task.FromResult(true),
                2 => throw new InvalidOperationException("pass failed"),
                _ => Task.FromResult(false),
            };
        }, e => failures.Add(e.Message), soon: TimeSpan.FromMilliseconds(100));
        var start = time.GetUtcNow();
        loop.Start();

        loop.Trigger();
        Assert.Equal(start, await passes.Reader.ReadAsync().AsTask().WaitAsync(Wait));
        await AdvanceUntilAsync(time, passes.Reader, TimeSpan.FromMilliseconds(50));
        Assert.Equal(start + TimeSpan.FromMilliseconds(100), await passes.Reader.ReadAsync().AsTask().WaitAsync(Wait));
        await AdvanceUntilAsync(time, passes.Reader, TimeSpan.FromMinutes(1));
        Assert.Equal(start + TimeSpan.FromMilliseconds(100) + TimeSpan.FromMinutes(5), await passes.Reader.ReadAsync().AsTask().WaitAsync(Wait));

        Assert.Equal(["pass failed"], failures);
    }

    [Fact]
    public async Task DisposeAsync_StopsTheLoop_AndIsIdempotent()
    {
        var time = new FakeTimeProvider();
        var count = 0;
        var loop = new TriggeredLoop(time, TimeSpan.FromSeconds(1), _ =>
        {
            Interlocked.Increment(ref count);
            return Task.FromResult(false);
        }, _ => { });
        loop.Start();
        await loop.DisposeAsync();
        await loop.DisposeAsync();
        var before = Volatile.Read(ref count);

        time.Advance(TimeSpan.FromSeconds(10));
        loop.Trigger();

        Assert.Equal(before, Volatile.Read(ref count));
    }

    private static async Task AdvanceUntilAsync(FakeTimeProvider time, ChannelReader<DateTimeOffset> passes, TimeSpan? step = null)
    {
        using var cts = new CancellationTokenSource(Wait);
        while (!passes.TryPeek(out _))
        {
            time.Advance(step ?? TimeSpan.FromSeconds(1));
            await Task.Delay(5, cts.Token);
        }
    }
}
