using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// IP text as Kubernetes reads and writes it: k8s.io/utils/net ParseIPSloppy / ParseCIDRSloppy (Go 1.16 net rules:
/// IPv4 octets may carry leading zeros, no zones, no brackets, IPv4-mapped IPv6 counts as IPv4) and Go's
/// net.IP.String() (RFC 5952 for IPv6). .NET's IPAddress.TryParse accepts far more ("1", "0x7f.1", "[::1]"),
/// so validation and allocation must not use it: a value upstream rejects must be rejected here too.
/// </summary>
internal static class IpText
{
    /// <summary>ParseIPSloppy: null when upstream would say "must be a valid IP address".</summary>
    public static IPAddress? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        foreach (var c in text)
        {
            if (c == '.')
            {
                return ParseV4(text) is { } v4 ? new IPAddress(v4) : null;
            }
            if (c == ':')
            {
                return ParseV6(text) is { } v6 ? Normalize(new IPAddress(v6)) : null;
            }
        }
        return null;
    }

    /// <summary>True when text parses (sloppily) as an IPv6 address that is not IPv4-mapped (netutils.IsIPv6String).</summary>
    public static bool IsIPv6(string? text) => Parse(text)?.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>"IPv4"/"IPv6" of a parsed address.</summary>
    public static string FamilyName(IPAddress ip) => ip.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    /// <summary>
    /// ParseCIDRSloppy: the masked network and prefix length, or null. As Go, "10.0.0.1/24" is accepted (the network is
    /// 10.0.0.0/24); the prefix must be plain decimal digits within the address length.
    /// </summary>
    public static (IPAddress Network, int Prefix)? ParseCidr(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return null;
        }
        var addr = text[..slash];
        var mask = text.AsSpan(slash + 1);
        var bytes = ParseV4(addr) ?? ParseV6(addr);
        if (bytes is null)
        {
            return null;
        }
        var (n, used, ok) = Decimal(mask);
        var bits = bytes.Length * 8;
        if (!ok || used != mask.Length || n > bits)
        {
            return null;
        }
        var ip = new IPAddress(bytes);
        var family = ip.AddressFamily;
        var value = ToNumber(ip) & PrefixMask(n, bits);
        var network = FromNumber(value, family);
        // A v4-mapped v6 prefix of at least /96 is an IPv4 CIDR to Go (its IP.String() prints the IPv4 form).
        if (family == AddressFamily.InterNetworkV6 && network.IsIPv4MappedToIPv6 && n >= 96)
        {
            return (network.MapToIPv4(), n - 96);
        }
        return (network, n);
    }

    /// <summary>Go's net.IP.String(): dotted IPv4 (also for v4-mapped), RFC 5952 IPv6.</summary>
    public static string Format(IPAddress ip)
    {
        ip = Normalize(ip);
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            return ip.ToString();
        }
        var b = ip.GetAddressBytes();
        Span<int> groups = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = (b[2 * i] << 8) | b[(2 * i) + 1];
        }
        // Longest run of at least two zero groups; the first one wins a tie.
        int bestStart = -1, bestLen = 0;
        for (var i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }
            var j = i;
            while (j < 8 && groups[j] == 0)
            {
                j++;
            }
            if (j - i > bestLen && j - i >= 2)
            {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        var sb = new StringBuilder(39);
        for (var i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                sb.Append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.Length > 0 && sb[^1] != ':')
            {
                sb.Append(':');
            }
            sb.Append(groups[i].ToString("x", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Go's IPNet.String() for a network and prefix.</summary>
    public static string FormatCidr(IPAddress network, int prefix) => Format(network) + "/" + prefix.ToString(CultureInfo.InvariantCulture);

    /// <summary>The address as an unsigned number (IPv4 in the low 32 bits).</summary>
    public static UInt128 ToNumber(IPAddress ip)
    {
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out var written);
        UInt128 n = 0;
        for (var i = 0; i < written; i++)
        {
            n = (n << 8) | bytes[i];
        }
        return n;
    }

    public static IPAddress FromNumber(UInt128 n, AddressFamily family)
    {
        var length = family == AddressFamily.InterNetwork ? 4 : 16;
        Span<byte> bytes = stackalloc byte[length];
        for (var i = length - 1; i >= 0; i--)
        {
            bytes[i] = (byte)(n & 0xFF);
            n >>= 8;
        }
        return new IPAddress(bytes);
    }

    /// <summary>The mask of the first prefix bits of a bits-wide address.</summary>
    public static UInt128 PrefixMask(int prefix, int bits)
    {
        var all = bits == 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;
        return prefix == 0 ? 0 : all & ~((UInt128.One << (bits - prefix)) - 1);
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    /// <summary>A decimal number (the prefix length of a CIDR); Go's dtoi with its 0xFFFFFF bound.</summary>
    private static (int Value, int Used, bool Ok) Decimal(ReadOnlySpan<char> s)
    {
        const int big = 0xFFFFFF;
        var n = 0;
        var i = 0;
        for (; i < s.Length && s[i] is >= '0' and <= '9'; i++)
        {
            n = (n * 10) + (s[i] - '0');
            if (n >= big)
            {
                return (big, i, false);
            }
        }
        return i == 0 ? (0, 0, false) : (n, i, true);
    }

    /// <summary>Four decimal octets, each at most 255 (leading zeros allowed, as Go 1.16): the 4-byte form, or null.</summary>
    private static byte[]? ParseV4(ReadOnlySpan<char> s) =>
        s.Contains(':') ? null : GoNet.ParseIPv4(s.ToString()) is { } ip ? GoNet.To4(ip) : null;

    /// <summary>RFC 4291 text with one optional "::" and an optional trailing dotted IPv4 part: 16 bytes, or null.</summary>
    private static byte[]? ParseV6(ReadOnlySpan<char> s) => GoNet.ParseIPv6(s.ToString());
}
