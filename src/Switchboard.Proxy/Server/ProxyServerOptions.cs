using System.Net;

namespace Switchboard.Proxy.Server;

/// <summary>Node-level proxy settings (kube-proxy flags of the same meaning).</summary>
internal sealed record ProxyServerOptions
{
    /// <summary>This node's name (<c>--hostname-override</c>).</summary>
    public required string NodeName { get; init; }

    /// <summary>The node's primary IPs (<c>--node-ip</c>); one proxier runs per family present here.</summary>
    public required IReadOnlyList<IPAddress> NodeIps { get; init; }

    /// <summary><c>--cluster-cidr</c>: traffic from these is "local" (not masqueraded to ClusterIPs).</summary>
    public IReadOnlyList<IPNetwork> ClusterCidrs { get; init; } = [];

    /// <summary><c>--nodeport-addresses</c>; null means the node IPs (upstream nftables default "primary").</summary>
    public IReadOnlyList<IPAddress>? NodePortAddresses { get; init; }

    public string TableName { get; init; } = Nftables.NftablesProxierOptions.DefaultTableName;

    public bool MasqueradeAll { get; init; }

    /// <summary>Serve healthCheckNodePorts for eTP=Local LoadBalancer Services on the NodePort addresses.</summary>
    public bool ServeHealthChecks { get; init; } = true;

    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(30);
}
