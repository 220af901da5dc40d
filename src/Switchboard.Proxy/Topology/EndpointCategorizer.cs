using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Topology;

/// <summary>The result of <see cref="EndpointCategorizer.Categorize"/>.</summary>
/// <param name="Cluster">Usable endpoints for Cluster policy (topology applied); empty when the port never uses Cluster policy.</param>
/// <param name="Local">Usable node-local endpoints for Local policy; empty when the port never uses Local policy.</param>
/// <param name="AllReachable">Union of both (dedup by ip:port): these get endpoint chains.</param>
/// <param name="HasAnyEndpoints">Some ready or serving-terminating endpoint exists anywhere: decides REJECT vs DROP.</param>
internal readonly record struct CategorizedEndpoints(
    IReadOnlyList<EndpointInfo> Cluster,
    IReadOnlyList<EndpointInfo> Local,
    IReadOnlyList<EndpointInfo> AllReachable,
    bool HasAnyEndpoints);

/// <summary>
/// Upstream pkg/proxy/topology.go CategorizeEndpoints, with PreferSameTrafficDistribution on (PreferSameNode):
/// Ready endpoints filtered by topology, falling back to serving-terminating ones, independently for Cluster and
/// Local policy.
/// </summary>
internal static class EndpointCategorizer
{
    public const string PreferSameZone = "PreferSameZone";
    public const string PreferSameNode = "PreferSameNode";

    public static CategorizedEndpoints Categorize(IReadOnlyList<EndpointInfo>? endpoints, ServicePortInfo svc, string nodeName, string? zone)
    {
        if (endpoints is null || endpoints.Count == 0)
        {
            return new CategorizedEndpoints([], [], [], false);
        }

        List<EndpointInfo> cluster = [];
        List<EndpointInfo> local = [];
        var hasAny = false;
        string? mode = null;
        var useServingTerminating = false;

        if (svc.UsesClusterEndpoints)
        {
            mode = TopologyMode(endpoints, nodeName, zone);
            foreach (var ep in endpoints)
            {
                if (ep.Ready && AvailableForTopology(ep, mode, nodeName, zone))
                {
                    cluster.Add(ep);
                }
            }

            // No ready endpoints anywhere (topology already fell back if none were usable here).
            if (cluster.Count == 0)
            {
                foreach (var ep in endpoints)
                {
                    if (ep.Serving && ep.Terminating)
                    {
                        cluster.Add(ep);
                    }
                }
            }

            hasAny = cluster.Count > 0;
        }

        if (!svc.UsesLocalEndpoints)
        {
            return new CategorizedEndpoints(cluster, local, cluster, hasAny);
        }

        bool hasLocalReady = false, hasLocalServingTerminating = false;
        foreach (var ep in endpoints)
        {
            if (ep.Ready)
            {
                hasAny = true;
                hasLocalReady |= ep.IsLocal;
            }
            else if (ep.Serving && ep.Terminating)
            {
                hasAny = true;
                hasLocalServingTerminating |= ep.IsLocal;
            }
        }

        if (hasLocalReady)
        {
            foreach (var ep in endpoints)
            {
                if (ep.IsLocal && ep.Ready)
                {
                    local.Add(ep);
                }
            }
        }
        else if (hasLocalServingTerminating)
        {
            useServingTerminating = true;
            foreach (var ep in endpoints)
            {
                if (ep.IsLocal && ep.Serving && ep.Terminating)
                {
                    local.Add(ep);
                }
            }
        }

        if (!svc.UsesClusterEndpoints)
        {
            return new CategorizedEndpoints(cluster, local, local, hasAny);
        }

        if (mode is null && !useServingTerminating)
        {
            // Cluster holds every ready endpoint and Local only ready ones: Cluster is a superset.
            return new CategorizedEndpoints(cluster, local, cluster, hasAny);
        }

        var all = new List<EndpointInfo>(cluster.Count + local.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ep in cluster)
        {
            if (seen.Add(ep.Key))
            {
                all.Add(ep);
            }
        }

        foreach (var ep in local)
        {
            if (seen.Add(ep.Key))
            {
                all.Add(ep);
            }
        }

        all.Sort(EndpointInfo.Compare);
        return new CategorizedEndpoints(cluster, local, all, hasAny);
    }

    /// <summary>
    /// PreferSameNode if every ready endpoint has node hints and one names this node; else PreferSameZone if every
    /// ready endpoint has zone hints and one names this zone; else none (any missing hint disables topology).
    /// </summary>
    public static string? TopologyMode(IReadOnlyList<EndpointInfo> endpoints, string nodeName, string? zone)
    {
        bool hasReady = false, forNode = false, allNodeHints = true, forZone = false, allZoneHints = true;
        foreach (var ep in endpoints)
        {
            if (!ep.Ready)
            {
                continue;
            }

            hasReady = true;
            if (ep.NodeHints.IsEmpty)
            {
                allNodeHints = false;
            }
            else if (ep.NodeHints.Contains(nodeName))
            {
                forNode = true;
            }

            if (ep.ZoneHints.IsEmpty)
            {
                allZoneHints = false;
            }
            else if (zone is not null && ep.ZoneHints.Contains(zone))
            {
                forZone = true;
            }
        }

        if (!hasReady)
        {
            return null;
        }

        if (allNodeHints && forNode)
        {
            return PreferSameNode;
        }

        return allZoneHints && forZone ? PreferSameZone : null;
    }

    private static bool AvailableForTopology(EndpointInfo ep, string? mode, string nodeName, string? zone) => mode switch
    {
        null => true,
        PreferSameNode => ep.NodeHints.Contains(nodeName),
        PreferSameZone => zone is not null && ep.ZoneHints.Contains(zone),
        _ => false,
    };
}
