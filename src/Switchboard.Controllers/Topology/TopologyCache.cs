using k8s.Models;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Topology;

/// <summary>
/// Topology Aware Routing for <c>service.kubernetes.io/topology-mode: Auto</c> (upstream topologycache, KEP-2433):
/// each zone's share of the allocatable CPU of the Ready, non-control-plane nodes; per Service and address type,
/// zone hints that give each zone endpoints in proportion to that share, never leaving an endpoint more than 20 %
/// overloaded; and the reasons to give up (removing all hints), published as Events. Thread-safe.
/// </summary>
internal sealed class TopologyCache
{
    /// <summary>Largest overload any endpoint should see relative to an even spread.</summary>
    public const double OverloadThreshold = 0.2;

    private readonly Lock _lock = new();
    private Dictionary<string, double>? _cpuRatiosByZone;
    private readonly Dictionary<string, Dictionary<string, Dictionary<string, int>>> _endpointsByService = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hintsPopulated = new(StringComparer.Ordinal);

    /// <summary>The zones' CPU shares, or null when node information is insufficient.</summary>
    public IReadOnlyDictionary<string, double>? CpuRatiosByZone
    {
        get
        {
            lock (_lock)
            {
                return _cpuRatiosByZone;
            }
        }
    }

    /// <summary>
    /// Upstream SetNodes: control-plane/master and NotReady nodes are ignored; if any remaining node lacks a zone or
    /// allocatable CPU the information is insufficient and every Service loses its hints; fewer than 2 zones too.
    /// </summary>
    public void SetNodes(IEnumerable<V1Node> nodes)
    {
        var cpuByZone = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        var sufficient = true;
        foreach (var node in nodes)
        {
            var labels = node.Metadata.Labels;
            if (labels is not null && (labels.ContainsKey("node-role.kubernetes.io/control-plane") || labels.ContainsKey("node-role.kubernetes.io/master")))
            {
                continue;
            }
            if (!EndpointUtil.IsNodeReady(node))
            {
                continue;
            }
            var milli = AllocatableMilliCpu(node);
            if (labels is null || !labels.TryGetValue(EndpointUtil.LabelTopologyZone, out var zone) || string.IsNullOrEmpty(zone) || milli == 0)
            {
                sufficient = false;
                break;
            }
            total += milli;
            cpuByZone[zone] = cpuByZone.GetValueOrDefault(zone) + milli;
        }

        lock (_lock)
        {
            if (total == 0 || !sufficient || cpuByZone.Count < 2)
            {
                _cpuRatiosByZone = null;
                return;
            }
            _cpuRatiosByZone = cpuByZone.ToDictionary(kv => kv.Key, kv => (double)kv.Value / total, StringComparer.Ordinal);
        }
    }

    private static long AllocatableMilliCpu(V1Node node)
    {
        if (node.Status?.Allocatable is { } allocatable && allocatable.TryGetValue("cpu", out var cpu) && cpu is not null)
        {
            try
            {
                return (long)decimal.Round(cpu.ToDecimal() * 1000m, MidpointRounding.ToPositiveInfinity);
            }
            catch (OverflowException)
            {
                return 0;
            }
        }
        return 0;
    }

    /// <summary>
    /// Upstream getAllocations: per zone desired = share·n, minimum = ⌈desired / 1.2⌉, maximum = minimum + n − Σminimum.
    /// Null with the reason when hints cannot be allocated.
    /// </summary>
    public (Dictionary<string, Allocation>? Allocations, HintEvent? Reason) GetAllocations(int endpoints)
    {
        lock (_lock)
        {
            return GetAllocationsLocked(endpoints);
        }
    }

