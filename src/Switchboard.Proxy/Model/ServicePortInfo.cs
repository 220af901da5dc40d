using System.Net;

namespace Switchboard.Proxy.Model;

/// <summary>
/// The cut-down, immutable view of one Service port for one IP family (upstream BaseServicePortInfo). Everything a
/// backend needs; nothing from the API object is kept.
/// </summary>
internal sealed record ServicePortInfo
{
    private readonly IPAddress _clusterIp = IPAddress.None;
    private readonly int _port;
    private readonly int _nodePort;

    public required ServicePortName Name { get; init; }

    public required IPAddress ClusterIP
    {
        get => _clusterIp;
        init
        {
            _clusterIp = value;
            ClusterIPText = value.ToString();
        }
    }

    /// <summary>Canonical text of <see cref="ClusterIP"/>, computed once (the sync loop uses it for every Service every sync).</summary>
    public string ClusterIPText { get; private init; } = "";

    public required int Port
    {
        get => _port;
        init
        {
            _port = value;
            PortText = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public string PortText { get; private init; } = "";

    /// <summary>API spelling: "TCP", "UDP" or "SCTP".</summary>
    public required string Protocol { get; init; }

    public int NodePort
    {
        get => _nodePort;
        init
        {
            _nodePort = value;
            NodePortText = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public string NodePortText { get; private init; } = "0";

    public ValueArray<IPAddress> ExternalIPs { get; init; }

    /// <summary>Status ingress IPs of this family with ipMode VIP (or unset).</summary>
    public ValueArray<IPAddress> LoadBalancerVIPs { get; init; }

    public ValueArray<IPNetwork> LoadBalancerSourceRanges { get; init; }

    public bool SessionAffinityClientIP { get; init; }

    public int StickyMaxAgeSeconds { get; init; }

    public int HealthCheckNodePort { get; init; }

    public bool ExternalPolicyLocal { get; init; }

    public bool InternalPolicyLocal { get; init; }

    /// <summary>nft protocol keyword ("tcp").</summary>
    public string ProtocolLower => Protocol switch
    {
        "TCP" => "tcp",
        "UDP" => "udp",
        "SCTP" => "sctp",
        _ => Protocol.ToLowerInvariant(),
    };

    /// <summary>NodePort, externalIPs or LoadBalancer VIPs: reachable from outside the cluster.</summary>
    public bool ExternallyAccessible => NodePort != 0 || !LoadBalancerVIPs.IsEmpty || !ExternalIPs.IsEmpty;

    /// <summary>
    /// Some traffic to this port uses Cluster endpoints (upstream UsesClusterEndpoints): iTP Cluster, or any external
    /// access at all, because even with eTP Local the pod/node short-circuit goes to the Cluster endpoints.
    /// </summary>
    public bool UsesClusterEndpoints => !InternalPolicyLocal || ExternallyAccessible;

    /// <summary>Some traffic to this port uses Local policy (upstream UsesLocalEndpoints).</summary>
    public bool UsesLocalEndpoints => InternalPolicyLocal || (ExternallyAccessible && ExternalPolicyLocal);
}
