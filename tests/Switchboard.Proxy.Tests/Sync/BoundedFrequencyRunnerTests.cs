using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.Sync;

namespace Switchboard.Proxy.Tests.Sync;

public sealed class BoundedFrequencyRunnerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private sealed class Harness : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly Task _loop;
        private readonly SemaphoreSlim _ran = new(0);

        public Harness(TimeSpan min, TimeSpan max, int burst)
        {
            Runner = new BoundedFrequencyRunner(() =>
            {
                RunTimes.Add(Time.GetUtcNow());
                _ran.Release();
            }, min, max, burst, Time);
            _loop = Task.Run(() => Runner.RunAsync(_cts.Token));
        }

        public FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

        public BoundedFrequencyRunner Runner { get; }

        public List<DateTimeOffset> RunTimes { get; } = [];

        public async Task WaitRunAsync() => Assert.True(await _ran.WaitAsync(Wait), "the runner did not run");

        public async Task AssertNoRunAsync()
        {
            // Let the loop drain what it was given; a run would have happened synchronously after the signal.
            await Task.Delay(50);
            Assert.Equal(0, _ran.CurrentCount);
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
        h.Runner.Run();
        await h.WaitRunAsync();
        h.Runner.Run();
        await h.WaitRunAsync();
        Assert.Equal([h.Time.GetUtcNow(), h.Time.GetUtcNow()], h.RunTimes);
    }

    [Fact]
    public async Task Run_BeyondBurst_DelaysUntilMinInterval()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 1);
        var start = h.Time.GetUtcNow();
        h.Runner.Run();
        await h.WaitRunAsync();

        h.Runner.Run();
        await h.AssertNoRunAsync();
        h.Time.Advance(TimeSpan.FromMilliseconds(999));
        await h.AssertNoRunAsync();
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        await h.WaitRunAsync();

        Assert.Equal([start, start.AddSeconds(1)], h.RunTimes);
    }

    [Fact]
    public async Task NoRequests_RunsAtMaxInterval()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), burst: 2);
        await Task.Delay(50); // let the loop arm its timer
        h.Time.Advance(TimeSpan.FromMinutes(1));
        await h.WaitRunAsync();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        await h.WaitRunAsync();
        Assert.Equal(2, h.Runner.Runs);
    }

    [Fact]
    public async Task RetryAfter_SchedulesEarlierRun()
    {
        await using var h = new Harness(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), burst: 2);
        h.Runner.Run();
        await h.WaitRunAsync();

        h.Runner.RetryAfter(TimeSpan.FromSeconds(30));
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await h.WaitRunAsync();
        Assert.Equal(2, h.Runner.Runs);
    }

    [Fact]
    public void Constructor_MaxBelowMin_Throws()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedFrequencyRunner(() => { }, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 1, TimeProvider.System));
        Assert.Contains("maxInterval", ex.Message);
    }
}