    private (Dictionary<string, Allocation>?, HintEvent?) GetAllocationsLocked(int endpoints)
    {
        var ratios = _cpuRatiosByZone;
        if (ratios is null)
        {
            return (null, HintEvent.Disabled(HintEvent.InsufficientNodeInfo));
        }
        if (ratios.Count < 2)
        {
            return (null, HintEvent.Disabled(HintEvent.NodesReadyInOneZoneOnly));
        }
        if (ratios.Count > endpoints)
        {
            return (null, HintEvent.Disabled($"{HintEvent.InsufficientNumberOfEndpoints} ({endpoints} endpoints, {ratios.Count} zones)"));
        }

        var remaining = endpoints;
        var minTotal = 0;
        var allocations = new Dictionary<string, Allocation>(StringComparer.Ordinal);
        foreach (var (zone, ratio) in ratios)
        {
            var desired = ratio * endpoints;
            // Same float expression as upstream so borderline cases (11 over 3 equal zones) land the same way.
            var minimum = (int)Math.Ceiling(desired * (1 / (1 + OverloadThreshold)));
            allocations[zone] = new Allocation(minimum, 0, Math.Max(desired, minimum));
            minTotal += minimum;
            remaining -= minimum;
            if (remaining < 0)
            {
                return (null, HintEvent.Disabled($"{HintEvent.MinAllocationExceedsOverloadThreshold} ({endpoints} endpoints, {ratios.Count} zones)"));
            }
        }
        foreach (var zone in allocations.Keys.ToList())
        {
            var a = allocations[zone];
            allocations[zone] = a with { Maximum = a.Minimum + endpoints - minTotal };
        }
        return (allocations, null);
    }

    /// <summary>
    /// Upstream AddHints: every ready endpoint gets its own zone, then endpoints are lent from zones above their
    /// desired count to zones below it. Returns the slices to create and update and the Events to publish.
    /// </summary>
    public (List<V1EndpointSlice> ToCreate, List<V1EndpointSlice> ToUpdate, List<HintEvent> Events) AddHints(SliceInfo si)
    {
        var events = new List<HintEvent>();
        var (allocations, reason) = GetAllocations(si.TotalReadyEndpoints());
        if (allocations is null)
        {
            events.Add(reason! with { Message = HintEvent.WithAddressType(reason.Message, si.AddressType) });
            RemoveHints(si.ServiceKey, si.AddressType);
            var (c, u) = RemoveHintsFromSlices(si);
            return (c, u, events);
        }

        var allocated = si.AllocatedHintsByZone(allocations);
        List<V1EndpointSlice> allocatable = [.. si.ToCreate, .. si.ToUpdate];

        // Step 1: every ready endpoint hinted for its own zone.
        foreach (var slice in allocatable)
        {
            var endpoints = slice.Endpoints ?? [];
            for (var i = 0; i < endpoints.Count; i++)
            {
                var endpoint = endpoints[i];
                if (!SliceUtil.EndpointReady(endpoint))
                {
                    endpoints[i] = endpoint with { Hints = null };
                    continue;
                }
                if (string.IsNullOrEmpty(endpoint.Zone))
                {
                    events.Add(HintEvent.Disabled(HintEvent.WithAddressType(HintEvent.NoZoneSpecified, si.AddressType)));
                    RemoveHints(si.ServiceKey, si.AddressType);
                    var (c, u) = RemoveHintsFromSlices(si);
                    return (c, u, events);
                }
                allocated[endpoint.Zone] = allocated.GetValueOrDefault(endpoint.Zone) + 1;
                endpoints[i] = endpoint with { Hints = ZoneHint(endpoint.Zone) };
            }
        }

        // Step 2: which zones have more than they should, which less.
        var (giving, receiving) = GivingAndReceivingZones(allocations, allocated);

        // Step 3: re-point endpoints from giving zones at receiving zones.
        foreach (var (zone, diff) in RedistributeHints(allocatable, giving, receiving))
        {
            allocated[zone] = allocated.GetValueOrDefault(zone) + diff;
        }

        if (allocated.Count == 0)
        {
            events.Add(HintEvent.Disabled(HintEvent.WithAddressType(HintEvent.NoAllocatedHintsForZones, si.AddressType)));
            RemoveHints(si.ServiceKey, si.AddressType);
            var (c, u) = RemoveHintsFromSlices(si);
            return (c, u, events);
        }

        lock (_lock)
        {
            var wasEnabled = _hintsPopulated.Contains(si.ServiceKey);
            SetHintsLocked(si.ServiceKey, si.AddressType, allocated);
            if (!wasEnabled)
            {
                events.Add(new HintEvent(HintEvent.Normal, HintEvent.EnabledReason, HintEvent.WithAddressType(HintEvent.TopologyAwareHintsEnabled, si.AddressType)));
            }
        }
        return (si.ToCreate, si.ToUpdate, events);
    }

