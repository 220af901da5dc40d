using System.Net;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Nftables;

/// <summary>Settings of one single-family nftables proxier (kube-proxy flags of the same meaning in brackets).</summary>
internal sealed record NftablesProxierOptions
{
    /// <summary>The private table, one per family (<c>ip</c>/<c>ip6</c>). Nothing else may write to it.</summary>
    public const string DefaultTableName = "switchboard-proxy";

    public required IpFamily Family { get; init; }

    /// <summary>This node's name (<c>--hostname-override</c>): endpoints with this nodeName are local.</summary>
    public required string NodeName { get; init; }

    public string TableName { get; init; } = DefaultTableName;

    /// <summary>The node's primary IP of this family (<c>--node-ip</c>); LB source ranges containing it allow LB VIPs as sources.</summary>
    public IPAddress? NodeIp { get; init; }

    /// <summary>Local-traffic detection (<c>--detect-local-mode=ClusterCIDR</c>, <c>--cluster-cidr</c>), this family's CIDRs only. Empty: no detection.</summary>
    public IReadOnlyList<IPNetwork> ClusterCidrs { get; init; } = [];

    /// <summary>
    /// IPs that accept NodePort traffic (<c>--nodeport-addresses</c>). Null means every local address except loopback
    /// (<c>fib daddr type local</c>). Upstream's nftables default is the node's primary IPs.
    /// </summary>
    public IReadOnlyList<IPAddress>? NodePortAddresses { get; init; }

    /// <summary><c>--masquerade-all</c>: masquerade all ClusterIP traffic.</summary>
    public bool MasqueradeAll { get; init; }

    /// <summary><c>--iptables-masquerade-bit</c> (default 14 → mark 0x4000).</summary>
    public int MasqueradeBit { get; init; } = 14;

    /// <summary><c>--iptables-min-sync-period</c>.</summary>
    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Retry delay after a failed sync (<c>--iptables-sync-period</c>).</summary>
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Stale chains are flushed at once and deleted no sooner than this later (kernels before 6.2 unreference lazily).</summary>
    public TimeSpan StaleChainDelay { get; init; } = TimeSpan.FromSeconds(1);
}
