namespace Switchboard.Client.Cache;

/// <summary>Tuning for a <see cref="Reflector{T}"/>; the defaults follow client-go.</summary>
public sealed class ReflectorOptions
{
    /// <summary>Objects per list page (<c>limit</c>); the rest follows with <c>continue</c>.</summary>
    public int PageSize { get; set; } = 500;

    /// <summary>Lower bound of the random per-watch <c>timeoutSeconds</c>.</summary>
    public TimeSpan MinWatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Upper bound of the random per-watch <c>timeoutSeconds</c>.</summary>
    public TimeSpan MaxWatchTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>First back-off delay after a failed list or watch.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(800);

    /// <summary>Largest back-off delay; consecutive failures double the delay up to this.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>List through a streaming watch (<c>sendInitialEvents=true</c>) instead of paginated GETs.</summary>
    public bool UseStreamingList { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(PageSize, 1, nameof(PageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinWatchTimeout, TimeSpan.FromSeconds(1), nameof(MinWatchTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWatchTimeout, MinWatchTimeout, nameof(MaxWatchTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(InitialBackoff, TimeSpan.Zero, nameof(InitialBackoff));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, InitialBackoff, nameof(MaxBackoff));
    }
}
