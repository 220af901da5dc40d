using System.Net;
using System.Net.Sockets;
using k8s.Models;

namespace Switchboard.Node.Routing;

/// <summary>A route to one Node's Pod CIDR via that Node's InternalIP of the same family (host-gw).</summary>
internal sealed record PodCidrRoute(string Cidr, string Via, string Node)
{
    public bool IsIpv6 => Cidr.Contains(':', StringComparison.Ordinal);
}

/// <summary>
/// The routes a namespace needs so Pods reach Pods on every node without NAT (ARCHITECTURE.md §2 "Node
/// addressing"): each other Node's spec.podCIDRs via its InternalIP of the same family. Pure.
/// </summary>
internal static class PodCidrRoutes
{
    /// <summary>Desired routes, ordered by CIDR; <paramref name="self"/> (null in the underlay) is skipped.</summary>
    public static IReadOnlyList<PodCidrRoute> Desired(string? self, IEnumerable<V1Node> nodes)
    {
        var routes = new List<PodCidrRoute>();
        foreach (var node in nodes)
        {
            var name = node.Metadata?.Name;
            if (name is null || string.Equals(name, self, StringComparison.Ordinal) || node.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            var cidrs = node.Spec?.PodCIDRs ?? (node.Spec?.PodCIDR is { } one ? [one] : []);
            foreach (var cidr in cidrs)
            {
                if (!TryFamily(cidr, out var family))
                {
                    continue;
                }
                var via = node.Status?.Addresses?
                    .Where(a => a.Type == "InternalIP" && IPAddress.TryParse(a.Address, out var ip) && ip.AddressFamily == family)
                    .Select(a => a.Address)
                    .FirstOrDefault();
                if (via is not null)
                {
                    routes.Add(new PodCidrRoute(cidr, via, name));
                }
            }
        }
        routes.Sort((a, b) => string.CompareOrdinal(a.Cidr, b.Cidr));
        return routes;
    }

    private static bool TryFamily(string cidr, out AddressFamily family)
    {
        family = AddressFamily.Unknown;
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || !IPAddress.TryParse(cidr.AsSpan(0, slash), out var ip))
        {
            return false;
        }
        family = ip.AddressFamily;
        return true;
    }
}
