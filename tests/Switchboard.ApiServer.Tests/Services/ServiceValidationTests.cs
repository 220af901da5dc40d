using k8s.Models;
using Switchboard.ApiServer.Registry.Strategies;

namespace Switchboard.ApiServer.Tests.Services;

/// <summary>
/// Upstream's TestValidateServiceCreate / TestValidateServiceUpdate / TestValidateServiceExternalTrafficPolicy cases
/// (pkg/apis/core/validation/validation_test.go), each asserting the exact field path and message upstream renders.
/// </summary>
public sealed class ServiceValidationTests
{
    private const string Dns1123Label = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    private const string Dns1123Subdomain = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    private const string QualifiedNamePart = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    private const string BadIp = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    private const string BadCidr = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

    /// <summary>Upstream makeValidService.</summary>
    private static V1Service Valid() => new()
    {
        Metadata = new V1ObjectMeta { Name = "valid", NamespaceProperty = "default", Labels = new Dictionary<string, string>(), Annotations = new Dictionary<string, string>(), ResourceVersion = "1" },
        Spec = new V1ServiceSpec
        {
            Selector = new Dictionary<string, string> { ["key"] = "val" },
            SessionAffinity = "None",
            Type = "ClusterIP",
            Ports = [new V1ServicePort { Name = "p", Protocol = "TCP", Port = 8675, TargetPort = 8675 }],
            InternalTrafficPolicy = "Cluster",
        },
    };

    private static V1ServicePort Port(string name, int port, string protocol = "TCP", int? nodePort = null, int? target = null) =>
        new() { Name = name, Port = port, Protocol = protocol, NodePort = nodePort, TargetPort = target ?? port };

    private static void Lb(V1Service s)
    {
        s.Spec.Type = "LoadBalancer";
        s.Spec.ExternalTrafficPolicy = "Cluster";
        s.Spec.AllocateLoadBalancerNodePorts = true;
    }

    private static void NodePort(V1Service s)
    {
        s.Spec.Type = "NodePort";
        s.Spec.ExternalTrafficPolicy = "Cluster";
    }

