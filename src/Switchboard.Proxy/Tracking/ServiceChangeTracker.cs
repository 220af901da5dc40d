using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tracking;

/// <summary>
/// Accumulates Service changes between syncs (upstream ServiceChangeTracker): for each Service the state before
/// the first pending change and the state after the last one. A change that returns to the starting state
/// cancels out. Thread-safe: informer threads call <see cref="Update"/>, the sync loop calls
/// <see cref="ServicePortMap.Apply"/>.
/// </summary>
internal sealed class ServiceChangeTracker(IpFamily family)
{
    private readonly Lock _lock = new();
    private Dictionary<ServiceName, ServiceChange> _items = [];

    public IpFamily Family { get; } = family;

    /// <summary>Records add (previous null), update or delete (current null). True when changes are pending.</summary>
    public bool Update(V1Service? previous, V1Service? current)
    {
        var svc = current ?? previous;
        if (svc?.Metadata is null)
        {
            return false;
        }

        var name = new ServiceName(svc.Metadata.NamespaceProperty ?? "default", svc.Metadata.Name ?? "");
        var currentPorts = ServiceConversion.ToServicePorts(current, Family);
        lock (_lock)
        {
            if (!_items.TryGetValue(name, out var change))
            {
                change = new ServiceChange(name, ServiceConversion.ToServicePorts(previous, Family));
                _items[name] = change;
            }

            change.Current = currentPorts;
            if (SamePorts(change.Previous, change.Current))
            {
                _items.Remove(name);
            }

            return _items.Count > 0;
        }
    }

    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    internal Dictionary<ServiceName, ServiceChange> Checkout()
    {
        lock (_lock)
        {
            var items = _items;
            _items = [];
            return items;
        }
    }

    internal static bool SamePorts(Dictionary<ServicePortName, ServicePortInfo> a, Dictionary<ServicePortName, ServicePortInfo> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (k, v) in a)
        {
            if (!b.TryGetValue(k, out var other) || !v.Equals(other))
            {
                return false;
            }
        }

        return true;
    }

    internal sealed class ServiceChange(ServiceName name, Dictionary<ServicePortName, ServicePortInfo> previous)
    {
        public ServiceName Name { get; } = name;

        public Dictionary<ServicePortName, ServicePortInfo> Previous { get; } = previous;

        public Dictionary<ServicePortName, ServicePortInfo> Current { get; set; } = [];
    }
}

/// <summary>What a <see cref="ServicePortMap.Apply"/> changed (upstream UpdateServiceMapResult).</summary>
internal sealed record ServiceUpdateResult(
    IReadOnlySet<ServiceName> UpdatedServices,
    IReadOnlySet<string> DeletedUdpClusterIps);

/// <summary>The current Service ports of one family (upstream ServicePortMap). Owned by the sync loop.</summary>
internal sealed class ServicePortMap : Dictionary<ServicePortName, ServicePortInfo>
{
    /// <summary>Applies every pending change of <paramref name="tracker"/>.</summary>
    public ServiceUpdateResult Apply(ServiceChangeTracker tracker)
    {
        var updated = new HashSet<ServiceName>();
        var deletedUdp = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, change) in tracker.Checkout())
        {
            updated.Add(name);
            foreach (var (spn, info) in change.Current)
            {
                this[spn] = info;
            }

            foreach (var (spn, _) in change.Previous)
            {
                if (change.Current.ContainsKey(spn))
                {
                    continue;
                }

                if (Remove(spn, out var removed) && removed.Protocol == "UDP")
                {
                    // Conntrack entries to a removed UDP ClusterIP must be flushed or clients stay blackholed.
                    deletedUdp.Add(removed.ClusterIP.ToString());
                }
            }
        }

        return new ServiceUpdateResult(updated, deletedUdp);
    }

    /// <summary>healthCheckNodePort per eTP=Local LoadBalancer Service (upstream HealthCheckNodePorts).</summary>
    public Dictionary<ServiceName, int> HealthCheckNodePorts()
    {
        var result = new Dictionary<ServiceName, int>();
        foreach (var (spn, info) in this)
        {
            if (info.HealthCheckNodePort != 0)
            {
                result[spn.Service] = info.HealthCheckNodePort;
            }
        }

        return result;
    }
}
