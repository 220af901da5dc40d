namespace Switchboard.ApiServer.Security;

/// <summary>What the serving certificate must cover. Changing these between starts re-issues only that certificate.</summary>
public sealed record PkiOptions
{
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>The Service CIDRs (<c>--service-cluster-ip-range</c>); the first IP of each is the <c>kubernetes</c> Service's ClusterIP.</summary>
    public IReadOnlyList<string> ServiceCidrs { get; init; } = ["10.96.0.0/12", "fd00:10:96::/112"];

    /// <summary>The <c>--advertise-address</c> values (IPs, or DNS names).</summary>
    public IReadOnlyList<string> AdvertiseAddresses { get; init; } = [];

    /// <summary>Further IPs or DNS names, e.g. the underlay gateway 172.18.0.1 and fd00:172:18::1 in <c>up</c>.</summary>
    public IReadOnlyList<string> ExtraSans { get; init; } = [];
}
