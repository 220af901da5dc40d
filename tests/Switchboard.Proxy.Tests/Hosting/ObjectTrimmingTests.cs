using k8s.Models;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Tracking;

namespace Switchboard.Proxy.Tests.Hosting;

public sealed class ObjectTrimmingTests
{
    private static V1ManagedFieldsEntry[] Managed => [new V1ManagedFieldsEntry { Manager = "kubectl", Operation = "Apply" }];

    [Fact]
    public void EndpointSliceTransform_KeepsWhatTheTrackerReads_DropsTheRest()
    {
        var slice = new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta
            {
                Name = "web-abc",
                NamespaceProperty = "ns",
                ResourceVersion = "7",
                ManagedFields = Managed,
                OwnerReferences = [new V1OwnerReference { Kind = "Service", Name = "web", Uid = "u", ApiVersion = "v1" }],
                Labels = new Dictionary<string, string> { [ProxyLabels.ServiceName] = "web", ["endpointslice.kubernetes.io/managed-by"] = "x", [ProxyLabels.Headless] = "" },
                Annotations = new Dictionary<string, string> { [ProxyLabels.LastChangeTriggerTime] = "2026-11-26T10:00:00Z", ["note"] = "big" },
            },
            AddressType = "IPv4",
            Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP", AppProtocol = "http" }],
            Endpoints =
            [
                new V1Endpoint
                {
                    Addresses = new List<string> { "10.0.0.1", "10.0.0.9" },
                    NodeName = "node-a",
                    Zone = "a",
                    Hostname = "pod-1",
                    TargetRef = new V1ObjectReference { Kind = "Pod", Name = "pod-1" },
                    Conditions = new V1EndpointConditions { Ready = false, Serving = true, Terminating = true },
                    Hints = new V1EndpointHints { ForZones = [new V1ForZone { Name = "a" }], ForNodes = [new V1ForNode { Name = "node-a" }] },
                },
            ],
        };
        var before = SliceInfo.From(slice, remove: false);

        var trimmed = ObjectTrimming.EndpointSliceTransform()(slice);

        Assert.Equal(before, SliceInfo.From(trimmed, remove: false));
        Assert.Equal(("web-abc", "ns", "7"), (trimmed.Metadata.Name, trimmed.Metadata.NamespaceProperty, trimmed.Metadata.ResourceVersion));
        Assert.Null(trimmed.Metadata.ManagedFields);
        Assert.Null(trimmed.Metadata.OwnerReferences);
        Assert.Equal(new[] { ProxyLabels.ServiceName, ProxyLabels.Headless }.Order(StringComparer.Ordinal), trimmed.Metadata.Labels.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([ProxyLabels.LastChangeTriggerTime], trimmed.Metadata.Annotations.Keys);
        var e = Assert.Single(trimmed.Endpoints);
        Assert.Equal(["10.0.0.1"], e.Addresses);
        Assert.Null(e.TargetRef);
        Assert.Null(e.Hostname);
        Assert.Null(trimmed.Ports[0].AppProtocol);
    }

    [Fact]
    public void EndpointSliceTransform_RepeatedNodeNames_SharedStrings()
    {
        var transform = ObjectTrimming.EndpointSliceTransform();
        V1EndpointSlice Slice(string name) => new()
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ns" },
            Endpoints = [new V1Endpoint { Addresses = ["10.0.0.1"], NodeName = new string("node-a".AsSpan()) }],
        };

        var a = transform(Slice("a"));
        var b = transform(Slice("b"));

        Assert.Same(a.Endpoints[0].NodeName, b.Endpoints[0].NodeName);
    }

    [Fact]
    public void ServiceTransform_SameServicePorts_OptOutLabelKept()
    {
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta
            {
                Name = "lb",
                NamespaceProperty = "ns",
                ManagedFields = Managed,
                Annotations = new Dictionary<string, string> { ["kubectl.kubernetes.io/last-applied-configuration"] = "{...}" },
                Labels = new Dictionary<string, string> { ["app"] = "web" },
            },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer",
                ClusterIP = "10.96.0.10",
                ClusterIPs = ["10.96.0.10"],
                IpFamilies = ["IPv4"],
                Selector = new Dictionary<string, string> { ["app"] = "web" },
                ExternalTrafficPolicy = "Local",
                HealthCheckNodePort = 30100,
                SessionAffinity = "ClientIP",
                Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080, NodePort = 30080, Protocol = "TCP" }],
            },
            Status = new V1ServiceStatus
            {
                LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "192.0.2.10" }] },
                Conditions = [new V1Condition { Type = "x", Status = "True", Reason = "r", Message = "m", LastTransitionTime = DateTime.UnixEpoch }],
            },
        };
        var before = ServiceConversion.ToServicePorts(svc, IpFamily.IPv4);

        var trimmed = ObjectTrimming.ServiceTransform()(svc);

        Assert.Equal(before, ServiceConversion.ToServicePorts(trimmed, IpFamily.IPv4));
        Assert.Null(trimmed.Metadata.ManagedFields);
        Assert.Null(trimmed.Metadata.Annotations);
        Assert.Null(trimmed.Metadata.Labels);
        Assert.Null(trimmed.Spec.Selector);
        Assert.Null(trimmed.Status.Conditions);

        var optedOut = ObjectTrimming.ServiceTransform()(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "x", NamespaceProperty = "ns", Labels = new Dictionary<string, string> { [ProxyLabels.ServiceProxyName] = "other" } },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.0.11" },
        });
        Assert.True(ServiceConversion.ShouldSkip(optedOut));
    }
}
