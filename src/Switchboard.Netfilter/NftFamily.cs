namespace Switchboard.Netfilter;

/// <summary>nftables address families Switchboard uses (arp, bridge and netdev are not needed).</summary>
internal enum NftFamily
{
    /// <summary>IPv4 (<c>ip</c>).</summary>
    Ip,

    /// <summary>IPv6 (<c>ip6</c>).</summary>
    Ip6,

    /// <summary>IPv4 and IPv6 (<c>inet</c>).</summary>
    Inet,
}

/// <summary>Conversions between <see cref="NftFamily"/> and nft's keywords.</summary>
internal static class NftFamilyExtensions
{
    public static string ToNft(this NftFamily family) => family switch
    {
        NftFamily.Ip => "ip",
        NftFamily.Ip6 => "ip6",
        NftFamily.Inet => "inet",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "unknown nftables family"),
    };

    public static bool TryParse(string text, out NftFamily family)
    {
        switch (text)
        {
            case "ip":
                family = NftFamily.Ip;
                return true;
            case "ip6":
                family = NftFamily.Ip6;
                return true;
            case "inet":
                family = NftFamily.Inet;
                return true;
            default:
                family = default;
                return false;
        }
    }
}

/// <summary>A table is named by family and name: <c>ip kube-proxy</c> and <c>ip6 kube-proxy</c> are different tables.</summary>
internal readonly record struct NftTableRef(NftFamily Family, string Name)
{
    public override string ToString() => Family.ToNft() + " " + Name;
}