    public bool HasPopulatedHints(string serviceKey)
    {
        lock (_lock)
        {
            return _hintsPopulated.Contains(serviceKey);
        }
    }

    public void RemoveHints(string serviceKey, string addressType)
    {
        lock (_lock)
        {
            if (_endpointsByService.TryGetValue(serviceKey, out var byType))
            {
                byType.Remove(addressType);
                if (byType.Count == 0)
                {
                    _endpointsByService.Remove(serviceKey);
                }
            }
            _hintsPopulated.Remove(serviceKey);
        }
    }

    /// <summary>Services with hints whose current endpoint spread leaves some zone below its minimum (re-evaluated after node changes).</summary>
    public List<string> GetOverloadedServices()
    {
        lock (_lock)
        {
            var result = new List<string>();
            foreach (var (key, byType) in _endpointsByService)
            {
                if (byType.Values.Any(ezi => ServiceOverloaded(ezi, _cpuRatiosByZone)))
                {
                    result.Add(key);
                }
            }
            return result;
        }
    }

    private void SetHintsLocked(string serviceKey, string addressType, Dictionary<string, int> allocated)
    {
        if (!_endpointsByService.TryGetValue(serviceKey, out var byType))
        {
            byType = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
            _endpointsByService[serviceKey] = byType;
        }
        byType[addressType] = allocated;
        _hintsPopulated.Add(serviceKey);
    }

