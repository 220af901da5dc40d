using System.Threading.Channels;

namespace Switchboard.Proxy.Sync;

/// <summary>
/// Runs a function no more often than <c>minInterval</c> (with a burst allowance) and at least every
/// <c>maxInterval</c>, whenever <see cref="Run"/> asks (upstream pkg/util/async.BoundedFrequencyRunner). The
/// function always runs on the single loop started by <see cref="RunAsync"/>, never concurrently with itself.
/// All timing comes from the injected <see cref="TimeProvider"/>, so tests drive it with FakeTimeProvider.
/// </summary>
internal sealed class BoundedFrequencyRunner : IDisposable
{
    private readonly Action _fn;
    private readonly TimeSpan _minInterval;
    private readonly TimeSpan _maxInterval;
    private readonly int _burst;
    private readonly TimeProvider _time;
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private DateTimeOffset _timerDue;
    private double _tokens;
    private DateTimeOffset _lastRefill;

    public BoundedFrequencyRunner(Action fn, TimeSpan minInterval, TimeSpan maxInterval, int burstRuns, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(time);
        if (maxInterval < minInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(maxInterval), $"maxInterval ({maxInterval}) must be >= minInterval ({minInterval})");
        }

        if (burstRuns < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(burstRuns), "burstRuns must be at least 1");
        }

        _fn = fn;
        _minInterval = minInterval;
        _maxInterval = maxInterval;
        _burst = burstRuns;
        _time = time;
        _tokens = burstRuns;
        _lastRefill = time.GetUtcNow();
        _timer = time.CreateTimer(_ => _signals.Writer.TryWrite(true), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Number of times the function has run (for tests and metrics).</summary>
    public int Runs { get; private set; }

    /// <summary>Requests a run as soon as the rate limit allows. Never blocks; requests coalesce.</summary>
    public void Run() => _signals.Writer.TryWrite(true);

    /// <summary>Schedules a retry after <paramref name="interval"/> unless a run is already due sooner (after a failed sync).</summary>
    public void RetryAfter(TimeSpan interval)
    {
        lock (_lock)
        {
            var due = _time.GetUtcNow() + interval;
            if (due < _timerDue)
            {
                Arm(interval);
            }
        }
    }

    /// <summary>The loop: waits for requests and timer ticks until cancelled. The first run happens at maxInterval
    /// unless <see cref="Run"/> is called (kube-proxy syncs explicitly once informers have synced).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Arm(_maxInterval);
        }

        var reader = _signals.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            reader.TryRead(out _);
            TryRun();
        }
    }

    public void Dispose() => _timer.Dispose();

    private void TryRun()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (TryAccept(now))
            {
                _fn();
                Runs++;
                Arm(_maxInterval);
                return;
            }

            // Not allowed yet: run when the limiter allows or the timer was due anyway, whichever is sooner.
            var nextPossible = TimeSpan.FromTicks((long)Math.Ceiling((1 - _tokens) * _minInterval.Ticks));
            var nextScheduled = _timerDue - now;
            Arm(nextPossible < nextScheduled ? nextPossible : nextScheduled);
        }
    }

    private bool TryAccept(DateTimeOffset now)
    {
        if (_minInterval <= TimeSpan.Zero)
        {
            return true;
        }

        // Token bucket: refills one token per minInterval, holds at most burst tokens.
        _tokens = Math.Min(_burst, _tokens + ((now - _lastRefill).TotalSeconds / _minInterval.TotalSeconds));
        _lastRefill = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        return false;
    }

    private void Arm(TimeSpan dueIn)
    {
        if (dueIn < TimeSpan.Zero)
        {
            dueIn = TimeSpan.Zero;
        }

        _timerDue = _time.GetUtcNow() + dueIn;
        _timer.Change(dueIn, Timeout.InfiniteTimeSpan);
    }
}
