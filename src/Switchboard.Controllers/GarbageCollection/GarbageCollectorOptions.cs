using Switchboard.Client.Cache;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>Tuning for the <see cref="GarbageCollector"/>; the defaults suit a small cluster.</summary>
internal sealed class GarbageCollectorOptions
{
    /// <summary>Concurrent attempt-to-delete workers (upstream runs 20; ours share two cores with everything else).</summary>
    public int DeleteWorkers { get; init; } = 4;

    /// <summary>Concurrent attempt-to-orphan workers.</summary>
    public int OrphanWorkers { get; init; } = 2;

    /// <summary>Dependents patched at once while orphaning one owner.</summary>
    public int OrphanParallelism { get; init; } = 8;

    /// <summary>First retry delay of a failed item; doubles per failure.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Cap of the per-item retry delay.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Resources (group, plural) not watched, so their objects are never collected and never hold an owner back.
    /// Like upstream, Events: they churn the most, nothing owns through them, and they expire on their own.
    /// </summary>
    public IReadOnlySet<(string Group, string Plural)> IgnoredResources { get; init; } = new HashSet<(string, string)> { ("", "events"), ("events.k8s.io", "events") };

    /// <summary>Settings for the per-kind reflectors; null for the client defaults.</summary>
    public ReflectorOptions? Reflector { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DeleteWorkers, 1, nameof(DeleteWorkers));
        ArgumentOutOfRangeException.ThrowIfLessThan(OrphanWorkers, 1, nameof(OrphanWorkers));
        ArgumentOutOfRangeException.ThrowIfLessThan(OrphanParallelism, 1, nameof(OrphanParallelism));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryBaseDelay, TimeSpan.Zero, nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay, nameof(RetryMaxDelay));
    }
}