    private static bool ServiceOverloaded(Dictionary<string, int> ezi, Dictionary<string, double>? ratios)
    {
        if (ezi.Count == 0)
        {
            return false;
        }
        if (ratios is null || ratios.Count == 0)
        {
            return true;
        }
        double total = ezi.Values.Sum();
        foreach (var (zone, ratio) in ratios)
        {
            if (!ezi.TryGetValue(zone, out var n))
            {
                return true;
            }
            if (n < (int)Math.Ceiling(total * ratio * (1 / (1 + OverloadThreshold))))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Upstream RemoveHintsFromSlices: clears hints everywhere, moving unchanged slices that had any to the update list.</summary>
    public static (List<V1EndpointSlice> ToCreate, List<V1EndpointSlice> ToUpdate) RemoveHintsFromSlices(SliceInfo si)
    {
        foreach (var slice in si.ToCreate.Concat(si.ToUpdate))
        {
            ClearHints(slice);
        }
        var keep = new List<V1EndpointSlice>(si.Unchanged.Count);
        foreach (var slice in si.Unchanged)
        {
            if (slice.Endpoints?.Any(e => e.Hints is not null) == true)
            {
                var copy = SliceUtil.Clone(slice);
                ClearHints(copy);
                si.ToUpdate.Add(copy);
            }
            else
            {
                keep.Add(slice);
            }
        }
        si.Unchanged = keep;
        return (si.ToCreate, si.ToUpdate);
    }

    private static void ClearHints(V1EndpointSlice slice)
    {
        var endpoints = slice.Endpoints ?? [];
        for (var i = 0; i < endpoints.Count; i++)
        {
            if (endpoints[i].Hints is not null)
            {
                endpoints[i] = endpoints[i] with { Hints = null };
            }
        }
    }

    internal static V1EndpointHints ZoneHint(string zone) => new() { ForZones = [new V1ForZone { Name = zone }] };

    /// <summary>
    /// Upstream getGivingAndReceivingZones: fractional surpluses and deficits against the desired counts, turned into
    /// whole endpoints one at a time from the largest surplus to the largest deficit, while both are worth moving.
    /// Zones are visited in name order so ties resolve the same way every time (upstream: map order).
    /// </summary>
    internal static (SortedDictionary<string, int> Giving, SortedDictionary<string, int> Receiving) GivingAndReceivingZones(
        IReadOnlyDictionary<string, Allocation> allocations, IReadOnlyDictionary<string, int> allocated)
    {
        var givingDesired = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var receivingDesired = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (zone, allocation) in allocations)
        {
            var hints = allocated.GetValueOrDefault(zone);
            if (hints > allocation.Desired)
            {
                givingDesired[zone] = hints - allocation.Desired;
            }
            else if (hints < allocation.Desired)
            {
                receivingDesired[zone] = allocation.Desired - hints;
            }
        }

        var giving = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var receiving = new SortedDictionary<string, int>(StringComparer.Ordinal);
        while (true)
        {
            var (givingZone, toGive) = Most(givingDesired);
            var (receivingZone, toReceive) = Most(receivingDesired);
            if (givingZone is null || receivingZone is null || (toGive < 1.0 && toReceive < 1.0) || toGive < 0.5 || toReceive < 0.5)
            {
                break;
            }
            giving[givingZone] = giving.GetValueOrDefault(givingZone) + 1;
            givingDesired[givingZone]--;
            receiving[receivingZone] = receiving.GetValueOrDefault(receivingZone) + 1;
            receivingDesired[receivingZone]--;
        }
        return (giving, receiving);

        static (string?, double) Most(SortedDictionary<string, double> zones)
        {
            string? zone = null;
            var most = 0.0;
            foreach (var (z, n) in zones)
            {
                if (n > most)
                {
                    zone = z;
                    most = n;
                }
            }
            return (zone, most);
        }
    }

    /// <summary>Upstream redistributeHints: re-points ready endpoints of giving zones at receiving zones; returns the change per zone.</summary>
    internal static Dictionary<string, int> RedistributeHints(List<V1EndpointSlice> slices, SortedDictionary<string, int> giving, SortedDictionary<string, int> receiving)
    {
        var redistributions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            var endpoints = slice.Endpoints ?? [];
            for (var i = 0; i < endpoints.Count; i++)
            {
                var endpoint = endpoints[i];
                if (!SliceUtil.EndpointReady(endpoint))
                {
                    continue;
                }
                if (giving.Count == 0 || receiving.Count == 0)
                {
                    return redistributions;
                }
                if (string.IsNullOrEmpty(endpoint.Zone))
                {
                    continue;
                }
                var givingZone = endpoint.Zone;
                if (!giving.TryGetValue(givingZone, out var toGive) || toGive <= 0)
                {
                    continue;
                }
                foreach (var (receivingZone, toReceive) in receiving)
                {
                    if (toReceive <= 0)
                    {
                        continue;
                    }
                    endpoints[i] = endpoint with { Hints = ZoneHint(receivingZone) };
                    if (toGive == 1)
                    {
                        giving.Remove(givingZone);
                    }
                    else
                    {
                        giving[givingZone] = toGive - 1;
                    }
                    if (toReceive == 1)
                    {
                        receiving.Remove(receivingZone);
                    }
                    else
                    {
                        receiving[receivingZone] = toReceive - 1;
                    }
                    redistributions[receivingZone] = redistributions.GetValueOrDefault(receivingZone) + 1;
                    redistributions[givingZone] = redistributions.GetValueOrDefault(givingZone) - 1;
                    break;
                }
            }
        }
        return redistributions;
    }
}