    public static TheoryData<string, Action<V1Service>, string[]> CreateCases => new()
    {
        { "valid 1", _ => { }, [] },
        { "nil selector", s => s.Spec.Selector = null, [] },
        { "invalid selector", s => s.Spec.Selector["NoSpecialCharsLike=Equals"] = "bar",
            ["spec.selector: Invalid value: \"NoSpecialCharsLike=Equals\": " + QualifiedNamePart] },
        { "missing session affinity", s => s.Spec.SessionAffinity = "", ["spec.sessionAffinity: Required value"] },
        { "missing type", s => s.Spec.Type = "", ["spec.type: Required value"] },
        { "missing ports", s => s.Spec.Ports = null, ["spec.ports: Required value"] },
        { "missing ports but headless", s => { s.Spec.Ports = null; s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; }, [] },
        { "empty port[0] name", s => s.Spec.Ports[0].Name = "", [] },
        { "empty port[1] name", s => s.Spec.Ports.Add(Port("", 12345)), ["spec.ports[1].name: Required value"] },
        { "empty multi-port port[0] name", s => { s.Spec.Ports[0].Name = ""; s.Spec.Ports.Add(Port("p", 12345)); }, ["spec.ports[0].name: Required value"] },
        { "invalid port name", s => s.Spec.Ports[0].Name = "INVALID", ["spec.ports[0].name: Invalid value: \"INVALID\": " + Dns1123Label] },
        { "missing protocol", s => s.Spec.Ports[0].Protocol = "", ["spec.ports[0].protocol: Required value"] },
        { "invalid protocol", s => s.Spec.Ports[0].Protocol = "INVALID",
            ["spec.ports[0].protocol: Unsupported value: \"INVALID\": supported values: \"SCTP\", \"TCP\", \"UDP\""] },
        { "invalid cluster ip", s => { s.Spec.ClusterIP = "invalid"; s.Spec.ClusterIPs = ["invalid"]; }, ["spec.clusterIPs[0]: Invalid value: \"invalid\": " + BadIp] },
        { "missing port", s => s.Spec.Ports[0].Port = 0, ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"] },
        { "invalid port", s => s.Spec.Ports[0].Port = 65536, ["spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"] },
        { "invalid TargetPort int", s => s.Spec.Ports[0].TargetPort = 65536, ["spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive"] },
        { "invalid TargetPort name", s => s.Spec.Ports[0].TargetPort = "-Bad--Port-Name-", [
            "spec.ports[0].targetPort: Invalid value: \"-Bad--Port-Name-\": must be no more than 15 characters",
            "spec.ports[0].targetPort: Invalid value: \"-Bad--Port-Name-\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ports[0].targetPort: Invalid value: \"-Bad--Port-Name-\": must not contain consecutive hyphens",
            "spec.ports[0].targetPort: Invalid value: \"-Bad--Port-Name-\": must not begin or end with a hyphen"] },
        { "valid port headless", s => { s.Spec.Ports[0].Port = 11722; s.Spec.Ports[0].TargetPort = 11722; s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; }, [] },
        { "targetPort on headless tolerated", s => { s.Spec.Ports[0].Port = 11722; s.Spec.Ports[0].TargetPort = "target"; s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; }, [] },
        { "invalid publicIPs localhost", s => { s.Spec.ExternalTrafficPolicy = "Cluster"; s.Spec.ExternalIPs = ["127.0.0.1"]; },
            ["spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"] },
        { "invalid publicIPs unspecified", s => { s.Spec.ExternalTrafficPolicy = "Cluster"; s.Spec.ExternalIPs = ["0.0.0.0"]; },
            ["spec.externalIPs[0]: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"] },
        { "invalid publicIPs link-local", s => { s.Spec.ExternalTrafficPolicy = "Cluster"; s.Spec.ExternalIPs = ["169.254.1.1", "ff02::1"]; }, [
            "spec.externalIPs[0]: Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            "spec.externalIPs[1]: Invalid value: \"ff02::1\": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"] },
        { "invalid publicIPs host", s => { s.Spec.ExternalTrafficPolicy = "Cluster"; s.Spec.ExternalIPs = ["myhost.mydomain"]; },
            ["spec.externalIPs[0]: Invalid value: \"myhost.mydomain\": " + BadIp] },
        { "valid publicIPs", s => { s.Spec.ExternalTrafficPolicy = "Cluster"; s.Spec.ExternalIPs = ["1.2.3.4"]; }, [] },
        { "dup port name", s => { s.Spec.Ports[0].Name = "p"; s.Spec.Ports.Add(Port("p", 12345)); }, ["spec.ports[1].name: Duplicate value: \"p\""] },
        { "valid load balancer protocol UDP", s => { Lb(s); s.Spec.Ports[0].Protocol = "UDP"; }, [] },
        { "load balancer with mix protocol", s => { Lb(s); s.Spec.Ports.Add(Port("q", 12345, "UDP")); }, [] },
        { "valid 3 (named targetPort)", s => s.Spec.Ports[0].TargetPort = "http", [] },
        { "valid type - loadbalancer with allocateLoadBalancerNodePorts=false", s => { Lb(s); s.Spec.AllocateLoadBalancerNodePorts = false; }, [] },
        { "invalid type - missing AllocateLoadBalancerNodePorts for loadbalancer type", s => { Lb(s); s.Spec.AllocateLoadBalancerNodePorts = null; },
            ["allocateLoadBalancerNodePorts: Required value"] },
        { "invalid type", s => s.Spec.Type = "Bogus", [
            "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""] },
        { "duplicate nodeports", s => { NodePort(s); s.Spec.Ports.Add(Port("q", 1, nodePort: 1)); s.Spec.Ports.Add(Port("r", 2, nodePort: 1)); },
            ["spec.ports[2].nodePort: Duplicate value: 1"] },
        { "duplicate nodeports (different protocols)", s => { NodePort(s); s.Spec.Ports.Add(Port("q", 1, nodePort: 1)); s.Spec.Ports.Add(Port("r", 2, "UDP", 1)); s.Spec.Ports.Add(Port("s", 3, "SCTP", 1)); }, [] },
        { "invalid duplicate ports (with same protocol)", s => { s.Spec.Ports.Add(Port("q", 12345, target: 8080)); s.Spec.Ports.Add(Port("r", 12345, target: 80)); },
            ["spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:12345, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"] },
        { "valid duplicate ports (with different protocols)", s => { s.Spec.Ports.Add(Port("q", 12345, target: 8080)); s.Spec.Ports.Add(Port("r", 12345, "UDP", target: 80)); s.Spec.Ports.Add(Port("s", 12345, "SCTP", target: 8088)); }, [] },
        { "valid type loadbalancer with NodePort", s => { Lb(s); s.Spec.Ports.Add(Port("q", 12345, nodePort: 12345)); }, [] },
        { "invalid cluster service with NodePort", s => s.Spec.Ports.Add(Port("q", 12345, nodePort: 12345)),
            ["spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"] },
        { "valid LoadBalancer source range annotation", s => { Lb(s); s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "1.2.3.0/24,  5.6.0.0/16"; }, [] },
        { "valid whitespace-only LoadBalancer source range annotation", s => { Lb(s); s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "  "; }, [] },
        { "invalid LoadBalancer source range annotation (hostname)", s => { Lb(s); s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "foo.bar"; },
            ["metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: \"foo.bar\": " + BadCidr] },
        { "invalid LoadBalancer source range annotation (invalid CIDR)", s => { Lb(s); s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "1.2.3.4/33"; },
            ["metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: \"1.2.3.4/33\": " + BadCidr] },
        { "invalid empty-but-set LoadBalancer source range annotation for non LoadBalancer type service", s => s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "",
            ["metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Forbidden: may only be used when `type` is 'LoadBalancer'"] },
        { "valid LoadBalancer source range with whitespace", s => { Lb(s); s.Spec.LoadBalancerSourceRanges = ["1.2.3.0/24  ", " 5.6.0.0/16"]; }, [] },
        { "invalid empty LoadBalancer source range", s => { Lb(s); s.Spec.LoadBalancerSourceRanges = ["   "]; },
            ["spec.LoadBalancerSourceRanges[0]: Invalid value: \"\": " + BadCidr] },
        { "invalid source range for non LoadBalancer type service", s => s.Spec.LoadBalancerSourceRanges = ["1.2.3.0/24", "5.6.0.0/16"],
            ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"] },
        { "invalid source range annotation ignored with valid source range field", s => { Lb(s); s.Metadata.Annotations[ServiceValidation.LoadBalancerSourceRangesAnnotation] = "foo.bar"; s.Spec.LoadBalancerSourceRanges = ["1.2.3.0/24"]; }, [] },
        { "valid ExternalName (trailing dot)", s => { s.Spec.Type = "ExternalName"; s.Spec.ExternalName = "foo.bar.example.com."; }, [] },
        { "invalid ExternalName clusterIP (valid IP)", s => { s.Spec.Type = "ExternalName"; s.Spec.ClusterIP = "1.2.3.4"; s.Spec.ClusterIPs = ["1.2.3.4"]; s.Spec.ExternalName = "foo.bar.example.com"; },
            ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"] },
        { "invalid ExternalName (not a DNS name)", s => { s.Spec.Type = "ExternalName"; s.Spec.ExternalName = "-123"; },
            ["spec.externalName: Invalid value: \"-123\": " + Dns1123Subdomain] },
        { "missing ExternalName", s => s.Spec.Type = "ExternalName", ["spec.externalName: Required value"] },
        { "LoadBalancer type cannot have None ClusterIP", s => { Lb(s); s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; },
            ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"] },
        { "invalid node port with clusterIP None", s => { NodePort(s); s.Spec.Ports.Add(Port("q", 1, nodePort: 1)); s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; },
            ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"] },
        { "invalid externalTraffic field", s => { Lb(s); s.Spec.ExternalTrafficPolicy = "invalid"; },
            ["spec.externalTrafficPolicy: Unsupported value: \"invalid\": supported values: \"Cluster\", \"Local\""] },
        { "nil internalTraffic field", s => s.Spec.InternalTrafficPolicy = null, ["spec.internalTrafficPolicy: Required value"] },
        { "internalTrafficPolicy field nil when type is ExternalName", s => { s.Spec.InternalTrafficPolicy = null; s.Spec.Type = "ExternalName"; s.Spec.ExternalName = "foo.bar.com"; }, [] },
        { "invalid internalTraffic field", s => s.Spec.InternalTrafficPolicy = "invalid",
            ["spec.internalTrafficPolicy: Unsupported value: \"invalid\": supported values: \"Cluster\", \"Local\""] },
        { "negative healthCheckNodePort field", s => { Lb(s); s.Spec.ExternalTrafficPolicy = "Local"; s.Spec.HealthCheckNodePort = -1; },
            ["spec.healthCheckNodePort: Invalid value: -1: must be between 1 and 65535, inclusive"] },
        { "valid healthCheckNodePort field", s => { Lb(s); s.Spec.ExternalTrafficPolicy = "Local"; s.Spec.HealthCheckNodePort = 31100; }, [] },
        { "invalid timeoutSeconds field", s => { s.Spec.SessionAffinity = "ClientIP"; s.Spec.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = -1 } }; },
            ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: -1: must be greater than 0 and less than 86400"] },
        { "ClientIP without config", s => s.Spec.SessionAffinity = "ClientIP",
            ["spec.sessionAffinityConfig: Required value: when session affinity type is ClientIP"] },
        { "sessionAffinityConfig can't be set when session affinity is None", s => { Lb(s); s.Spec.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 90 } }; },
            ["spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"] },
        { "invalid, service with invalid ipFamilies", s => s.Spec.IpFamilies = ["not-a-valid-ip-family"],
            ["spec.ipFamilies[0]: Unsupported value: \"not-a-valid-ip-family\": supported values: \"IPv4\", \"IPv6\""] },
        { "IPFamilyPolicy(singleStack) is set for two families", s => { s.Spec.IpFamilyPolicy = "SingleStack"; s.Spec.IpFamilies = ["IPv4", "IPv6"]; }, [] },
        { "invalid, service with 2+ ipFamilies", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.IpFamilies = ["IPv4", "IPv6", "IPv4"]; },
            ["spec.ipFamilies[2]: Duplicate value: \"IPv4\""] },
        { "invalid, service with same ip families", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.IpFamilies = ["IPv6", "IPv6"]; },
            ["spec.ipFamilies[1]: Duplicate value: \"IPv6\""] },
        { "invalid ipFamilyPolicy", s => s.Spec.IpFamilyPolicy = "Bogus",
            ["spec.ipFamilyPolicy: Unsupported value: \"Bogus\": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\""] },
        { "invalid, garbage ips", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "garbage-ip"; s.Spec.ClusterIPs = ["garbage-ip", "garbage-second-ip"]; }, [
            "spec.clusterIPs[0]: Invalid value: \"garbage-ip\": " + BadIp,
            "spec.clusterIPs[1]: Invalid value: \"garbage-second-ip\": " + BadIp] },
        { "invalid, NONE + IP", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None", "2001::1"]; },
            ["spec.clusterIPs: Invalid value: []string{\"None\", \"2001::1\"}: 'None' must be the first and only value"] },
        { "invalid, IP + NONE", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "2001::1"; s.Spec.ClusterIPs = ["2001::1", "None"]; },
            ["spec.clusterIPs[1]: Invalid value: \"None\": " + BadIp] },
        { "invalid, EMPTY STRING + IP", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = ""; s.Spec.ClusterIPs = ["", "2001::1"]; }, [
            "spec.clusterIPs: Invalid value: []string{\"\", \"2001::1\"}: must be empty when `clusterIP` is not specified",
            "spec.clusterIPs[0]: Invalid value: \"\": " + BadIp] },
        { "invalid, same ip family (v6)", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "2001::1"; s.Spec.ClusterIPs = ["2001::1", "2001::4"]; s.Spec.IpFamilies = ["IPv4", "IPv6"]; }, [
            "spec.clusterIPs: Invalid value: []string{\"2001::1\", \"2001::4\"}: may specify no more than one IP for each IP family",
            "spec.clusterIPs[0]: Invalid value: \"2001::1\": expected an IPv4 value as indicated by `ipFamilies[0]`"] },
        { "invalid, more than two ips", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "10.0.0.1"; s.Spec.ClusterIPs = ["10.0.0.1", "2001::1", "10.0.0.10"]; s.Spec.IpFamilies = ["IPv4", "IPv6"]; },
            ["spec.clusterIPs: Invalid value: []string{\"10.0.0.1\", \"2001::1\", \"10.0.0.10\"}: may only hold up to 2 values"] },
        { "multi ip, dualstack not set (request for downgrade)", s => { s.Spec.IpFamilyPolicy = "SingleStack"; s.Spec.ClusterIP = "10.0.0.1"; s.Spec.ClusterIPs = ["10.0.0.1", "2001::1"]; s.Spec.IpFamilies = ["IPv4", "IPv6"]; }, [] },
        { "valid, headless-no-selector + multi family", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = ["None"]; s.Spec.IpFamilies = ["IPv4", "IPv6"]; s.Spec.Selector = null; }, [] },
        { "invalid, families don't match (v4=>v6)", s => { s.Spec.ClusterIP = "10.0.0.1"; s.Spec.ClusterIPs = ["10.0.0.1"]; s.Spec.IpFamilies = ["IPv6"]; },
            ["spec.clusterIPs[0]: Invalid value: \"10.0.0.1\": expected an IPv6 value as indicated by `ipFamilies[0]`"] },
        { "invalid, families don't match (v6=>v4)", s => { s.Spec.ClusterIP = "2001::1"; s.Spec.ClusterIPs = ["2001::1"]; s.Spec.IpFamilies = ["IPv4"]; },
            ["spec.clusterIPs[0]: Invalid value: \"2001::1\": expected an IPv4 value as indicated by `ipFamilies[0]`"] },
        { "valid, ips, multi ipfamilies (6,4)", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "2001::1"; s.Spec.ClusterIPs = ["2001::1", "10.0.0.1"]; s.Spec.IpFamilies = ["IPv6", "IPv4"]; }, [] },
        { "valid appProtocol", s => s.Spec.Ports = [new V1ServicePort { Port = 12345, TargetPort = 12345, Protocol = "TCP", AppProtocol = "HTTP" }], [] },
        { "valid custom appProtocol", s => s.Spec.Ports = [new V1ServicePort { Port = 12345, TargetPort = 12345, Protocol = "TCP", AppProtocol = "example.com/protocol" }], [] },
        { "invalid appProtocol", s => s.Spec.Ports = [new V1ServicePort { Port = 12345, TargetPort = 12345, Protocol = "TCP", AppProtocol = "example.com/protocol_with{invalid}[characters]" }],
            ["spec.ports[0].appProtocol: Invalid value: \"example.com/protocol_with{invalid}[characters]\": " + QualifiedNamePart] },
        { "invalid cluster ip != clusterIP in multi ip service", s => { s.Spec.IpFamilyPolicy = "RequireDualStack"; s.Spec.ClusterIP = "10.0.0.10"; s.Spec.ClusterIPs = ["10.0.0.1", "2001::1"]; },
            ["spec.clusterIPs: Invalid value: []string{\"10.0.0.1\", \"2001::1\"}: first value must match `clusterIP`"] },
        { "invalid cluster ip != clusterIP in single ip service", s => { s.Spec.ClusterIP = "10.0.0.10"; s.Spec.ClusterIPs = ["10.0.0.1"]; },
            ["spec.clusterIPs: Invalid value: []string{\"10.0.0.1\"}: first value must match `clusterIP`"] },
        { "Use AllocateLoadBalancerNodePorts when type is not LoadBalancer", s => s.Spec.AllocateLoadBalancerNodePorts = true,
            ["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"] },
        { "valid LoadBalancerClass when type is LoadBalancer", s => { Lb(s); s.Spec.LoadBalancerClass = "test.com/test-load-balancer-class"; }, [] },
        { "invalid LoadBalancerClass", s => { Lb(s); s.Spec.LoadBalancerClass = "Bad/LoadBalancerClass"; },
            ["spec.loadBalancerClass: Invalid value: \"Bad/LoadBalancerClass\": prefix part " + Dns1123Subdomain] },
        { "invalid: set LoadBalancerClass when type is not LoadBalancer", s => s.Spec.LoadBalancerClass = "test.com/test-load-balancer-class",
            ["spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"] },
        { "topology annotations are mismatched", s => { s.Metadata.Annotations[ServiceValidation.TopologyAwareHintsAnnotation] = "original"; s.Metadata.Annotations[ServiceValidation.TopologyModeAnnotation] = "different"; },
            ["metadata.annotations[service.kubernetes.io/topology-mode]: Invalid value: \"different\": must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified"] },
        { "valid: trafficDistribution field set to PreferClose", s => s.Spec.TrafficDistribution = "PreferClose", [] },
        { "valid: trafficDistribution PreferSameNode (gate on)", s => s.Spec.TrafficDistribution = "PreferSameNode", [] },
        { "invalid: trafficDistribution field set to Random", s => s.Spec.TrafficDistribution = "Random",
            ["spec.trafficDistribution: Unsupported value: \"Random\": supported values: \"PreferClose\", \"PreferSameZone\", \"PreferSameNode\""] },
        // TestValidateServiceExternalTrafficPolicy
        { "cannot set healthCheckNodePort field on loadBalancer service with externalTrafficPolicy!=Local", s => { Lb(s); s.Spec.HealthCheckNodePort = 34567; },
            ["spec.healthCheckNodePort: Invalid value: 34567: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"] },
        { "cannot set healthCheckNodePort field on nodePort service", s => { NodePort(s); s.Spec.ExternalTrafficPolicy = "Local"; s.Spec.HealthCheckNodePort = 34567; },
            ["spec.healthCheckNodePort: Invalid value: 34567: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"] },
        { "cannot set externalTrafficPolicy or healthCheckNodePort fields on clusterIP service", s => { s.Spec.ExternalTrafficPolicy = "Local"; s.Spec.HealthCheckNodePort = 34567; }, [
            "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            "spec.healthCheckNodePort: Invalid value: 34567: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"] },
        { "externalTrafficPolicy is required on NodePort service", s => s.Spec.Type = "NodePort", ["spec.externalTrafficPolicy: Required value"] },
        { "externalTrafficPolicy is required on LoadBalancer service", s => { s.Spec.Type = "LoadBalancer"; s.Spec.AllocateLoadBalancerNodePorts = true; }, ["spec.externalTrafficPolicy: Required value"] },
        { "externalTrafficPolicy is required on ClusterIP service with externalIPs", s => s.Spec.ExternalIPs = ["1.2.3.4"], ["spec.externalTrafficPolicy: Required value"] },
        { "healthCheckNodePort required for Local LoadBalancer", s => { Lb(s); s.Spec.ExternalTrafficPolicy = "Local"; }, ["spec.healthCheckNodePort: Required value"] },
    };

    [Theory]
    [MemberData(nameof(CreateCases))]
    public void ValidateService_UpstreamCase_ExactErrors(string name, Action<V1Service> tweak, string[] expected)
    {
        var svc = Valid();
        tweak(svc);
        var errors = ServiceValidation.ValidateService(svc).Select(e => e.ToString()).ToArray();
        Assert.True(expected.SequenceEqual(errors), $"{name}:\nexpected:\n  {string.Join("\n  ", expected)}\ngot:\n  {string.Join("\n  ", errors)}");
    }

    public static TheoryData<string, Action<V1Service, V1Service>, string[]> UpdateCases => new()
    {
        { "no change", (_, _) => { }, [] },
        { "change name", (_, n) => n.Metadata.Name = "changed", [] },
        { "ClusterIP can NOT be changed to None", (o, n) => { o.Spec.ClusterIP = "1.2.3.4"; o.Spec.ClusterIPs = ["1.2.3.4"]; n.Spec.ClusterIP = "None"; n.Spec.ClusterIPs = ["None"]; },
            ["spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set"] },
        { "`None` ClusterIP can NOT be removed", (o, n) => { o.Spec.ClusterIP = "None"; o.Spec.ClusterIPs = ["None"]; n.Spec.ClusterIP = ""; n.Spec.ClusterIPs = null; },
            ["spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset"] },
        { "Service with ClusterIP type cannot change its set ClusterIP", (o, n) => { o.Spec.ClusterIP = "1.2.3.4"; o.Spec.ClusterIPs = ["1.2.3.4"]; n.Spec.ClusterIP = "1.2.3.5"; n.Spec.ClusterIPs = ["1.2.3.5"]; },
            ["spec.clusterIPs[0]: Invalid value: []string{\"1.2.3.5\"}: may not change once set"] },
        { "Service with ClusterIP type can change its empty ClusterIP", (o, n) => { n.Spec.ClusterIP = "1.2.3.5"; n.Spec.ClusterIPs = ["1.2.3.5"]; }, [] },
        { "Service with ExternalName type can change its set ClusterIP when changing type to ClusterIP", (o, n) => { o.Spec.Type = "ExternalName"; o.Spec.ClusterIP = "1.2.3.4"; o.Spec.ClusterIPs = ["1.2.3.4"]; n.Spec.ClusterIP = "1.2.3.5"; n.Spec.ClusterIPs = ["1.2.3.5"]; }, [] },
        { "invalid: convert to ExternalName keeping ip fields", (o, n) =>
            {
                o.Spec.ClusterIP = "10.0.0.10"; o.Spec.ClusterIPs = ["10.0.0.10"]; o.Spec.IpFamilies = ["IPv4"]; o.Spec.IpFamilyPolicy = "SingleStack";
                n.Spec.Type = "ExternalName"; n.Spec.ExternalName = "foo"; n.Spec.ClusterIP = "10.0.0.10"; n.Spec.ClusterIPs = ["10.0.0.10"]; n.Spec.IpFamilies = ["IPv4"]; n.Spec.IpFamilyPolicy = "SingleStack";
            }, [
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
            "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
            "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"] },
        { "change ipFamilies", (o, n) => { o.Spec.IpFamilies = ["IPv4"]; n.Spec.IpFamilies = ["IPv6"]; },
            ["spec.ipFamilies[0]: Invalid value: []core.IPFamily{\"IPv6\"}: may not change once set"] },
        { "headless may change families", (o, n) => { o.Spec.ClusterIP = "None"; o.Spec.ClusterIPs = ["None"]; o.Spec.IpFamilies = ["IPv4"]; n.Spec.ClusterIP = "None"; n.Spec.ClusterIPs = ["None"]; n.Spec.IpFamilies = ["IPv6"]; }, [] },
        { "downgrade without SingleStack", (o, n) =>
            {
                o.Spec.IpFamilyPolicy = "RequireDualStack"; o.Spec.ClusterIP = "10.0.0.1"; o.Spec.ClusterIPs = ["10.0.0.1", "2001::1"]; o.Spec.IpFamilies = ["IPv4", "IPv6"];
                n.Spec.IpFamilyPolicy = "RequireDualStack"; n.Spec.ClusterIP = "10.0.0.1"; n.Spec.ClusterIPs = ["10.0.0.1"]; n.Spec.IpFamilies = ["IPv4"];
            }, [
            "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": must be set to 'SingleStack' when releasing the secondary clusterIP",
            "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": must be set to 'SingleStack' when releasing the secondary ipFamily"] },
        { "downgrade with SingleStack", (o, n) =>
            {
                o.Spec.IpFamilyPolicy = "RequireDualStack"; o.Spec.ClusterIP = "10.0.0.1"; o.Spec.ClusterIPs = ["10.0.0.1", "2001::1"]; o.Spec.IpFamilies = ["IPv4", "IPv6"];
                n.Spec.IpFamilyPolicy = "SingleStack"; n.Spec.ClusterIP = "10.0.0.1"; n.Spec.ClusterIPs = ["10.0.0.1"]; n.Spec.IpFamilies = ["IPv4"];
            }, [] },
        { "upgrade keeps primary", (o, n) =>
            {
                o.Spec.IpFamilyPolicy = "SingleStack"; o.Spec.ClusterIP = "10.0.0.1"; o.Spec.ClusterIPs = ["10.0.0.1"]; o.Spec.IpFamilies = ["IPv4"];
                n.Spec.IpFamilyPolicy = "RequireDualStack"; n.Spec.ClusterIP = "10.0.0.1"; n.Spec.ClusterIPs = ["10.0.0.1", "2001::1"]; n.Spec.IpFamilies = ["IPv4", "IPv6"];
            }, [] },
        { "upgrade changing primary family", (o, n) =>
            {
                o.Spec.IpFamilyPolicy = "SingleStack"; o.Spec.IpFamilies = ["IPv4"];
                n.Spec.IpFamilyPolicy = "RequireDualStack"; n.Spec.IpFamilies = ["IPv6", "IPv4"];
            }, ["spec.ipFamilies[0]: Invalid value: []string(nil): may not change once set"] },
        { "healthCheckNodePort immutable", (o, n) =>
            {
                Lb(o); o.Spec.ExternalTrafficPolicy = "Local"; o.Spec.HealthCheckNodePort = 30100;
                Lb(n); n.Spec.ExternalTrafficPolicy = "Local"; n.Spec.HealthCheckNodePort = 30101;
            }, ["spec.healthCheckNodePort: Forbidden: field is immutable"] },
        { "loadBalancerClass immutable", (o, n) =>
            {
                Lb(o); o.Spec.LoadBalancerClass = "a.b/x";
                Lb(n); n.Spec.LoadBalancerClass = "b.c/x";
            }, ["spec.loadBalancerClass: Invalid value: \"b.c/x\": may not change once set"] },
        { "loadBalancerClass may be set when turning LoadBalancer", (o, n) => { Lb(n); n.Spec.LoadBalancerClass = "b.c/x"; }, [] },
    };

    [Theory]
    [MemberData(nameof(UpdateCases))]
    public void ValidateServiceUpdate_UpstreamCase_ExactErrors(string name, Action<V1Service, V1Service> tweak, string[] expected)
    {
        var old = Valid();
        var svc = Valid();
        tweak(old, svc);
        var errors = ServiceValidation.ValidateServiceUpdate(svc, old).Select(e => e.ToString()).ToArray();
        Assert.True(expected.SequenceEqual(errors), $"{name}:\nexpected:\n  {string.Join("\n  ", expected)}\ngot:\n  {string.Join("\n  ", errors)}");
    }

    [Fact]
    public void ValidateStatus_IngressRules()
    {
        var svc = Valid();
        Lb(svc);
        svc.Status = new V1ServiceStatus
        {
            LoadBalancer = new V1LoadBalancerStatus
            {
                Ingress =
                [
                    new V1LoadBalancerIngress { Ip = "1.2.3.4" },
                    new V1LoadBalancerIngress { Hostname = "1.2.3.4", IpMode = "VIP" },
                    new V1LoadBalancerIngress { Ip = "bad", IpMode = "Bogus" },
                ],
            },
        };
        Assert.Equal(
        [
            "status.loadBalancer.ingress[0].ipMode: Required value: must be specified when `ip` is set",
            "status.loadBalancer.ingress[1].ipMode: Forbidden: may not be specified when `ip` is not set",
            "status.loadBalancer.ingress[1].hostname: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
            "status.loadBalancer.ingress[2].ip: Invalid value: \"bad\": " + BadIp,
            "status.loadBalancer.ingress[2].ipMode: Unsupported value: \"Bogus\": supported values: \"Proxy\", \"VIP\"",
        ], ServiceValidation.ValidateStatus(svc).Select(e => e.ToString()));

        var clusterIp = Valid();
        clusterIp.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "1.2.3.4", IpMode = "VIP" }] } };
        Assert.Equal(["status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"],
            ServiceValidation.ValidateStatus(clusterIp).Select(e => e.ToString()));
    }
}
