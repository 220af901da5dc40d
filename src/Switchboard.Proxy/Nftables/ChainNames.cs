using System.Security.Cryptography;
using System.Text;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Nftables;

/// <summary>
/// kube-proxy's chain naming: <c>prefix + HASH-ns/name/proto/port</c> (endpoints add <c>__ip/port</c>), HASH = the
/// first 8 characters of base32(sha256(name)) so names stay unique and visually distinct if ever truncated.
/// </summary>
internal static class ChainNames
{
    public const string ServicePrefix = "service-";
    public const string LocalPrefix = "local-";
    public const string ExternalPrefix = "external-";
    public const string EndpointPrefix = "endpoint-";
    public const string AffinityPrefix = "affinity-";
    public const string FirewallPrefix = "firewall-";

    /// <summary>knftables NameLengthMax (256) minus the longest prefix allowance (16).</summary>
    private const int BaseLengthMax = 256 - 16;

    private const string Base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    public static string ServicePortBase(ServicePortName spn, string protocolLower) =>
        HashAndTruncate(spn.Service.Namespace + "/" + spn.Service.Name + "/" + protocolLower + "/" + spn.Port);

    public static string EndpointBase(ServicePortName spn, string protocolLower, EndpointInfo ep) =>
        HashAndTruncate(spn.Service.Namespace + "/" + spn.Service.Name + "/" + protocolLower + "/" + spn.Port +
            "__" + ep.Ip.Replace(':', '.') + "/" + ep.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Service and endpoint chains always contain "/" and the fixed chains never do (upstream isServiceChainName).</summary>
    public static bool IsServiceChain(string chain) => chain.Contains('/', StringComparison.Ordinal);

    public static bool IsAffinitySet(string set) => set.StartsWith(AffinityPrefix, StringComparison.Ordinal);

    internal static string HashAndTruncate(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);

        // 8 base32 characters are exactly the first 40 bits (5 bytes) of the hash.
        ulong bits = 0;
        for (var i = 0; i < 5; i++)
        {
            bits = (bits << 8) | hash[i];
        }

        Span<char> prefix = stackalloc char[8];
        for (var i = 7; i >= 0; i--)
        {
            prefix[i] = Base32Alphabet[(int)(bits & 31)];
            bits >>= 5;
        }

        var result = string.Concat(prefix, "-", name);
        return result.Length > BaseLengthMax ? string.Concat(result.AsSpan(0, BaseLengthMax - 3), "...") : result;
    }
}
