using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.Sync;

namespace Switchboard.Proxy.Tests.Sync;

public sealed class BoundedFrequencyRunnerTests
{
    private sealed class Harness : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly Task _loop;

        public Harness(TimeSpan min, TimeSpan max, int burst, Action<BoundedFrequencyRunner>? inside = null)
        {
            Runner = new BoundedFrequencyRunner(_ =>
            {
                RunTimes.Add(Time.GetUtcNow());
                inside?.Invoke(Runner!);
                return Task.CompletedTask;
            }, min, max, burst, Time);
            _loop = Task.Run(() => Runner.RunAsync(_cts.Token));
        }

        public FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

        public BoundedFrequencyRunner Runner { get; }

        public List<DateTimeOffset> RunTimes { get; } = [];

        /// <summary>Waits until the loop has handled <paramref name="iterations"/> signals in total (timeout only so a bug cannot hang).</summary>
        public static async Task UntilAsync(Func<bool> condition)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (!condition())
            {
                await Task.Delay(5, cts.Token);
            }
        }

        /// <summary>Requests a run and waits until the loop handled the request.</summary>
        public async Task RunAndSettleAsync()
        {
            var before = Runner.Iterations;
            Runner.Run();
            await UntilAsync(() => Runner.Iterations > before);
        }

        /// <summary>Advances virtual time and waits for the timer tick to be handled when one was due.</summary>
        public async Task AdvanceAsync(TimeSpan by, bool expectTick)
        {
            var before = Runner.Iterations;
            Time.Advance(by);
            if (expectTick)
            {
                await UntilAsync(() => Runner.Iterations > before);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }

            Runner.Dispose();
        }
    }

    [Fact]
    public async Task Run_WithinBurst_RunsImmediately()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 2);
        await h.RunAndSettleAsync();
        await h.RunAndSettleAsync();
        Assert.Equal([h.Time.GetUtcNow(), h.Time.GetUtcNow()], h.RunTimes);
    }

    [Fact]
    public async Task Run_BeyondBurst_DelaysUntilMinInterval()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 1);
        var start = h.Time.GetUtcNow();
        await h.RunAndSettleAsync();
        await h.RunAndSettleAsync();
        Assert.Single(h.RunTimes);

        await h.AdvanceAsync(TimeSpan.FromMilliseconds(999), expectTick: false);
        Assert.Single(h.RunTimes);
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(1), expectTick: true);

        Assert.Equal([start, start.AddSeconds(1)], h.RunTimes);
    }

    [Fact]
    public async Task NoRequests_RunsAtMaxInterval()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), burst: 2);
        await h.RunAndSettleAsync(); // also proves the loop has armed its timer
        await h.AdvanceAsync(TimeSpan.FromMinutes(1), expectTick: true);
        await h.AdvanceAsync(TimeSpan.FromMinutes(1), expectTick: true);
        Assert.Equal(3, h.Runner.Runs);
    }

    [Fact]
    public async Task RetryAfter_SchedulesEarlierRun()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 2);
        await h.RunAndSettleAsync();

        h.Runner.RetryAfter(TimeSpan.FromSeconds(30));
        await h.AdvanceAsync(TimeSpan.FromSeconds(30), expectTick: true);
        Assert.Equal(2, h.Runner.Runs);
    }

    [Fact]
    public async Task RetryAfter_CalledDuringRun_AppliesAfterTheRun()
    {
        var first = true;
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 2, inside: r =>
        {
            if (first)
            {
                first = false;
                r.RetryAfter(TimeSpan.FromSeconds(30)); // a failed sync asks for a retry
            }
        });
        await h.RunAndSettleAsync();

        await h.AdvanceAsync(TimeSpan.FromSeconds(30), expectTick: true);
        Assert.Equal(2, h.Runner.Runs);
    }

    [Fact]
    public void Constructor_MaxBelowMin_Throws()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedFrequencyRunner(() => { }, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 1, TimeProvider.System));
        Assert.Contains("maxInterval", ex.Message);
    }
}
