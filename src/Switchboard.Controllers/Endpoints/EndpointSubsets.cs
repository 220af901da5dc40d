using k8s.Models;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Endpoints;

/// <summary>
/// The canonical form of core/v1 Endpoints subsets (upstream pkg/api/v1/endpoints RepackSubsets) and the
/// comparisons the Endpoints controller needs. Every (address, port) pair is expanded, addresses are de-duplicated
/// by IP and target uid (not-ready wins over ready), ports offered by exactly the same addresses are grouped into
/// one subset, and everything is sorted, so equal contents compare equal.
/// </summary>
internal static class EndpointSubsets
{
    /// <summary>Maximum addresses kept in one Endpoints object; beyond it the controller truncates.</summary>
    public const int MaxCapacity = 1000;

    public const string AnnotationOverCapacity = "endpoints.kubernetes.io/over-capacity";

    /// <summary>One pod address for one port (null port: a headless Service without ports).</summary>
    public readonly record struct Entry(V1EndpointAddress Address, Corev1EndpointPort? Port, bool Ready);

    public static List<V1EndpointSubset> Repack(IEnumerable<Entry> entries)
    {
        var addresses = new Dictionary<(string?, string?), V1EndpointAddress>();
        var portOrder = new List<PortKey>();
        var byPort = new Dictionary<PortKey, Dictionary<V1EndpointAddress, bool>>();
        foreach (var e in entries)
        {
            var addrKey = (e.Address.Ip, e.Address.TargetRef?.Uid);
            if (!addresses.TryGetValue(addrKey, out var address))
            {
                address = e.Address;
                addresses[addrKey] = address;
            }
            var portKey = PortKey.Of(e.Port);
            if (!byPort.TryGetValue(portKey, out var set))
            {
                set = new Dictionary<V1EndpointAddress, bool>(ReferenceEqualityComparer.Instance);
                byPort[portKey] = set;
                portOrder.Add(portKey);
            }
            // Not ready trumps ready.
            if (!set.TryGetValue(address, out var wasReady) || wasReady)
            {
                set[address] = e.Ready;
            }
        }

        // Ports served by the same (address, ready) set share a subset.
        var groups = new Dictionary<string, (List<PortKey> Ports, Dictionary<V1EndpointAddress, bool> Addresses)>(StringComparer.Ordinal);
        var groupOrder = new List<string>();
        foreach (var port in portOrder)
        {
            var set = byPort[port];
            var signature = string.Join(";", set.Select(kv => $"{kv.Key.Ip}/{kv.Key.TargetRef?.Uid}/{kv.Value}").Order(StringComparer.Ordinal));
            if (!groups.TryGetValue(signature, out var group))
            {
                group = ([], set);
                groups[signature] = group;
                groupOrder.Add(signature);
            }
            group.Ports.Add(port);
        }

        var result = new List<V1EndpointSubset>(groups.Count);
        foreach (var signature in groupOrder)
        {
            var (ports, set) = groups[signature];
            var ready = set.Where(kv => kv.Value).Select(kv => kv.Key).ToList();
            var notReady = set.Where(kv => !kv.Value).Select(kv => kv.Key).ToList();
            ready.Sort(CompareAddress);
            notReady.Sort(CompareAddress);
            var portList = ports.Where(p => !p.None).OrderBy(p => p).Select(p => p.ToPort()).ToList();
            result.Add(new V1EndpointSubset
            {
                Addresses = ready.Count == 0 ? null : ready,
                NotReadyAddresses = notReady.Count == 0 ? null : notReady,
                Ports = portList.Count == 0 ? null : portList,
            });
        }
        result.Sort((a, b) => string.CompareOrdinal(SortKey(a), SortKey(b)));
        return result;
    }

    /// <summary>Upstream LessEndpointAddress: by IP (bytes of the string), then target uid; no target sorts first.</summary>
    public static int CompareAddress(V1EndpointAddress a, V1EndpointAddress b)
    {
        var c = string.CompareOrdinal(a.Ip, b.Ip);
        if (c != 0)
        {
            return c;
        }
        if (a.TargetRef is null || b.TargetRef is null)
        {
            return (a.TargetRef is null ? 0 : 1) - (b.TargetRef is null ? 0 : 1);
        }
        return string.CompareOrdinal(a.TargetRef.Uid, b.TargetRef.Uid);
    }

    private static string SortKey(V1EndpointSubset s)
    {
        var first = s.Addresses?.FirstOrDefault() ?? s.NotReadyAddresses?.FirstOrDefault();
        var ports = s.Ports is null ? "" : string.Join(",", s.Ports.Select(p => $"{p.Name}/{p.Port}/{p.Protocol}"));
        return $"{first?.Ip}\u0001{first?.TargetRef?.Uid}\u0001{ports}";
    }

