using System.Text;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Metrics;

/// <summary>The per-IP-family series (label <c>ip_family</c>, as kube-proxy v1.33).</summary>
internal sealed class FamilyMetrics
{
    public FamilyMetrics(IpFamily family)
    {
        Family = family;
        Label = family == IpFamily.IPv4 ? "ip_family=\"IPv4\"" : "ip_family=\"IPv6\"";
    }

    public IpFamily Family { get; }

    internal string Label { get; }

    /// <summary>kubeproxy_sync_proxy_rules_duration_seconds: every sync attempt that ran (success or failure).</summary>
    public Histogram SyncDuration { get; } = new(ProxyMetrics.SyncBuckets);

    public Histogram FullSyncDuration { get; } = new(ProxyMetrics.SyncBuckets);

    public Histogram PartialSyncDuration { get; } = new(ProxyMetrics.SyncBuckets);

    public Histogram NetworkProgrammingDuration { get; } = new(ProxyMetrics.NetworkProgrammingBuckets);

    public Gauge LastSyncTimestamp { get; } = new();

    public Gauge LastQueuedTimestamp { get; } = new();

    public Counter SyncFailures { get; } = new();

    public Counter ConntrackDeletedEntries { get; } = new();

    public Histogram ConntrackReconcileDuration { get; } = new(ProxyMetrics.SyncBuckets);

    /// <summary>Successful syncs (not an upstream series; the count of the full + partial histograms).</summary>
    public long SuccessfulSyncs => FullSyncDuration.Count + PartialSyncDuration.Count;
}

/// <summary>
/// kube-proxy's metrics (pkg/proxy/metrics, v1.33 names, types, buckets and labels) for the nftables mode,
/// rendered by hand in the Prometheus text format. Updates are lock-free; <see cref="Render"/> reads a
/// near-consistent view.
/// </summary>
internal sealed class ProxyMetrics
{
    /// <summary>prometheus.ExponentialBuckets(0.001, 2, 15): 1 ms … 16.384 s.</summary>
    internal static readonly double[] SyncBuckets = Exposition.ExponentialBuckets(0.001, 2, 15);

    /// <summary>
    /// Upstream's merge(...) starts from a one-element zero slice, so the bounds are 0, 0.25, 0.5, 1…59, 60…115 by 5,
    /// 120…300 by 30 (81 bounds).
    /// </summary>
    internal static readonly double[] NetworkProgrammingBuckets =
    [
        0,
        .. Exposition.LinearBuckets(0.25, 0.25, 2),
        .. Exposition.LinearBuckets(1, 1, 59),
        .. Exposition.LinearBuckets(60, 5, 12),
        .. Exposition.LinearBuckets(120, 30, 7),
    ];

    private readonly FamilyMetrics[] _families;
    private readonly Counter _healthz200 = new();
    private readonly Counter _healthz503 = new();
    private readonly Counter _livez200 = new();
    private readonly Counter _livez503 = new();

    public ProxyMetrics(IEnumerable<IpFamily> families)
    {
        _families = [.. families.Distinct().Order().Select(f => new FamilyMetrics(f))];
    }

    public IReadOnlyList<FamilyMetrics> Families => _families;

    public Counter ServiceChangesTotal { get; } = new();

    public Counter EndpointChangesTotal { get; } = new();

    /// <summary>Reads the pending Service changes (the trackers own that number); null: series not written.</summary>
    public Func<int>? ServiceChangesPending { get; set; }

    public FamilyMetrics For(IpFamily family)
    {
        foreach (var f in _families)
        {
            if (f.Family == family)
            {
                return f;
            }
        }

        throw new ArgumentException($"no metrics for family {family}", nameof(family));
    }

    /// <summary>Counts a /healthz answer (kubeproxy_proxy_healthz_total{code}).</summary>
    public void HealthzServed(int code) => (code == 200 ? _healthz200 : _healthz503).Inc();

    /// <summary>Counts a /livez answer (kubeproxy_proxy_livez_total{code}).</summary>
    public void LivezServed(int code) => (code == 200 ? _livez200 : _livez503).Inc();

    public string Render()
    {
        var sb = new StringBuilder(16 * 1024);
        PerFamilyHistogram(sb, "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", f => f.SyncDuration);
        PerFamilyHistogram(sb, "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", f => f.FullSyncDuration);
        PerFamilyHistogram(sb, "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", f => f.PartialSyncDuration);
        PerFamilyHistogram(sb, "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", f => f.NetworkProgrammingDuration);
        PerFamilyGauge(sb, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced", f => f.LastSyncTimestamp.Value);
        PerFamilyGauge(sb, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued", f => f.LastQueuedTimestamp.Value);
        PerFamilyCounter(sb, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures", f => f.SyncFailures.Value);
        PerFamilyCounter(sb, "kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler", f => f.ConntrackDeletedEntries.Value);
        PerFamilyHistogram(sb, "kubeproxy_conntrack_reconciler_sync_duration_seconds", "ReconcileConntrackFlowsLatency latency in seconds", f => f.ConntrackReconcileDuration);

        Exposition.Header(sb, "kubeproxy_sync_proxy_rules_service_changes_total", "counter", "Cumulative proxy rules Service changes");
        Exposition.Sample(sb, "kubeproxy_sync_proxy_rules_service_changes_total", "", ServiceChangesTotal.Value);
        if (ServiceChangesPending is { } pending)
        {
            Exposition.Header(sb, "kubeproxy_sync_proxy_rules_service_changes_pending", "gauge", "Pending proxy rules Service changes");
            Exposition.Sample(sb, "kubeproxy_sync_proxy_rules_service_changes_pending", "", pending());
        }

        Exposition.Header(sb, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter", "Cumulative proxy rules Endpoint changes");
        Exposition.Sample(sb, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "", EndpointChangesTotal.Value);

        Exposition.Header(sb, "kubeproxy_proxy_healthz_total", "counter", "Cumulative proxy healthz HTTP status");
        Exposition.Sample(sb, "kubeproxy_proxy_healthz_total", "code=\"200\"", _healthz200.Value);
        Exposition.Sample(sb, "kubeproxy_proxy_healthz_total", "code=\"503\"", _healthz503.Value);
        Exposition.Header(sb, "kubeproxy_proxy_livez_total", "counter", "Cumulative proxy livez HTTP status");
        Exposition.Sample(sb, "kubeproxy_proxy_livez_total", "code=\"200\"", _livez200.Value);
        Exposition.Sample(sb, "kubeproxy_proxy_livez_total", "code=\"503\"", _livez503.Value);
        return sb.ToString();
    }

    private void PerFamilyHistogram(StringBuilder sb, string name, string help, Func<FamilyMetrics, Histogram> pick)
    {
        Exposition.Header(sb, name, "histogram", help);
        foreach (var f in _families)
        {
            pick(f).WriteTo(sb, name, f.Label);
        }
    }

    private void PerFamilyGauge(StringBuilder sb, string name, string help, Func<FamilyMetrics, double> pick)
    {
        Exposition.Header(sb, name, "gauge", help);
        foreach (var f in _families)
        {
            Exposition.Sample(sb, name, f.Label, pick(f));
        }
    }

    private void PerFamilyCounter(StringBuilder sb, string name, string help, Func<FamilyMetrics, long> pick)
    {
        Exposition.Header(sb, name, "counter", help);
        foreach (var f in _families)
        {
            Exposition.Sample(sb, name, f.Label, pick(f));
        }
    }
}
