using k8s.Models;

namespace Switchboard.Proxy.Tests;

/// <summary>Small builders for the API objects the proxy consumes.</summary>
internal static class Builders
{
    public static V1Service Service(string ns, string name, string clusterIp, params V1ServicePort[] ports) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            ClusterIP = clusterIp,
            ClusterIPs = clusterIp == "None" ? ["None"] : [clusterIp],
            IpFamilies = clusterIp.Contains(':') ? ["IPv6"] : clusterIp == "None" ? ["IPv4"] : ["IPv4"],
            Ports = ports,
        },
    };

    public static V1ServicePort Port(string name, int port, string protocol = "TCP", int nodePort = 0) => new()
    {
        Name = name,
        Port = port,
        Protocol = protocol,
        NodePort = nodePort == 0 ? null : nodePort,
    };

    public static V1Service With(this V1Service svc, Action<V1ServiceSpec> change)
    {
        change(svc.Spec);
        return svc;
    }

    public static V1Service LoadBalancerIps(this V1Service svc, params string[] ips)
    {
        svc.Status = new V1ServiceStatus
        {
            LoadBalancer = new V1LoadBalancerStatus { Ingress = [.. ips.Select(ip => new V1LoadBalancerIngress { Ip = ip })] },
        };
        return svc;
    }

    public static V1EndpointSlice Slice(string ns, string service, string sliceName, string addressType, Discoveryv1EndpointPort[] ports, params V1Endpoint[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta
        {
            NamespaceProperty = ns,
            Name = sliceName,
            Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service },
        },
        AddressType = addressType,
        Ports = ports,
        Endpoints = endpoints,
    };

    public static Discoveryv1EndpointPort EpPort(string name, int port, string protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };

    public static V1Endpoint Ep(string ip, string? node = null, bool? ready = true, bool? serving = null, bool? terminating = null, string? zone = null, string[]? zoneHints = null, string[]? nodeHints = null) => new()
    {
        Addresses = [ip],
        NodeName = node,
        Zone = zone,
        Conditions = new V1EndpointConditions { Ready = ready, Serving = serving, Terminating = terminating },
        Hints = zoneHints is null && nodeHints is null
            ? null
            : new V1EndpointHints
            {
                ForZones = zoneHints?.Select(z => new V1ForZone { Name = z }).ToList(),
                ForNodes = nodeHints?.Select(n => new V1ForNode { Name = n }).ToList(),
            },
    };
}
