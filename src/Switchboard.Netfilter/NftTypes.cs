using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Netfilter;

/// <summary>
/// Set/map data types as far as Switchboard needs them: splitting <c>type</c>/<c>typeof</c> text into key and value
/// parts, checking and normalising element parts (addresses, protocols, ports, verdicts) so that
/// <c>tcp</c> and <c>6</c> name the same key, as they do in the kernel.
/// </summary>
internal static class NftTypes
{
    public const string Ipv4Addr = "ipv4_addr";
    public const string Ipv6Addr = "ipv6_addr";
    public const string InetProto = "inet_proto";
    public const string InetService = "inet_service";
    public const string Verdict = "verdict";

    /// <summary>Splits a set/map type into key part types and value part types (empty for sets).</summary>
    public static (string[] Key, string[] Value) Split(NftSetBase set)
    {
        var text = set.Type ?? set.TypeOf ?? "";
        var colon = text.IndexOf(" : ", StringComparison.Ordinal);
        var keyText = colon < 0 ? text : text[..colon];
        var valueText = colon < 0 ? "" : text[(colon + 3)..];
        var typeOf = set.Type is null;
        return (SplitParts(keyText, typeOf), SplitParts(valueText, typeOf));
    }

    private static string[] SplitParts(string text, bool typeOf)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }
        var parts = text.Split(" . ", StringSplitOptions.TrimEntries);
        return typeOf ? [.. parts.Select(FromTypeOf)] : parts;
    }

    /// <summary>The data type of a typeof expression (unknown expressions map to themselves and are not checked).</summary>
    public static string FromTypeOf(string expression) => expression switch
    {
        "ip saddr" or "ip daddr" => Ipv4Addr,
        "ip6 saddr" or "ip6 daddr" => Ipv6Addr,
        "meta l4proto" or "ip protocol" or "ip6 nexthdr" => InetProto,
        "th dport" or "th sport" or "tcp dport" or "tcp sport" or "udp dport" or "udp sport" or "sctp dport" or "sctp sport" => InetService,
        "verdict" => Verdict,
        _ => expression,
    };

    private static readonly Dictionary<string, int> ProtocolNumbers = new(StringComparer.Ordinal)
    {
        ["icmp"] = 1,
        ["igmp"] = 2,
        ["tcp"] = 6,
        ["udp"] = 17,
        ["ipv6-icmp"] = 58,
        ["icmpv6"] = 58,
        ["sctp"] = 132,
        ["udplite"] = 136,
    };

    private static readonly Dictionary<int, string> ProtocolNames = new()
    {
        [1] = "icmp",
        [2] = "igmp",
        [6] = "tcp",
        [17] = "udp",
        [58] = "ipv6-icmp",
        [132] = "sctp",
        [136] = "udplite",
    };

    /// <summary>
    /// Checks one element part against its type and returns its canonical text, or an error message
    /// (the reason nft would give). Intervals (prefix or range) are allowed only when <paramref name="interval"/>.
    /// </summary>
    public static bool TryNormalize(string type, string part, bool interval, out string canonical, out string? error)
    {
        canonical = part;
        error = null;
        switch (type)
        {
            case Ipv4Addr:
            case Ipv6Addr:
                var family = type == Ipv4Addr ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (!TryParseInterval(part, family, out var start, out var end, out var isInterval))
                {
                    error = $"\"{part}\" is not an {(type == Ipv4Addr ? "IPv4" : "IPv6")} address";
                    return false;
                }
                if (isInterval && !interval)
                {
                    error = $"\"{part}\" is a prefix or range: the set needs 'flags interval'";
                    return false;
                }
                canonical = isInterval ? IntervalText(start, end, family) : ToAddress(start, family).ToString();
                return true;
            case InetProto:
                if (ProtocolNumbers.TryGetValue(part, out var number)
                    || (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out number) && number <= 255))
                {
                    canonical = ProtocolNames.TryGetValue(number, out var name) ? name : number.ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                error = $"\"{part}\" is not an IP protocol (a name like tcp or a number 0-255)";
                return false;
            case InetService:
                if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
                {
                    canonical = port.ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                var dash = part.IndexOf('-', StringComparison.Ordinal);
                if (interval && dash > 0
                    && int.TryParse(part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var lo)
                    && int.TryParse(part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var hi)
                    && lo <= hi && hi <= 65535)
                {
                    canonical = lo.ToString(CultureInfo.InvariantCulture) + "-" + hi.ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                error = $"\"{part}\" is not a port number 0-65535";
                return false;
            case Verdict:
                if (TryParseVerdict(part, out _, out var target))
                {
                    canonical = target is null ? part : part[..part.IndexOf(' ', StringComparison.Ordinal)] + " " + target;
                    return true;
                }
                error = $"\"{part}\" is not a verdict (accept, drop, continue, return, goto CHAIN, jump CHAIN)";
                return false;
            default:
                return true;
        }
    }

    /// <summary>Parses a verdict; <paramref name="chain"/> is the target of goto/jump.</summary>
    public static bool TryParseVerdict(string text, out string verb, out string? chain)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        verb = parts.Length > 0 ? parts[0] : "";
        chain = null;
        switch (parts.Length)
        {
            case 1:
                return verb is "accept" or "drop" or "continue" or "return";
            case 2 when verb is "goto" or "jump":
                chain = parts[1];
                return true;
            default:
                return false;
        }
    }

    /// <summary>Parses an address, prefix (<c>10.0.0.0/8</c>) or range (<c>10.0.0.1-10.0.0.9</c>) into inclusive bounds.</summary>
    public static bool TryParseInterval(string text, AddressFamily family, out UInt128 start, out UInt128 end, out bool isInterval)
    {
        start = end = 0;
        isInterval = false;
        var bits = family == AddressFamily.InterNetwork ? 32 : 128;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!TryParseAddress(text[..slash], family, out var address)
                || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > bits)
            {
                return false;
            }
            var hostBits = bits - prefix;
            var hostMask = hostBits == 128 ? UInt128.MaxValue : (UInt128.One << hostBits) - 1;
            start = address & ~hostMask;
            end = start | hostMask;
            isInterval = prefix != bits;
            return true;
        }
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            if (!TryParseAddress(text[..dash], family, out start) || !TryParseAddress(text[(dash + 1)..], family, out end) || start > end)
            {
                return false;
            }
            isInterval = start != end;
            return true;
        }
        if (!TryParseAddress(text, family, out start))
        {
            return false;
        }
        end = start;
        return true;
    }

    private static bool TryParseAddress(string text, AddressFamily family, out UInt128 value)
    {
        value = 0;
        // IPAddress.TryParse accepts forms like "10.1" and scope ids; require the plain dotted or colon form.
        if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != family
            || (family == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            || (family == AddressFamily.InterNetwork && text.Count(c => c == '.') != 3))
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        foreach (var b in bytes[..written])
        {
            value = (value << 8) | b;
        }
        return true;
    }

    private static IPAddress ToAddress(UInt128 value, AddressFamily family)
    {
        var length = family == AddressFamily.InterNetwork ? 4 : 16;
        var bytes = new byte[length];
        for (var i = length - 1; i >= 0; i--)
        {
            bytes[i] = (byte)(value & 0xff);
            value >>= 8;
        }
        return new IPAddress(bytes);
    }

    private static string IntervalText(UInt128 start, UInt128 end, AddressFamily family)
    {
        var bits = family == AddressFamily.InterNetwork ? 32 : 128;
        var size = end - start;
        if (size != UInt128.MaxValue && ((size + 1) & size) == 0 && (start & size) == 0)
        {
            var hostBits = size == 0 ? 0 : (int)UInt128.Log2(size) + 1;
            return ToAddress(start, family) + "/" + (bits - hostBits).ToString(CultureInfo.InvariantCulture);
        }
        if (size == UInt128.MaxValue || (bits == 32 && size == uint.MaxValue))
        {
            return ToAddress(start, family) + "/0";
        }
        return ToAddress(start, family) + "-" + ToAddress(end, family);
    }
}
