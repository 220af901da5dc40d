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
    private readonly Func<CancellationToken, Task> _fn;
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
    private DateTimeOffset _timerDue = DateTimeOffset.MaxValue;
    private double _tokens;
    private DateTimeOffset _lastRefill;
    private TimeSpan? _retryDuringRun;
    private bool _running;
    private int _runs;
    private int _iterations;

    public BoundedFrequencyRunner(Action fn, TimeSpan minInterval, TimeSpan maxInterval, int burstRuns, TimeProvider time)
        : this(WrapAction(fn), minInterval, maxInterval, burstRuns, time)
    {
    }

    public BoundedFrequencyRunner(Func<CancellationToken, Task> fn, TimeSpan minInterval, TimeSpan maxInterval, int burstRuns, TimeProvider time)
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
    public int Runs => Volatile.Read(ref _runs);

    /// <summary>Signals (requests and timer ticks) the loop has fully handled, timer re-armed (tests wait on it).</summary>
    internal int Iterations => Volatile.Read(ref _iterations);

    /// <summary>Requests a run as soon as the rate limit allows. Never blocks; requests coalesce.</summary>
    public void Run() => _signals.Writer.TryWrite(true);

    /// <summary>Schedules a run after <paramref name="interval"/> unless one is already due sooner (after a failed sync).</summary>
    public void RetryAfter(TimeSpan interval)
    {
        lock (_lock)
        {
            if (_running)
            {
                // Called from inside the function: applied after the run re-arms the timer (upstream's retry channel).
                _retryDuringRun = _retryDuringRun is { } r && r < interval ? r : interval;
                return;
            }

            if (_time.GetUtcNow() + interval < _timerDue)
            {
                Arm(interval);
            }
        }
    }

    /// <summary>The loop: waits for requests and timer ticks until cancelled. Without requests the first run is at maxInterval.</summary>
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
            await TryRunAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _iterations);
        }
    }

    public void Dispose() => _timer.Dispose();

    private static Func<CancellationToken, Task> WrapAction(Action fn)
    {
        ArgumentNullException.ThrowIfNull(fn);
        return _ =>
        {
            fn();
            return Task.CompletedTask;
        };
    }

    private async Task TryRunAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (!TryAccept(now))
            {
                // Not allowed yet: run when the limiter allows or when the timer was due anyway, whichever is sooner.
                var nextPossible = TimeSpan.FromTicks((long)Math.Ceiling((1 - _tokens) * _minInterval.Ticks));
                var nextScheduled = _timerDue - now;
                Arm(nextPossible < nextScheduled ? nextPossible : nextScheduled);
                return;
            }

            _running = true;
        }

        try
        {
            await _fn(ct).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _running = false;
                var next = _maxInterval;
                if (_retryDuringRun is { } retry && retry < next)
                {
                    next = retry;
                }

                _retryDuringRun = null;
                Arm(next);
                Interlocked.Increment(ref _runs);
            }
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
