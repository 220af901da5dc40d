namespace Switchboard.Client.Queues;

/// <summary>Decides how long a failed item waits before it is retried (client-go's workqueue.RateLimiter).</summary>
public interface IRateLimiter<in T>
    where T : notnull
{
    /// <summary>Delay before the item's next attempt; counts one more failure.</summary>
    TimeSpan When(T item);

    /// <summary>Forgets the item's failures after a success.</summary>
    void Forget(T item);

    /// <summary>Failures counted for the item since it was last forgotten.</summary>
    int NumRequeues(T item);
}

/// <summary>Per-item exponential back-off: base · 2^failures, capped at max.</summary>
public sealed class ItemExponentialRateLimiter<T>(TimeSpan baseDelay, TimeSpan maxDelay) : IRateLimiter<T>
    where T : notnull
{
    private readonly Lock _lock = new();
    private readonly Dictionary<T, int> _failures = [];

    public TimeSpan When(T item)
    {
        int failures;
        lock (_lock)
        {
            _failures.TryGetValue(item, out failures);
            _failures[item] = failures + 1;
        }
        var ticks = baseDelay.Ticks * Math.Pow(2, Math.Min(failures, 62));
        return ticks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)ticks);
    }

    public void Forget(T item)
    {
        lock (_lock)
        {
            _failures.Remove(item);
        }
    }

    public int NumRequeues(T item)
    {
        lock (_lock)
        {
            return _failures.GetValueOrDefault(item);
        }
    }
}

/// <summary>
/// An overall token bucket (golang.org/x/time/rate reservations): <c>qps</c> tokens a second, at most <c>burst</c>
/// banked. Each retry takes a token, waiting for it if the bucket is empty, so a storm of failures across many
/// items cannot hammer the API server. Not per item.
/// </summary>
public sealed class BucketRateLimiter<T> : IRateLimiter<T>
    where T : notnull
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _qps;
    private readonly double _burst;
    private double _tokens;
    private long _last;

    public BucketRateLimiter(double qps, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(qps, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentNullException.ThrowIfNull(time);
        _qps = qps;
        _burst = burst;
        _tokens = burst;
        _time = time;
        _last = time.GetTimestamp();
    }

    public TimeSpan When(T item)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _qps));
            _last = now;
            _tokens -= 1;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _qps);
        }
    }

    public void Forget(T item)
    {
    }

    public int NumRequeues(T item) => 0;
}

/// <summary>The longest delay of several limiters (client-go's MaxOfRateLimiter).</summary>
public sealed class MaxOfRateLimiter<T>(params IRateLimiter<T>[] limiters) : IRateLimiter<T>
    where T : notnull
{
    public TimeSpan When(T item)
    {
        var max = TimeSpan.Zero;
        foreach (var limiter in limiters)
        {
            var d = limiter.When(item);
            if (d > max)
            {
                max = d;
            }
        }
        return max;
    }

    public void Forget(T item)
    {
        foreach (var limiter in limiters)
        {
            limiter.Forget(item);
        }
    }

    public int NumRequeues(T item)
    {
        var max = 0;
        foreach (var limiter in limiters)
        {
            max = Math.Max(max, limiter.NumRequeues(item));
        }
        return max;
    }
}

/// <summary>Stock limiters.</summary>
public static class RateLimiters
{
    /// <summary>client-go's DefaultControllerRateLimiter: max(5 ms · 2^n up to 1000 s, 10 qps with a burst of 100).</summary>
    public static IRateLimiter<T> DefaultController<T>(TimeProvider time)
        where T : notnull => WithBase<T>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000), time);

    /// <summary>The default controller limiter with another per-item base and cap (the EndpointSlice controller uses 1 s).</summary>
    public static IRateLimiter<T> WithBase<T>(TimeSpan baseDelay, TimeSpan maxDelay, TimeProvider time)
        where T : notnull =>
        new MaxOfRateLimiter<T>(new ItemExponentialRateLimiter<T>(baseDelay, maxDelay), new BucketRateLimiter<T>(10, 100, time));
}
