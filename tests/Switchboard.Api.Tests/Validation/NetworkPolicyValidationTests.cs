using k8s.Models;
using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after pkg/apis/networking/validation/validation_test.go (TestValidateNetworkPolicy*) and reference §1.2.</summary>
public class NetworkPolicyValidationTests
{
    private const string BadKey = "NoUppercaseOrSpecialCharsLike=Equals";

    private static V1NetworkPolicy Policy(Action<V1NetworkPolicySpec> edit)
    {
        var spec = new V1NetworkPolicySpec { PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["a"] = "b" } } };
        edit(spec);
        return new V1NetworkPolicy { Metadata = new V1ObjectMeta { Name = "foo", NamespaceProperty = "bar" }, Spec = spec };
    }

    private static V1NetworkPolicyPort Port(string? protocol, IntOrString? port, int? endPort = null) => new() { Protocol = protocol, Port = port, EndPort = endPort };

    private static void Ingress(V1NetworkPolicySpec s, params V1NetworkPolicyPeer[] from) => s.Ingress = [new V1NetworkPolicyIngressRule { FromProperty = from }];

    private static void IngressPorts(V1NetworkPolicySpec s, params V1NetworkPolicyPort[] ports) => s.Ingress = [new V1NetworkPolicyIngressRule { Ports = ports }];

    private static V1LabelSelector Sel(string key, string value) => new() { MatchLabels = new Dictionary<string, string> { [key] = value } };

    private static V1NetworkPolicyPeer Block(string cidr, params string[] except) => new() { IpBlock = new V1IPBlock { Cidr = cidr, Except = except } };

    public static TheoryData<string, Action<V1NetworkPolicySpec>> Valid() => new()
    {
        { "empty ingress", s => s.Ingress = [] },
        { "empty from and ports", s => s.Ingress = [new V1NetworkPolicyIngressRule { FromProperty = [], Ports = [] }] },
        { "ports", s => IngressPorts(s, Port(null, 80), Port("TCP", null), Port("TCP", 443), Port("UDP", "dns")) },
        { "pod selector peer", s => Ingress(s, new V1NetworkPolicyPeer { PodSelector = Sel("c", "d") }) },
        { "namespace selector peer", s => Ingress(s, new V1NetworkPolicyPeer { NamespaceSelector = Sel("c", "d") }) },
        { "both selectors in one peer", s => Ingress(s, new V1NetworkPolicyPeer { PodSelector = Sel("c", "d"), NamespaceSelector = Sel("c", "d") }) },
        { "empty selectors", s => Ingress(s, new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector(), NamespaceSelector = new V1LabelSelector() }) },
        { "ipBlock with except", s => Ingress(s, Block("192.168.0.0/16", "192.168.3.0/24", "192.168.4.0/24")) },
        { "ipv6 ipBlock", s => Ingress(s, Block("fd00:192:168::/48", "fd00:192:168:3::/64")) },
        { "egress ipBlock", s => s.Egress = [new V1NetworkPolicyEgressRule { To = [Block("10.0.0.0/8")] }] },
        { "endPort", s => IngressPorts(s, Port("TCP", 32000, 32768)) },
        { "endPort equal to port", s => IngressPorts(s, Port("UDP", 32000, 32000)) },
        { "policyTypes both", s => s.PolicyTypes = ["Ingress", "Egress"] },
        { "policyTypes egress only", s => s.PolicyTypes = ["Egress"] },
        { "match expressions", s => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "tier", OperatorProperty = "In", Values = ["cache", "db"] }] } },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Validate_UpstreamSuccessCases_NoErrors(string name, Action<V1NetworkPolicySpec> edit)
    {
        Assert.NotNull(name);
        Assert.Empty(NetworkPolicyValidation.Validate(Policy(edit)));
    }

    public static TheoryData<string, Action<V1NetworkPolicySpec>, string[]> Invalid() => new()
    {
        { "invalid spec.podSelector", s => s.PodSelector = Sel(BadKey, "b"), [$"spec.podSelector.matchLabels: Invalid value: \"{BadKey}\": {NamePart}"] },
        { "invalid podSelector value", s => s.PodSelector = Sel("a", "b c"), [$"spec.podSelector.matchLabels: Invalid value: \"b c\": {LabelValue}"] },
        { "invalid ingress.ports.protocol", s => IngressPorts(s, Port("ICMP", 80)),
            ["spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\""] },
        { "invalid ingress.ports.port (int)", s => IngressPorts(s, Port("TCP", 123456789)), ["spec.ingress[0].ports[0].port: Invalid value: 123456789: " + PortRange] },
        { "invalid ingress.ports.port (str)", s => IngressPorts(s, Port("TCP", "!@#$")), [
            "spec.ingress[0].ports[0].port: Invalid value: \"!@#$\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ingress[0].ports[0].port: Invalid value: \"!@#$\": must contain at least one letter (a-z)"] },
        { "invalid ingress.from.podSelector", s => Ingress(s, new V1NetworkPolicyPeer { PodSelector = Sel(BadKey, "b") }),
            [$"spec.ingress[0].from[0].podSelector.matchLabels: Invalid value: \"{BadKey}\": {NamePart}"] },
        { "invalid egress.to.podSelector", s => s.Egress = [new V1NetworkPolicyEgressRule { To = [new V1NetworkPolicyPeer { PodSelector = Sel(BadKey, "b") }] }],
            [$"spec.egress[0].to[0].podSelector.matchLabels: Invalid value: \"{BadKey}\": {NamePart}"] },
        { "invalid egress.ports.protocol", s => s.Egress = [new V1NetworkPolicyEgressRule { Ports = [Port("ICMP", 80)] }],
            ["spec.egress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\""] },
        { "invalid ingress.from.namespaceSelector", s => Ingress(s, new V1NetworkPolicyPeer { NamespaceSelector = Sel(BadKey, "b") }),
            [$"spec.ingress[0].from[0].namespaceSelector.matchLabels: Invalid value: \"{BadKey}\": {NamePart}"] },
        { "missing from peer", s => Ingress(s, new V1NetworkPolicyPeer()), ["spec.ingress[0].from[0]: Required value: must specify a peer"] },
        { "ipBlock and podSelector", s => Ingress(s, new V1NetworkPolicyPeer { PodSelector = Sel("c", "d"), IpBlock = new V1IPBlock { Cidr = "192.168.0.0/16" } }),
            ["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"] },
        { "ipBlock and namespaceSelector in egress", s => s.Egress = [new V1NetworkPolicyEgressRule { To = [new V1NetworkPolicyPeer { NamespaceSelector = Sel("c", "d"), IpBlock = new V1IPBlock { Cidr = "192.168.0.0/16" } }] }],
            ["spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer"] },
        { "missing cidr", s => Ingress(s, new V1NetworkPolicyPeer { IpBlock = new V1IPBlock() }), ["spec.ingress[0].from[0].ipBlock.cidr: Required value"] },
        { "invalid cidr", s => Ingress(s, Block("192.168.5.6")), ["spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"192.168.5.6\": " + InvalidCidr] },
        { "invalid except", s => Ingress(s, Block("192.168.8.0/24", "192.168.9.1")), ["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.9.1\": " + InvalidCidr] },
        { "except outside cidr", s => Ingress(s, Block("192.168.8.0/24", "192.168.9.1/24")),
            ["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.9.1/24\": must be a strict subset of `cidr`"] },
        { "except equal to cidr", s => Ingress(s, Block("192.168.0.0/24", "192.168.0.0/24")),
            ["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/24\": must be a strict subset of `cidr`"] },
        { "except wider than cidr", s => Ingress(s, Block("192.168.0.0/24", "192.168.0.0/16")),
            ["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/16\": must be a strict subset of `cidr`"] },
        { "ipv6 except wider than cidr", s => s.Egress = [new V1NetworkPolicyEgressRule { To = [Block("fd00:192:168:3::/64", "fd00:192:168::/48")] }],
            ["spec.egress[0].to[0].ipBlock.except[0]: Invalid value: \"fd00:192:168::/48\": must be a strict subset of `cidr`"] },
        { "except in other family", s => Ingress(s, Block("192.168.0.0/16", "fd00::/64")),
            ["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"fd00::/64\": must be a strict subset of `cidr`"] },
        { "too many policyTypes", s => s.PolicyTypes = ["Ingress", "Egress", "Ingress"],
            ["spec.policyTypes: Invalid value: []networking.PolicyType{\"Ingress\", \"Egress\", \"Ingress\"}: may not specify more than two policyTypes"] },
        { "unknown policyType", s => s.PolicyTypes = ["Ingress", "foo"], ["spec.policyTypes[1]: Unsupported value: \"foo\": supported values: \"Ingress\", \"Egress\""] },
        { "endPort below port", s => IngressPorts(s, Port("TCP", 35000, 32000)), ["spec.ingress[0].ports[0].endPort: Invalid value: 35000: must be greater than or equal to `port`"] },
        { "endPort out of range", s => IngressPorts(s, Port("TCP", 32000, 65536)), ["spec.ingress[0].ports[0].endPort: Invalid value: 65536: " + PortRange] },
        { "endPort with named port", s => IngressPorts(s, Port("TCP", "http", 32768)),
            ["spec.ingress[0].ports[0].endPort: Invalid value: 32768: may not be specified when `port` is non-numeric"] },
        { "endPort without port", s => IngressPorts(s, Port("TCP", null, 32768)),
            ["spec.ingress[0].ports[0].endPort: Invalid value: 32768: may not be specified when `port` is not specified"] },
        { "bad operator", s => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "a", OperatorProperty = "Equals", Values = ["b"] }] },
            ["spec.podSelector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator"] },
        { "In without values", s => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "a", OperatorProperty = "In" }] },
            ["spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"] },
        { "Exists with values", s => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "a", OperatorProperty = "Exists", Values = ["b"] }] },
            ["spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"] },
        { "bad expression key and value", s => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "a b", OperatorProperty = "NotIn", Values = ["-x"] }] }, [
            "spec.podSelector.matchExpressions[0].key: Invalid value: \"a b\": " + NamePart,
            "spec.podSelector.matchExpressions[0].values[0]: Invalid value: \"-x\": " + LabelValue] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_UpstreamErrorCases_ExactFieldAndMessage(string name, Action<V1NetworkPolicySpec> edit, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(NetworkPolicyValidation.Validate(Policy(edit)), expected);
    }

    [Fact]
    public void ValidateUpdate_OldInvalidPodSelectorValue_RatchetsSelectorValues()
    {
        static void BadValue(V1NetworkPolicySpec s) => s.PodSelector = new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "a", OperatorProperty = "In", Values = ["-x"] }] };
        Assert.Single(NetworkPolicyValidation.Validate(Policy(BadValue)));
        Assert.Empty(NetworkPolicyValidation.ValidateUpdate(Policy(BadValue), Policy(BadValue)));
        Assert.Single(NetworkPolicyValidation.ValidateUpdate(Policy(BadValue), Policy(_ => { })));
    }

    [Fact]
    public void ValidateUpdate_OldCidr_NotRechecked()
    {
        // Any value the old policy held is accepted again (upstream AllowCIDRsEvenIfInvalid).
        var old = Policy(s => Ingress(s, Block("10.0.0.0/8")));
        Assert.Empty(NetworkPolicyValidation.ValidateUpdate(Policy(s => Ingress(s, Block("10.0.0.0/8"))), old));
        Assert.Single(NetworkPolicyValidation.ValidateUpdate(Policy(s => Ingress(s, Block("10.0.0.0/40"))), old));
    }
}