    /// <summary>Semantic equality of subsets (null equal to empty), ignoring the targets' resourceVersion.</summary>
    public static bool Equal(IList<V1EndpointSubset>? a, IList<V1EndpointSubset>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        for (var i = 0; i < (a?.Count ?? 0); i++)
        {
            var x = a![i];
            var y = b![i];
            if (!AddressesEqual(x.Addresses, y.Addresses) || !AddressesEqual(x.NotReadyAddresses, y.NotReadyAddresses) || !PortsEqual(x.Ports, y.Ports))
            {
                return false;
            }
        }
        return true;
    }

    private static bool AddressesEqual(IList<V1EndpointAddress>? a, IList<V1EndpointAddress>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        for (var i = 0; i < (a?.Count ?? 0); i++)
        {
            var x = a![i];
            var y = b![i];
            if (x.Ip != y.Ip || (x.Hostname ?? "") != (y.Hostname ?? "") || (x.NodeName ?? "") != (y.NodeName ?? "") || !SliceUtil.SameTarget(x.TargetRef, y.TargetRef))
            {
                return false;
            }
        }
        return true;
    }

    private static bool PortsEqual(IList<Corev1EndpointPort>? a, IList<Corev1EndpointPort>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        for (var i = 0; i < (a?.Count ?? 0); i++)
        {
            if (PortKey.Of(a![i]) != PortKey.Of(b![i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Upstream truncateEndpoints: keeps at most <see cref="MaxCapacity"/> addresses, ready ones first, each subset
    /// keeping its proportional share (rounded up). True when something was cut.
    /// </summary>
    public static bool Truncate(List<V1EndpointSubset> subsets)
    {
        var totalReady = subsets.Sum(s => s.Addresses?.Count ?? 0);
        var totalNotReady = subsets.Sum(s => s.NotReadyAddresses?.Count ?? 0);
        if (totalReady + totalNotReady <= MaxCapacity)
        {
            return false;
        }
        var truncateReady = totalReady > MaxCapacity;
        var max = truncateReady ? MaxCapacity : MaxCapacity - totalReady;
        var numTotal = truncateReady ? totalReady : totalNotReady;
        var canBeAdded = max;
        foreach (var subset in subsets)
        {
            var inSubset = truncateReady ? subset.Addresses?.Count ?? 0 : subset.NotReadyAddresses?.Count ?? 0;
            var toBeAdded = Math.Min(canBeAdded, (int)Math.Ceiling((double)inSubset / numTotal * max));
            if (truncateReady)
            {
                subset.Addresses = Take(subset.Addresses, toBeAdded);
                subset.NotReadyAddresses = null;
                canBeAdded -= subset.Addresses?.Count ?? 0;
            }
            else
            {
                subset.NotReadyAddresses = Take(subset.NotReadyAddresses, toBeAdded);
                canBeAdded -= subset.NotReadyAddresses?.Count ?? 0;
            }
        }
        return true;

        static IList<V1EndpointAddress>? Take(IList<V1EndpointAddress>? list, int n) =>
            list is null || list.Count <= n ? list : [.. list.Take(n)];
    }

    /// <summary>Upstream capacityAnnotationSetCorrectly: over capacity needs a truncation, under it no annotation.</summary>
    public static bool CapacityAnnotationSetCorrectly(IDictionary<string, string>? annotations, IList<V1EndpointSubset>? subsets)
    {
        var n = subsets?.Sum(s => (s.Addresses?.Count ?? 0) + (s.NotReadyAddresses?.Count ?? 0)) ?? 0;
        if (n > MaxCapacity)
        {
            return false;
        }
        return annotations is null || !annotations.ContainsKey(AnnotationOverCapacity);
    }

    /// <summary>Value identity of an EndpointPort; <see cref="None"/> stands for "no ports" (headless).</summary>
    private readonly record struct PortKey(string Name, int Port, string Protocol, string? AppProtocol, bool None) : IComparable<PortKey>
    {
        public static PortKey Of(Corev1EndpointPort? p) =>
            p is null ? new PortKey("", 0, "", null, true) : new PortKey(p.Name ?? "", p.Port, p.Protocol ?? "TCP", p.AppProtocol, false);

        public Corev1EndpointPort ToPort() => new() { Name = Name.Length == 0 ? null : Name, Port = Port, Protocol = Protocol, AppProtocol = AppProtocol };

        public int CompareTo(PortKey other)
        {
            var c = string.CompareOrdinal(Name, other.Name);
            if (c == 0)
            {
                c = Port.CompareTo(other.Port);
            }
            if (c == 0)
            {
                c = string.CompareOrdinal(Protocol, other.Protocol);
            }
            return c == 0 ? string.CompareOrdinal(AppProtocol, other.AppProtocol) : c;
        }
    }
}
