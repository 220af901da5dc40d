using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Switchboard.Controllers.Nodes;

/// <summary>
/// Upstream's range allocator (pkg/controller/nodeipam/ipam/cidrset): splits each cluster CIDR into node-sized
/// blocks (/24 for IPv4, /64 for IPv6, kube-controller-manager's defaults) and hands out the lowest free block.
/// Pure; the controller feeds it the CIDRs Nodes already hold.
/// </summary>
internal sealed class PodCidrAllocator
{
    private readonly List<Family> _families = [];

    public PodCidrAllocator(string clusterCidrs)
    {
        foreach (var cidr in clusterCidrs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var network = IPNetwork.Parse(cidr);
            var v6 = network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;
            var nodeBits = v6 ? 64 : 24;
            if (network.PrefixLength > nodeBits)
            {
                throw new ArgumentException($"cluster CIDR {cidr} is smaller than a node block (/{nodeBits})", nameof(clusterCidrs));
            }
            _families.Add(new Family(network, nodeBits, v6 ? 128 : 32));
        }
    }

    /// <summary>One block per configured family (IPv4 first as configured), or null when a family is exhausted.</summary>
    public IReadOnlyList<string>? Allocate(IEnumerable<string> used)
    {
        var taken = used.ToHashSet(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var f in _families)
        {
            var count = BigInteger.One << (f.NodeBits - f.Network.PrefixLength);
            string? found = null;
            for (BigInteger i = 0; i < count && found is null; i++)
            {
                var candidate = f.Block(i);
                if (!taken.Contains(candidate))
                {
                    found = candidate;
                }
            }
            if (found is null)
            {
                return null;
            }
            result.Add(found);
        }
        return result;
    }

    /// <summary>Canonical text of a CIDR, so "10.244.0.0/24" written by anyone compares equal.</summary>
    public static string Canonical(string cidr) => IPNetwork.TryParse(cidr, out var n) ? n.ToString() : cidr;

    private sealed record Family(IPNetwork Network, int NodeBits, int AddressBits)
    {
        public string Block(BigInteger index)
        {
            var bytes = Network.BaseAddress.GetAddressBytes();
            var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true) + (index << (AddressBits - NodeBits));
            var outBytes = new byte[bytes.Length];
            var raw = value.ToByteArray(isUnsigned: true, isBigEndian: true);
            raw.CopyTo(outBytes, outBytes.Length - raw.Length);
            return new IPAddress(outBytes) + "/" + NodeBits.ToString(CultureInfo.InvariantCulture);
        }
    }
}
