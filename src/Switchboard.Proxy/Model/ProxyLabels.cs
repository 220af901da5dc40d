namespace Switchboard.Proxy.Model;

/// <summary>Well-known labels and values the proxy reads (upstream constants).</summary>
internal static class ProxyLabels
{
    /// <summary>Services and slices with this label belong to another proxy (KEP-2447).</summary>
    public const string ServiceProxyName = "service.kubernetes.io/service-proxy-name";

    /// <summary>Set by the EndpointSlice controller on slices of headless Services.</summary>
    public const string Headless = "service.kubernetes.io/headless";

    public const string ServiceName = "kubernetes.io/service-name";

    public const string TopologyZone = "topology.kubernetes.io/zone";

    public const string LastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";

    public const int DefaultClientIpTimeoutSeconds = 10800;
}
