using System.Net;
using System.Net.Sockets;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// One Service CIDR and the arithmetic upstream's IPAddress allocator does on it (pkg/registry/core/service/ipallocator):
/// the network address is never handed out, nor the IPv4 broadcast address; the first <see cref="StaticBand"/>
/// usable addresses form the lower band that KEP-3070 keeps for static (user-requested) clusterIPs, so dynamic
/// allocation takes the upper band first.
/// </summary>
internal sealed record ServiceCidr
{
    private ServiceCidr(IPAddress network, int prefix)
    {
        Network = network;
        Prefix = prefix;
        Family = network.AddressFamily;
        Bits = Family == AddressFamily.InterNetwork ? 32 : 128;
        Text = IpText.FormatCidr(network, prefix);
        NetworkNumber = IpText.ToNumber(network);
        var hostBits = Bits - prefix;
        // Usable addresses: all but the network address, and but the broadcast address for IPv4.
        var size = hostBits >= 64 ? ulong.MaxValue : (1UL << hostBits) - (Family == AddressFamily.InterNetwork ? 2UL : 1UL);
        if (hostBits < 64 && Family == AddressFamily.InterNetwork && hostBits < 2)
        {
            size = 0;
        }
        Size = size;
        // KEP-3070: min(max(16, cidrSize/16), 256), none when the whole CIDR has 16 addresses or fewer.
        var cidrSize = hostBits >= 63 ? long.MaxValue : 1L << hostBits;
        StaticBand = cidrSize <= 16 ? 0 : (ulong)Math.Clamp(cidrSize / 16, 16, 256);
    }

    public IPAddress Network { get; }

    public int Prefix { get; }

    public AddressFamily Family { get; }

    /// <summary>"IPv4" or "IPv6".</summary>
    public string FamilyName => Family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    public int Bits { get; }

    /// <summary>Canonical text, as upstream prints the range in messages ("10.96.0.0/12").</summary>
    public string Text { get; }

    public UInt128 NetworkNumber { get; }

    /// <summary>Number of allocatable addresses; offset o (0-based) is address network + 1 + o.</summary>
    public ulong Size { get; }

    /// <summary>Addresses at offsets below this are the static band.</summary>
    public ulong StaticBand { get; }

    /// <summary>Parses one --service-cluster-ip-range entry; upstream refuses IPv6 prefixes shorter than /64.</summary>
    public static ServiceCidr Parse(string text)
    {
        var parsed = IpText.ParseCidr(text.Trim()) ?? throw new ArgumentException($"invalid Service CIDR {text}", nameof(text));
        if (parsed.Network.AddressFamily == AddressFamily.InterNetworkV6 && parsed.Prefix < 64)
        {
            throw new ArgumentException($"shortest allowed prefix length for service CIDR is 64, got {parsed.Prefix}", nameof(text));
        }
        return new ServiceCidr(parsed.Network, parsed.Prefix);
    }

    /// <summary>True when ip lies inside the CIDR (network and broadcast included).</summary>
    public bool Contains(IPAddress ip) =>
        ip.AddressFamily == Family && (IpText.ToNumber(ip) & IpText.PrefixMask(Prefix, Bits)) == NetworkNumber;

    /// <summary>The allocation offset of ip, or null when it is not an allocatable address of this CIDR.</summary>
    public ulong? OffsetOf(IPAddress ip)
    {
        if (!Contains(ip))
        {
            return null;
        }
        var delta = IpText.ToNumber(ip) - NetworkNumber;
        if (delta == 0 || delta - 1 >= Size)
        {
            return null;
        }
        return (ulong)(delta - 1);
    }

    public IPAddress AddressAt(ulong offset) => IpText.FromNumber(NetworkNumber + 1 + offset, Family);

    /// <summary>The first allocatable address (the `kubernetes` Service's clusterIP).</summary>
    public IPAddress First => AddressAt(0);
}
