using System.Net;

namespace Switchboard.Proxy.Hosting;

/// <summary>What the agent passes to <see cref="ProxyServer"/> (kube-proxy flags of the same meaning in brackets).</summary>
internal sealed record ProxyServerOptions
{
    /// <summary>A new instance each time: IPEndPoint is mutable, so no shared static one.</summary>
    public static IPEndPoint DefaultHealthzBindAddress => new(IPAddress.Any, 10256);

    public static IPEndPoint DefaultMetricsBindAddress => new(IPAddress.Any, 10249);

    /// <summary>This node's name (<c>--hostname-override</c>; the agent's <c>--node-name</c>).</summary>
    public required string NodeName { get; init; }

    /// <summary>The node's primary IPs, at most one per family (<c>--node-ip</c>); used for LB source ranges.</summary>
    public IReadOnlyList<IPAddress> NodeIps { get; init; } = [];

    /// <summary><c>--cluster-cidr</c> (both families): local-traffic detection. Empty: no detection.</summary>
    public IReadOnlyList<IPNetwork> ClusterCidrs { get; init; } = [];

    /// <summary><c>--nodeport-addresses</c> as IPs; null = the <see cref="NodeIps"/> (upstream nftables default "primary").</summary>
    public IReadOnlyList<IPAddress>? NodePortAddresses { get; init; }

    public bool MasqueradeAll { get; init; }

    public int MasqueradeBit { get; init; } = 14;

    /// <summary><c>--iptables-min-sync-period</c> (nftables mode default 1 s).</summary>
    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>--iptables-sync-period</c>: retry delay after a failed sync; healthz timeout is twice this.</summary>
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest time between syncs without changes (nftables mode: 1 h).</summary>
    public TimeSpan MaxSyncPeriod { get; init; } = TimeSpan.FromHours(1);

    public string TableName { get; init; } = Nftables.NftablesProxierOptions.DefaultTableName;

    /// <summary><c>--healthz-bind-address</c>; null disables the listener.</summary>
    public IPEndPoint? HealthzBindAddress { get; init; } = DefaultHealthzBindAddress;

    /// <summary><c>--metrics-bind-address</c>; null disables the listener.</summary>
    public IPEndPoint? MetricsBindAddress { get; init; } = DefaultMetricsBindAddress;

    /// <summary>
    /// Addresses the healthCheckNodePort servers listen on. Null: the <see cref="NodePortAddresses"/> when set, else
    /// all addresses (0.0.0.0), as upstream with nodePortAddresses unset.
    /// </summary>
    public IReadOnlyList<IPAddress>? HealthCheckNodePortAddresses { get; init; }

    /// <summary>How long a queued update may wait for a successful sync before /healthz fails (upstream: 2 × syncPeriod).</summary>
    public TimeSpan? HealthTimeout { get; init; }
}
