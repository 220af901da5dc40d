using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Switchboard.Node.Runtime.Cni;

/// <summary>The node's CNI network configuration list (ARCHITECTURE.md §2 "CNI"). Pure.</summary>
internal static class CniConfig
{
    public const string NetworkName = "switchboard";
    public const string CniVersion = "1.0.0";

    /// <summary>
    /// loopback; ptp (ipMasq false) with host-local IPAM holding one range set per family of <paramref name="podCidrs"/>
    /// and a default route per family; portmap with the portMappings capability.
    /// </summary>
    public static JsonObject Build(IReadOnlyList<string> podCidrs, string ipamDataDir)
    {
        if (podCidrs.Count == 0)
        {
            throw new ArgumentException("a node needs at least one Pod CIDR", nameof(podCidrs));
        }
        var ranges = new JsonArray();
        var routes = new JsonArray();
        foreach (var cidr in podCidrs.OrderBy(c => IsV6(c) ? 1 : 0))
        {
            ranges.Add(new JsonArray(new JsonObject { ["subnet"] = cidr }));
            routes.Add(new JsonObject { ["dst"] = IsV6(cidr) ? "::/0" : "0.0.0.0/0" });
        }
        return new JsonObject
        {
            ["cniVersion"] = CniVersion,
            ["name"] = NetworkName,
            ["plugins"] = new JsonArray(
                new JsonObject { ["type"] = "loopback" },
                new JsonObject
                {
                    ["type"] = "ptp",
                    ["ipMasq"] = false,
                    ["ipam"] = new JsonObject
                    {
                        ["type"] = "host-local",
                        ["ranges"] = ranges,
                        ["routes"] = routes,
                        ["dataDir"] = ipamDataDir,
                    },
                },
                new JsonObject { ["type"] = "portmap", ["capabilities"] = new JsonObject { ["portMappings"] = true } }),
        };
    }

    private static bool IsV6(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        return IPAddress.TryParse(slash < 0 ? cidr : cidr[..slash], out var ip)
            ? ip.AddressFamily == AddressFamily.InterNetworkV6
            : throw new ArgumentException($"Pod CIDR {cidr} is not a CIDR");
    }
}
