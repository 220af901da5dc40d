using k8s.Models;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Topology;

/// <summary>
/// One Service's slices of one address type as the reconciler left them (upstream topologycache.SliceInfo): the
/// hint code may add hints to slices being created or updated, and moves unchanged slices whose hints are wrong
/// into <see cref="ToUpdate"/> (as copies).
/// </summary>
internal sealed class SliceInfo
{
    public required string ServiceKey { get; init; }

    public required string AddressType { get; init; }

    public required List<V1EndpointSlice> ToCreate { get; init; }

    public required List<V1EndpointSlice> ToUpdate { get; init; }

    public required List<V1EndpointSlice> Unchanged { get; set; }

    public int TotalReadyEndpoints()
    {
        var total = 0;
        foreach (var list in (List<V1EndpointSlice>[])[ToCreate, ToUpdate, Unchanged])
        {
            foreach (var slice in list)
            {
                total += slice.Endpoints?.Count(SliceUtil.EndpointReady) ?? 0;
            }
        }
        return total;
    }

    /// <summary>
    /// Hints already allocated per zone by the unchanged slices; an unchanged slice whose hints are missing, point
    /// at a zone with no allocation, or would push a zone past its maximum is moved to <see cref="ToUpdate"/>.
    /// </summary>
    public Dictionary<string, int> AllocatedHintsByZone(IReadOnlyDictionary<string, Allocation> allocations)
    {
        var allocated = new Dictionary<string, int>(StringComparer.Ordinal);
        var keep = new List<V1EndpointSlice>(Unchanged.Count);
        foreach (var slice in Unchanged)
        {
            var byZone = HintsByZone(slice, allocated, allocations);
            if (byZone is null)
            {
                ToUpdate.Add(SliceUtil.Clone(slice));
                continue;
            }
            keep.Add(slice);
            foreach (var (zone, n) in byZone)
            {
                allocated[zone] = allocated.GetValueOrDefault(zone) + n;
            }
        }
        Unchanged = keep;
        return allocated;
    }

    private static Dictionary<string, int>? HintsByZone(V1EndpointSlice slice, Dictionary<string, int> allocated, IReadOnlyDictionary<string, Allocation> allocations)
    {
        var byZone = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var endpoint in slice.Endpoints ?? [])
        {
            if (!SliceUtil.EndpointReady(endpoint))
            {
                continue;
            }
            if (endpoint.Hints?.ForZones is not { Count: > 0 } zones)
            {
                return null;
            }
            foreach (var z in zones)
            {
                if (!allocations.ContainsKey(z.Name))
                {
                    return null;
                }
                byZone[z.Name] = byZone.GetValueOrDefault(z.Name) + 1;
            }
        }
        foreach (var (zone, n) in byZone)
        {
            if (!allocations.TryGetValue(zone, out var a) || n + allocated.GetValueOrDefault(zone) > a.Maximum)
            {
                return null;
            }
        }
        return byZone;
    }
}

/// <summary>How many endpoints a zone should get: at least <see cref="Minimum"/>, at most <see cref="Maximum"/>, ideally <see cref="Desired"/>.</summary>
internal readonly record struct Allocation(int Minimum, int Maximum, double Desired);
