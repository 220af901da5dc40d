namespace Switchboard.Client.Cache;

/// <summary>
/// Exponential back-off with jitter: the n-th consecutive failure waits min(max, initial * 2^n) scaled down by up to
/// <see cref="Jitter"/>, so many clients restarted together by one API server blip do not retry in lock-step.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max, Random random)
{
    /// <summary>Fraction of the delay removed at random (0.2 → each delay lies in [0.8 d, d]).</summary>
    internal const double Jitter = 0.2;

    private int _failures;

    /// <summary>Delay before the next attempt; each call counts one more failure.</summary>
    public TimeSpan Next()
    {
        // Cap the exponent so the shift cannot overflow; 2^20 * initial is far beyond any sane max.
        var exponent = Math.Min(_failures, 20);
        _failures++;
        var ticks = Math.Min(max.Ticks, initial.Ticks * (1L << exponent));
        return TimeSpan.FromTicks((long)(ticks * (1 - (Jitter * random.NextDouble()))));
    }

    /// <summary>Forgets past failures after a healthy watch.</summary>
    public void Reset() => _failures = 0;
}
