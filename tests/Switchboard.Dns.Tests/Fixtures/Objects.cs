using k8s.Models;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>Builders for the Services, EndpointSlices and Namespaces the tests create through the API.</summary>
public static class Objects
{
    public static V1Namespace Namespace(string name) => new() { Metadata = new V1ObjectMeta { Name = name } };

    public static V1Service ClusterIp(string ns, string name, string? ip, params (string Name, int Port, string Protocol)[] ports) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            ClusterIP = ip,
            Ports = [.. ports.Select(p => new V1ServicePort { Name = p.Name.Length == 0 ? null : p.Name, Port = p.Port, Protocol = p.Protocol })],
        },
    };

    public static V1Service Headless(string ns, string name, bool publishNotReady, params (string Name, int Port, string Protocol)[] ports) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            ClusterIP = "None",
            PublishNotReadyAddresses = publishNotReady ? true : null,
            Ports = ports.Length == 0 ? null : [.. ports.Select(p => new V1ServicePort { Name = p.Name, Port = p.Port, Protocol = p.Protocol })],
            Selector = new Dictionary<string, string> { ["app"] = name },
        },
    };

    public static V1Service ExternalName(string ns, string name, string target) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1ServiceSpec { Type = "ExternalName", ExternalName = target },
    };

    public static (string Ip, string? Hostname, bool? Ready) Ep(string ip, string? hostname = null, bool? ready = true) => (ip, hostname, ready);

    public static V1EndpointSlice Slice(string ns, string service, string name, string addressType, (string Name, int Port, string Protocol)[] ports, params (string Ip, string? Hostname, bool? Ready)[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service, ["endpointslice.kubernetes.io/managed-by"] = "test" },
        },
        AddressType = addressType,
        Ports = [.. ports.Select(p => new Discoveryv1EndpointPort { Name = p.Name, Port = p.Port, Protocol = p.Protocol })],
        Endpoints = [.. endpoints.Select(e => new V1Endpoint
        {
            Addresses = [e.Ip],
            Hostname = e.Hostname,
            Conditions = new V1EndpointConditions { Ready = e.Ready },
        })],
    };
}
