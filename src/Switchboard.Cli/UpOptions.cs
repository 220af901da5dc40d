using System.Net;

namespace Switchboard.Cli;

/// <summary>The flags of `switchboard up` beyond the server's (ARCHITECTURE.md §1).</summary>
internal sealed record UpOptions
{
    public int Nodes { get; init; } = 1;

    public IReadOnlyList<string> Zones { get; init; } = [];

    /// <summary>--lb-host-address: where LoadBalancer Services are published (IPv4 loopback).</summary>
    public IPAddress LbHostAddress { get; init; } = IPAddress.Loopback;

    /// <summary>--cluster-dns: the kube-dns Service IP Pods get in resolv.conf.</summary>
    public IPAddress ClusterDns { get; init; } = IPAddress.Parse("10.96.0.10");

    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>--dns-upstream: resolver for names outside the cluster domain; none by default.</summary>
    public string? DnsUpstream { get; init; }
}
