namespace Switchboard.Api.Validation;

/// <summary>A parsed CIDR as Go's net.ParseCIDR returns it: the masked network address and the mask.</summary>
/// <param name="Network">4 bytes for IPv4 text, 16 for IPv6 text (as Go's ip.Mask leaves them).</param>
/// <param name="Mask">The mask, 4 or 16 bytes.</param>
public sealed record GoIPNet(byte[] Network, byte[] Mask)
{
    /// <summary>Go's IPMask.Size(): leading ones.</summary>
    public int PrefixLength
    {
        get
        {
            var ones = 0;
            foreach (var b in Mask)
            {
                ones += System.Numerics.BitOperations.PopCount(b);
            }
            return ones;
        }
    }

    /// <summary>Go's IPNet.Contains.</summary>
    public bool Contains(byte[] ip)
    {
        var (nn, m) = NetworkNumberAndMask();
        if (nn is null || m is null)
        {
            return false;
        }
        if (GoNet.To4(ip) is { } v4)
        {
            ip = v4;
        }
        if (ip.Length != nn.Length)
        {
            return false;
        }
        for (var i = 0; i < ip.Length; i++)
        {
            if ((nn[i] & m[i]) != (ip[i] & m[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>IPv4 when the network address has a 4-byte form (Go's IsIPv6 is "To4() == nil").</summary>
    public bool IsIPv4 => GoNet.To4(Network) is not null;

    private (byte[]? Ip, byte[]? Mask) NetworkNumberAndMask()
    {
        var ip = GoNet.To4(Network) ?? Network;
        if (ip.Length != 4 && ip.Length != 16)
        {
            return (null, null);
        }
        var m = Mask;
        if (m.Length == 4)
        {
            return ip.Length == 4 ? (ip, m) : (null, null);
        }
        return ip.Length == 4 ? (ip, m[12..]) : (ip, m);
    }
}

/// <summary>
/// Go's net.ParseIP and net.ParseCIDR as k8s.io/utils/net's "sloppy" forks (v1.33): IPv4 octets may carry leading
/// zeros ("010.0.0.1" is 10.0.0.1), IPv6 may end in an embedded IPv4 address, no zones, no brackets. .NET's
/// IPAddress.TryParse accepts far more ("1", "0x7f.1", "fe80::1%eth0"), so it cannot stand in for upstream's rules.
/// </summary>
public static class GoNet
{
    private const int Big = 0xFFFFFF;

    /// <summary>ParseIPSloppy: a 16-byte address, or null.</summary>
    public static byte[]? ParseIP(string s)
    {
        foreach (var c in s)
        {
            if (c == '.')
            {
                return ParseIPv4(s);
            }
            if (c == ':')
            {
                return ParseIPv6(s);
            }
        }
        return null;
    }

    /// <summary>ParseCIDRSloppy; null when invalid.</summary>
    public static GoIPNet? ParseCidr(string s)
    {
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return null;
        }
        var addr = s[..slash];
        var mask = s[(slash + 1)..];
        var ipLen = 4;
        var ip = ParseIPv4(addr);
        if (ip is null)
        {
            ipLen = 16;
            ip = ParseIPv6(addr);
        }
        var (n, consumed, ok) = Dtoi(mask);
        if (ip is null || !ok || consumed != mask.Length || n < 0 || n > 8 * ipLen)
        {
            return null;
        }
        var m = CidrMask(n, 8 * ipLen);
        var network = MaskIP(ip, m);
        return network is null ? null : new GoIPNet(network, m);
    }

    /// <summary>Go's IP.To4: the 4-byte form of an IPv4 (or IPv4-mapped) address, else null.</summary>
    public static byte[]? To4(byte[] ip)
    {
        if (ip.Length == 4)
        {
            return ip;
        }
        if (ip.Length == 16 && IsZero(ip.AsSpan(0, 10)) && ip[10] == 0xff && ip[11] == 0xff)
        {
            return ip[12..];
        }
        return null;
    }

    public static bool IsUnspecified(byte[] ip) => To4(ip) is { } v4 ? IsZero(v4) : IsZero(ip);

    public static bool IsLoopback(byte[] ip) =>
        To4(ip) is { } v4 ? v4[0] == 127 : IsZero(ip.AsSpan(0, 15)) && ip[15] == 1;

    public static bool IsLinkLocalUnicast(byte[] ip) =>
        To4(ip) is { } v4 ? v4[0] == 169 && v4[1] == 254 : ip.Length == 16 && ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;

    public static bool IsLinkLocalMulticast(byte[] ip) =>
        To4(ip) is { } v4 ? v4[0] == 224 && v4[1] == 0 && v4[2] == 0 : ip.Length == 16 && ip[0] == 0xff && (ip[1] & 0x0f) == 0x02;

    /// <summary>Dotted IPv4 (leading zeros allowed) as Go's 16-byte IPv4-mapped form, or null.</summary>
    public static byte[]? ParseIPv4(string s)
    {
        var p = new byte[4];
        var pos = 0;
        for (var i = 0; i < 4; i++)
        {
            if (pos >= s.Length)
            {
                return null;
            }
            if (i > 0)
            {
                if (s[pos] != '.')
                {
                    return null;
                }
                pos++;
            }
            var (n, c, ok) = Dtoi(s.AsSpan(pos));
            // Leading zeros are accepted, as upstream keeps accepting stored data that has them (issue 100895).
            if (!ok || n > 0xFF)
            {
                return null;
            }
            pos += c;
            p[i] = (byte)n;
        }
        if (pos != s.Length)
        {
            return null;
        }
        var ip = new byte[16];
        ip[10] = 0xff;
        ip[11] = 0xff;
        p.CopyTo(ip, 12);
        return ip;
    }

    /// <summary>RFC 4291 text (one "::", optional trailing dotted IPv4), 16 bytes, or null.</summary>
    public static byte[]? ParseIPv6(string input)
    {
        var ip = new byte[16];
        var ellipsis = -1;
        var s = input.AsSpan();
        if (s.Length >= 2 && s[0] == ':' && s[1] == ':')
        {
            ellipsis = 0;
            s = s[2..];
            if (s.Length == 0)
            {
                return ip;
            }
        }
        var i = 0;
        while (i < 16)
        {
            var (n, c, ok) = Xtoi(s);
            if (!ok || n > 0xFFFF)
            {
                return null;
            }
            if (c < s.Length && s[c] == '.')
            {
                if ((ellipsis < 0 && i != 12) || i + 4 > 16)
                {
                    return null;
                }
                var ip4 = ParseIPv4(s.ToString());
                if (ip4 is null)
                {
                    return null;
                }
                Array.Copy(ip4, 12, ip, i, 4);
                s = [];
                i += 4;
                break;
            }
            ip[i] = (byte)(n >> 8);
            ip[i + 1] = (byte)n;
            i += 2;
            s = s[c..];
            if (s.Length == 0)
            {
                break;
            }
            if (s[0] != ':' || s.Length == 1)
            {
                return null;
            }
            s = s[1..];
            if (s[0] == ':')
            {
                if (ellipsis >= 0)
                {
                    return null;
                }
                ellipsis = i;
                s = s[1..];
                if (s.Length == 0)
                {
                    break;
                }
            }
        }
        if (s.Length != 0)
        {
            return null;
        }
        if (i < 16)
        {
            if (ellipsis < 0)
            {
                return null;
            }
            var shift = 16 - i;
            for (var j = i - 1; j >= ellipsis; j--)
            {
                ip[j + shift] = ip[j];
            }
            for (var j = ellipsis + shift - 1; j >= ellipsis; j--)
            {
                ip[j] = 0;
            }
        }
        else if (ellipsis >= 0)
        {
            return null;
        }
        return ip;
    }

    private static (int N, int Consumed, bool Ok) Dtoi(ReadOnlySpan<char> s)
    {
        var n = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            n = (n * 10) + (s[i] - '0');
            if (n >= Big)
            {
                return (Big, i, false);
            }
        }
        return i == 0 ? (0, 0, false) : (n, i, true);
    }

    private static (int N, int Consumed, bool Ok) Xtoi(ReadOnlySpan<char> s)
    {
        var n = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiHexDigit(s[i]); i++)
        {
            var c = s[i];
            n = (n * 16) + (char.IsAsciiDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (n >= Big)
            {
                return (0, i, false);
            }
        }
        return i == 0 ? (0, 0, false) : (n, i, true);
    }

    private static byte[] CidrMask(int ones, int bits)
    {
        var m = new byte[bits / 8];
        for (var i = 0; i < m.Length; i++)
        {
            var take = Math.Clamp(ones - (8 * i), 0, 8);
            m[i] = (byte)(0xFF << (8 - take));
        }
        return m;
    }

    private static byte[]? MaskIP(byte[] ip, byte[] mask)
    {
        if (mask.Length == 16 && ip.Length == 4 && AllFF(mask.AsSpan(0, 12)))
        {
            mask = mask[12..];
        }
        if (mask.Length == 4 && ip.Length == 16 && IsZero(ip.AsSpan(0, 10)) && ip[10] == 0xff && ip[11] == 0xff)
        {
            ip = ip[12..];
        }
        if (ip.Length != mask.Length)
        {
            return null;
        }
        var result = new byte[ip.Length];
        for (var i = 0; i < ip.Length; i++)
        {
            result[i] = (byte)(ip[i] & mask[i]);
        }
        return result;
    }

    private static bool IsZero(ReadOnlySpan<byte> b) => !b.ContainsAnyExcept((byte)0);

    private static bool AllFF(ReadOnlySpan<byte> b) => !b.ContainsAnyExcept((byte)0xff);
}
