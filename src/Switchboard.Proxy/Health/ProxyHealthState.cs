using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Health;

/// <summary>Health of one single-family proxier.</summary>
internal sealed record ProxierHealth(DateTimeOffset LastUpdated, bool Healthy);

/// <summary>A point-in-time view of the proxy's health (upstream ProxyHealth).</summary>
internal sealed record ProxyHealthSnapshot(
    bool Healthy,
    DateTimeOffset LastUpdated,
    DateTimeOffset CurrentTime,
    IReadOnlyDictionary<IpFamily, ProxierHealth> Status);

/// <summary>
/// kube-proxy's ProxyHealthServer state (pkg/proxy/healthcheck/proxy_health.go): each family's proxier reports
/// <see cref="QueuedUpdate"/> when a change asks for a sync and <see cref="Updated"/> after a successful one; the
/// proxy is unhealthy when some family has had an update queued for <c>healthTimeout</c> (kube-proxy:
/// 2 × syncPeriod) without a successful sync. The Node is eligible unless it has a deletionTimestamp or the taint
/// <c>ToBeDeletedByClusterAutoscaler</c>; eligibility only affects <c>/healthz</c>. Thread-safe.
/// </summary>
internal sealed class ProxyHealthState(TimeProvider time, TimeSpan healthTimeout)
{
    public const string ToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler";

    private readonly Lock _lock = new();
    private readonly Dictionary<IpFamily, DateTimeOffset> _lastUpdated = [];
    private readonly Dictionary<IpFamily, DateTimeOffset> _oldestPendingQueued = [];

    // Eligible while starting, until a Node event says otherwise (as v1.33's SyncNode).
    private bool _nodeEligible = true;

    public TimeProvider Time { get; } = time;

    public TimeSpan HealthTimeout { get; } = healthTimeout;

    public bool NodeEligible
    {
        get
        {
            lock (_lock)
            {
                return _nodeEligible;
            }
        }
    }

    public bool IsHealthy => Health().Healthy;

    public void Updated(IpFamily family)
    {
        lock (_lock)
        {
            _oldestPendingQueued.Remove(family);
            _lastUpdated[family] = Time.GetUtcNow();
        }
    }

    public void QueuedUpdate(IpFamily family)
    {
        lock (_lock)
        {
            _oldestPendingQueued.TryAdd(family, Time.GetUtcNow());
        }
    }

    /// <summary>The own Node changed (null: it was deleted).</summary>
    public void SyncNode(V1Node? node)
    {
        var eligible = node is not null
            && node.Metadata?.DeletionTimestamp is null
            && !(node.Spec?.Taints?.Any(t => t.Key == ToBeDeletedTaint) ?? false);
        lock (_lock)
        {
            _nodeEligible = eligible;
        }
    }

    public ProxyHealthSnapshot Health()
    {
        lock (_lock)
        {
            var now = Time.GetUtcNow();
            var healthy = true;
            var lastUpdated = DateTimeOffset.MinValue;
            var status = new Dictionary<IpFamily, ProxierHealth>();
            foreach (var (family, updated) in _lastUpdated)
            {
                if (updated > lastUpdated)
                {
                    lastUpdated = updated;
                }

                // Healthy while starting up or fully synced, or when the queued update is not late yet.
                var familyHealthy = !_oldestPendingQueued.TryGetValue(family, out var queued) || now - queued < HealthTimeout;
                healthy &= familyHealthy;
                status[family] = new ProxierHealth(updated, familyHealthy);
            }

            return new ProxyHealthSnapshot(healthy, lastUpdated, now, status);
        }
    }
}
