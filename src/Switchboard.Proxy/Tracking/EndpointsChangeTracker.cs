using System.Globalization;
using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tracking;

/// <summary>
/// Accumulates EndpointSlice changes between syncs for one IP family (upstream EndpointsChangeTracker). Slices of
/// the other address type, slices without the service-name label, headless slices and slices that opted out with
/// <c>service-proxy-name</c> are ignored. Thread-safe.
/// </summary>
internal sealed class EndpointsChangeTracker
{
    private readonly Lock _lock = new();
    private readonly EndpointSliceCache _cache;
    private readonly string _addressType;
    private readonly DateTimeOffset _startTime;
    private Dictionary<ServiceName, List<DateTimeOffset>> _triggerTimes = [];

    public EndpointsChangeTracker(string nodeName, IpFamily family, TimeProvider time)
    {
        _cache = new EndpointSliceCache(nodeName);
        Family = family;
        _addressType = family == IpFamily.IPv4 ? "IPv4" : "IPv6";
        _startTime = time.GetUtcNow();
    }

    public IpFamily Family { get; }

    /// <summary>Records a slice add/update (<paramref name="remove"/> false) or delete. True when it changed something.</summary>
    public bool EndpointSliceUpdate(V1EndpointSlice slice, bool remove)
    {
        if (!string.Equals(slice.AddressType, _addressType, StringComparison.Ordinal))
        {
            return false;
        }

        var labels = slice.Metadata?.Labels;
        if (labels is null || !labels.TryGetValue(ProxyLabels.ServiceName, out var svcName) || string.IsNullOrEmpty(svcName))
        {
            return false;
        }

        // A slice that opted out (or became headless) is treated as gone, so one that gains the label is removed.
        if (labels.ContainsKey(ProxyLabels.ServiceProxyName) || labels.ContainsKey(ProxyLabels.Headless))
        {
            remove = true;
        }

        var service = new ServiceName(slice.Metadata!.NamespaceProperty ?? "default", svcName);
        var info = SliceInfo.From(slice, remove);
        lock (_lock)
        {
            var changed = _cache.UpdatePending(service, slice.Metadata.Name ?? "", info);
            if (changed)
            {
                if (remove)
                {
                    // A deleted slice programs nothing new; it has no latency to report.
                    _triggerTimes.Remove(service);
                }
                else if (TriggerTime(slice) is { } t && t > _startTime)
                {
                    if (!_triggerTimes.TryGetValue(service, out var list))
                    {
                        list = [];
                        _triggerTimes[service] = list;
                    }

                    list.Add(t);
                }
            }

            return changed;
        }
    }

    internal (Dictionary<ServiceName, (EndpointsMap Previous, EndpointsMap Current)> Changes, Dictionary<ServiceName, List<DateTimeOffset>> TriggerTimes) Checkout()
    {
        lock (_lock)
        {
            var times = _triggerTimes;
            _triggerTimes = [];
            return (_cache.Checkout(), times);
        }
    }

    private static DateTimeOffset? TriggerTime(V1EndpointSlice slice)
    {
        if (slice.Metadata?.Annotations is { } a && a.TryGetValue(ProxyLabels.LastChangeTriggerTime, out var text) &&
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            return t;
        }

        return null;
    }
}

/// <summary>A UDP endpoint that went away: conntrack entries to it must be deleted.</summary>
internal readonly record struct StaleUdpEndpoint(ServicePortName ServicePort, string Endpoint);

/// <summary>What an <see cref="EndpointsMap.Apply"/> changed (upstream UpdateEndpointsMapResult).</summary>
internal sealed record EndpointsUpdateResult(
    IReadOnlySet<ServiceName> UpdatedServices,
    IReadOnlyList<StaleUdpEndpoint> DeletedUdpEndpoints,
    IReadOnlyList<ServicePortName> NewlyActiveUdpServices,
    IReadOnlyDictionary<ServiceName, List<DateTimeOffset>> LastChangeTriggerTimes);

/// <summary>Endpoints per Service port, sorted by "ip:port" (upstream EndpointsMap). Owned by the sync loop.</summary>
internal sealed class EndpointsMap : Dictionary<ServicePortName, EndpointInfo[]>
{
    public EndpointsUpdateResult Apply(EndpointsChangeTracker tracker)
    {
        var (changes, times) = tracker.Checkout();
        var updated = new HashSet<ServiceName>();
        var deletedUdp = new List<StaleUdpEndpoint>();
        var newlyActive = new List<ServicePortName>();
        foreach (var (service, (previous, current)) in changes)
        {
            updated.Add(service);
            foreach (var spn in previous.Keys)
            {
                Remove(spn);
            }

            foreach (var (spn, eps) in current)
            {
                this[spn] = eps;
            }

            DetectStaleUdp(previous, current, deletedUdp, newlyActive);
        }

        return new EndpointsUpdateResult(updated, deletedUdp, newlyActive, times);
    }

    /// <summary>Number of local ready endpoints per Service, for healthCheckNodePort servers.</summary>
    public Dictionary<ServiceName, int> LocalReadyEndpoints()
    {
        var result = new Dictionary<ServiceName, int>();
        foreach (var (spn, eps) in this)
        {
            var n = 0;
            foreach (var ep in eps)
            {
                if (ep.IsLocal && ep.Ready)
                {
                    n++;
                }
            }

            // Upstream counts per Service, over its ports; ports share endpoints, so the max is the pod count.
            result[spn.Service] = Math.Max(n, result.GetValueOrDefault(spn.Service));
        }

        return result;
    }

    private static void DetectStaleUdp(EndpointsMap previous, EndpointsMap current, List<StaleUdpEndpoint> deleted, List<ServicePortName> newlyActive)
    {
        foreach (var (spn, eps) in previous)
        {
            if (spn.Protocol != "UDP")
            {
                continue;
            }

            current.TryGetValue(spn, out var now);
            foreach (var ep in eps)
            {
                // Traffic only went to serving endpoints, so only they can have conntrack entries.
                if (!ep.Serving)
                {
                    continue;
                }

                var stillServing = false;
                foreach (var n in now ?? [])
                {
                    if (n.Key == ep.Key && n.Serving)
                    {
                        stillServing = true;
                        break;
                    }
                }

                if (!stillServing)
                {
                    deleted.Add(new StaleUdpEndpoint(spn, ep.Key));
                }
            }
        }

        foreach (var (spn, eps) in current)
        {
            // 0 → N endpoints: entries that cached a REJECT for this UDP port must go.
            if (spn.Protocol == "UDP" && eps.Length > 0 && (!previous.TryGetValue(spn, out var before) || before.Length == 0))
            {
                newlyActive.Add(spn);
            }
        }
    }
}
