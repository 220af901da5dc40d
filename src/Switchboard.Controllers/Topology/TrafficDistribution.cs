using k8s.Models;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Topology;

/// <summary>
/// Hints for <c>spec.trafficDistribution</c> (upstream trafficdist, KEP-4444 / KEP-3015): PreferClose and
/// PreferSameZone hint every ready endpoint for its own zone, PreferSameNode also for its own node; no capacity
/// arithmetic. Any other value (or none) means no hints. Unready endpoints are left as they are.
/// </summary>
internal static class TrafficDistribution
{
    public const string PreferClose = "PreferClose";
    public const string PreferSameZone = "PreferSameZone";
    public const string PreferSameNode = "PreferSameNode";

    /// <summary>
    /// Adds or removes hints on the slices being created and updated, and moves unchanged slices with missing or
    /// stale hints (as copies) to the update list.
    /// </summary>
    public static (List<V1EndpointSlice> ToCreate, List<V1EndpointSlice> ToUpdate) ReconcileHints(
        string? trafficDistribution, List<V1EndpointSlice> toCreate, List<V1EndpointSlice> toUpdate, IEnumerable<V1EndpointSlice> unchanged)
    {
        var close = trafficDistribution is PreferClose or PreferSameZone or PreferSameNode;
        var nodeHints = trafficDistribution == PreferSameNode;
        foreach (var slice in unchanged)
        {
            if (close ? NeedsCloseUpdate(slice, nodeHints) : slice.Endpoints?.Any(e => e.Hints is not null) == true)
            {
                toUpdate.Add(SliceUtil.Clone(slice));
            }
        }
        foreach (var slice in toCreate.Concat(toUpdate))
        {
            var endpoints = slice.Endpoints ?? [];
            for (var i = 0; i < endpoints.Count; i++)
            {
                var e = endpoints[i];
                if (!close)
                {
                    if (e.Hints is not null)
                    {
                        endpoints[i] = e with { Hints = null };
                    }
                    continue;
                }
                if (!SliceUtil.EndpointReady(e))
                {
                    continue;
                }
                var zones = e.Zone is null ? null : new List<V1ForZone> { new() { Name = e.Zone } };
                var nodes = e.NodeName is not null && nodeHints ? new List<V1ForNode> { new() { Name = e.NodeName } } : null;
                endpoints[i] = e with { Hints = zones is null && nodes is null ? null : new V1EndpointHints { ForZones = zones, ForNodes = nodes } };
            }
        }
        return (toCreate, toUpdate);
    }

    private static bool NeedsCloseUpdate(V1EndpointSlice slice, bool nodeHints)
    {
        foreach (var e in slice.Endpoints ?? [])
        {
            if (!SliceUtil.EndpointReady(e))
            {
                continue;
            }
            if (e.Zone is not null)
            {
                if (e.Hints?.ForZones is not { Count: 1 } z || z[0].Name != e.Zone)
                {
                    return true;
                }
            }
            else if (e.Hints?.ForZones is { Count: > 0 })
            {
                return true;
            }
            if (e.NodeName is not null && nodeHints)
            {
                if (e.Hints?.ForNodes is not { Count: 1 } n || n[0].Name != e.NodeName)
                {
                    return true;
                }
            }
            else if (e.Hints?.ForNodes is { Count: > 0 })
            {
                return true;
            }
        }
        return false;
    }
}
