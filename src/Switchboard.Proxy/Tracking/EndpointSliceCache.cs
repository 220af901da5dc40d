using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tracking;

/// <summary>One EndpointSlice port, cut down.</summary>
internal readonly record struct SlicePort(string Name, int Port, string Protocol);

/// <summary>One EndpointSlice endpoint, cut down (only the first address counts, as upstream).</summary>
internal sealed record SliceEndpoint(
    string Ip,
    string? NodeName,
    bool Ready,
    bool Serving,
    bool Terminating,
    ValueArray<string> ZoneHints,
    ValueArray<string> NodeHints);

/// <summary>The part of an EndpointSlice the proxy keeps (upstream endpointSliceData/endpointSliceInfo).</summary>
internal sealed record SliceInfo(ValueArray<SlicePort> Ports, ValueArray<SliceEndpoint> Endpoints, bool Remove)
{
    public static SliceInfo From(V1EndpointSlice slice, bool remove)
    {
        var ports = new List<SlicePort>(slice.Ports?.Count ?? 0);
        foreach (var p in slice.Ports ?? [])
        {
            // A port without a number means "all ports", which kube-proxy cannot program.
            if (p.Port is null)
            {
                continue;
            }

            ports.Add(new SlicePort(p.Name ?? "", p.Port.Value, string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol));
        }

        var endpoints = new List<SliceEndpoint>(slice.Endpoints?.Count ?? 0);
        foreach (var e in slice.Endpoints ?? [])
        {
            if (e.Addresses is not { Count: > 0 })
            {
                continue;
            }

            var ip = IpFamilyExtensions.ParseIp(e.Addresses[0]);
            if (ip is null)
            {
                continue;
            }

            var ready = e.Conditions?.Ready ?? true;

            // The decoded string when it is already canonical: one copy per endpoint instead of two (10^5 at scale).
            var canonical = ip.ToString();
            endpoints.Add(new SliceEndpoint(
                string.Equals(canonical, e.Addresses[0], StringComparison.Ordinal) ? e.Addresses[0] : canonical,
                e.NodeName,
                ready,
                e.Conditions?.Serving ?? ready,
                e.Conditions?.Terminating ?? false,
                Names(e.Hints?.ForZones?.Select(z => z.Name)),
                Names(e.Hints?.ForNodes?.Select(n => n.Name))));
        }

        endpoints.Sort(static (a, b) => string.CompareOrdinal(a.Ip, b.Ip));
        return new SliceInfo(new ValueArray<SlicePort>([.. ports]), new ValueArray<SliceEndpoint>([.. endpoints]), remove);
    }

    private static ValueArray<string> Names(IEnumerable<string?>? names)
    {
        if (names is null)
        {
            return default;
        }

        var list = new List<string>();
        foreach (var n in names)
        {
            if (!string.IsNullOrEmpty(n) && !list.Contains(n))
            {
                list.Add(n);
            }
        }

        list.Sort(StringComparer.Ordinal);
        return new ValueArray<string>([.. list]);
    }
}

/// <summary>
/// Applied and pending EndpointSlices per Service (upstream EndpointSliceCache). Merges slices into per-port
/// endpoint lists, de-duplicating endpoints that appear in two slices while they move.
/// </summary>
internal sealed class EndpointSliceCache(string nodeName)
{
    private readonly Dictionary<ServiceName, Tracker> _trackers = [];

    public string NodeName { get; } = nodeName;

    /// <summary>Records a slice as pending; false when it changes nothing.</summary>
    public bool UpdatePending(ServiceName service, string sliceName, SliceInfo info)
    {
        if (!_trackers.TryGetValue(service, out var tracker))
        {
            tracker = new Tracker();
            _trackers[service] = tracker;
        }

        bool changed;
        if (tracker.Pending.TryGetValue(sliceName, out var pending))
        {
            changed = !pending.Equals(info);
        }
        else if (tracker.Applied.TryGetValue(sliceName, out var applied))
        {
            changed = !applied.Equals(info);
        }
        else
        {
            // Removing a slice we never applied changes nothing.
            changed = !info.Remove;
        }

        if (changed)
        {
            tracker.Pending[sliceName] = info;
        }

        return changed;
    }

    public bool HasPending(ServiceName service) => _trackers.TryGetValue(service, out var t) && t.Pending.Count > 0;

    /// <summary>Moves pending slices to applied and returns (previous, current) endpoints for each changed Service.</summary>
    public Dictionary<ServiceName, (EndpointsMap Previous, EndpointsMap Current)> Checkout()
    {
        var result = new Dictionary<ServiceName, (EndpointsMap, EndpointsMap)>();
        List<ServiceName>? emptied = null;
        foreach (var (service, tracker) in _trackers)
        {
            if (tracker.Pending.Count == 0)
            {
                continue;
            }

            var previous = BuildMap(service, tracker.Applied);
            foreach (var (sliceName, info) in tracker.Pending)
            {
                if (info.Remove)
                {
                    tracker.Applied.Remove(sliceName);
                }
                else
                {
                    tracker.Applied[sliceName] = info;
                }
            }

            tracker.Pending.Clear();
            var current = BuildMap(service, tracker.Applied);
            result[service] = (previous, current);
            if (tracker.Applied.Count == 0)
            {
                (emptied ??= []).Add(service);
            }
        }

        foreach (var s in emptied ?? [])
        {
            _trackers.Remove(s);
        }

        return result;
    }

    private EndpointsMap BuildMap(ServiceName service, Dictionary<string, SliceInfo> slices)
    {
        var byPort = new Dictionary<ServicePortName, Dictionary<string, EndpointInfo>>();
        var names = new List<string>(slices.Keys);
        names.Sort(StringComparer.Ordinal);
        foreach (var sliceName in names)
        {
            var slice = slices[sliceName];
            foreach (var port in slice.Ports)
            {
                var spn = new ServicePortName(service, port.Name, port.Protocol);
                if (!byPort.TryGetValue(spn, out var set))
                {
                    set = new Dictionary<string, EndpointInfo>(StringComparer.Ordinal);
                    byPort[spn] = set;
                }

                foreach (var e in slice.Endpoints)
                {
                    var isLocal = e.NodeName is not null && string.Equals(e.NodeName, NodeName, StringComparison.Ordinal);
                    var ep = new EndpointInfo(e.Ip, port.Port, isLocal, e.Ready, e.Serving, e.Terminating, e.ZoneHints, e.NodeHints);

                    // Duplicates across slices: keep the first, unless a later copy says it is local (upstream).
                    if (!set.ContainsKey(ep.Key) || isLocal)
                    {
                        set[ep.Key] = ep;
                    }
                }
            }
        }

        var map = new EndpointsMap();
        foreach (var (spn, set) in byPort)
        {
            if (set.Count == 0)
            {
                continue;
            }

            var list = new EndpointInfo[set.Count];
            set.Values.CopyTo(list, 0);

            // Deterministic order keeps numgen indexes and rule text stable between syncs.
            Array.Sort(list, EndpointInfo.Compare);
            map[spn] = list;
        }

        return map;
    }

    private sealed class Tracker
    {
        public Dictionary<string, SliceInfo> Applied { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, SliceInfo> Pending { get; } = new(StringComparer.Ordinal);
    }
}
