using System.Net;
using System.Net.Sockets;

namespace Switchboard.Proxy.Model;

/// <summary>The address family a single-stack proxier works on (kube-proxy runs one per family).</summary>
public enum IpFamily
{
    IPv4,
    IPv6,
}

internal static class IpFamilyExtensions
{
    public static AddressFamily ToAddressFamily(this IpFamily family) =>
        family == IpFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    public static bool Matches(this IpFamily family, IPAddress address) =>
        address.AddressFamily == family.ToAddressFamily();

    /// <summary>Parses an IP as kube-proxy's ParseIPSloppy would accept it; null when it is not an IP.</summary>
    public static IPAddress? ParseIp(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !IPAddress.TryParse(text.Trim(), out var ip))
        {
            return null;
        }

        // Go's parser refuses zone ids and IPv4 in brackets; keep the canonical form only.
        return ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0 ? null : ip;
    }

    public static IPNetwork? ParseCidr(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !IPNetwork.TryParse(text.Trim(), out var net))
        {
            return null;
        }

        return net;
    }
}
