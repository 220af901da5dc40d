namespace Switchboard.Controllers.EndpointSlices;

/// <summary>Tuning for the EndpointSlice controller; defaults follow kube-controller-manager v1.33.</summary>
public sealed class EndpointSliceControllerOptions
{
    /// <summary>--max-endpoints-per-slice (1..1000).</summary>
    public int MaxEndpointsPerSlice { get; set; } = 100;

    /// <summary>
    /// --concurrent-service-endpoint-syncs. Upstream's default is 5; here 32, because each write waits for a SQLite
    /// group commit (one fsync, ~10 ms) and only concurrent writes share a commit: with 5 workers a cold start of
    /// 10,000 Services takes ~30 s, with 32 it meets the 20 s target (bench/Switchboard.Bench endpointslices).
    /// </summary>
    public int Workers { get; set; } = 32;

    /// <summary>--endpointslice-updates-batch-period: delay added to syncs triggered by pod changes (0 = none).</summary>
    public TimeSpan EndpointUpdatesBatchPeriod { get; set; } = TimeSpan.Zero;

    /// <summary>Delay before a sync triggered by a change to a slice (upstream endpointSliceChangeMinSyncDelay).</summary>
    public TimeSpan SliceChangeMinSyncDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>First retry delay of a failed sync (upstream defaultSyncBackOff, far above client-go's 5 ms).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest retry delay (upstream maxSyncBackOff).</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(1000);

    /// <summary>Failed syncs of one Service before it is dropped until its next change.</summary>
    public int MaxRetries { get; set; } = 15;

    /// <summary>
    /// Accept trafficDistribution PreferSameZone and PreferSameNode (feature gate PreferSameTrafficDistribution:
    /// alpha in v1.33, beta and on by default from v1.34). PreferClose is always accepted.
    /// </summary>
    public bool PreferSameTrafficDistribution { get; set; } = true;

    /// <summary>Topology Aware Routing for the topology-mode annotation (feature gate TopologyAwareHints, on since v1.24).</summary>
    public bool TopologyAwareHints { get; set; } = true;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEndpointsPerSlice, 1, nameof(MaxEndpointsPerSlice));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxEndpointsPerSlice, 1000, nameof(MaxEndpointsPerSlice));
        ArgumentOutOfRangeException.ThrowIfLessThan(Workers, 1, nameof(Workers));
        ArgumentOutOfRangeException.ThrowIfLessThan(EndpointUpdatesBatchPeriod, TimeSpan.Zero, nameof(EndpointUpdatesBatchPeriod));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryBaseDelay, TimeSpan.Zero, nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay, nameof(RetryMaxDelay));
    }
}
