using k8s.Models;
using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after pkg/apis/core/validation/validation_test.go (TestValidateContainerPorts, TestValidatePodDNSConfig, ...).</summary>
public class PodNetworkValidationTests
{
    private static V1ContainerPort P(int containerPort, string? name = null, int? hostPort = null, string? protocol = "TCP", string? hostIP = null) =>
        new() { ContainerPort = containerPort, Name = name, HostPort = hostPort, Protocol = protocol, HostIP = hostIP };

    private static V1PodSpec Spec(Action<V1PodSpec>? edit = null, params V1ContainerPort[] ports)
    {
        var spec = new V1PodSpec
        {
            DnsPolicy = "ClusterFirst",
            Containers = [new V1Container { Name = "ctr", Image = "image", Ports = ports }],
        };
        edit?.Invoke(spec);
        return spec;
    }

    [Fact]
    public void ValidateContainerPorts_UpstreamSuccessCases_NoErrors()
    {
        var errors = new List<FieldError>();
        PodNetworkValidation.ValidateContainerPorts(
            [P(80, "easy"), P(443, "easy-too"), P(8080, hostPort: 0, protocol: "UDP"), P(8081, "do-re-me", protocol: "SCTP"), P(1, "abc-123", 65535), P(65535)], "ports", errors);
        Assert.Empty(errors);
    }

    public static TheoryData<string, V1ContainerPort[], string[]> PortCases() => new()
    {
        { "name > 15 characters", [P(80, new string('b', 16))], ["ports[0].name: Invalid value: \"" + new string('b', 16) + "\": must be no more than 15 characters"] },
        { "name contains invalid characters", [P(80, "a.b.c")], ["ports[0].name: Invalid value: \"a.b.c\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"] },
        { "name is a number", [P(80, "80")], ["ports[0].name: Invalid value: \"80\": must contain at least one letter (a-z)"] },
        { "name not unique", [P(80, "abc"), P(81, "abc")], ["ports[1].name: Duplicate value: \"abc\""] },
        { "zero container port", [P(0, "abc")], ["ports[0].containerPort: Required value"] },
        { "invalid container port", [P(65536, "abc")], ["ports[0].containerPort: Invalid value: 65536: " + PortRange] },
        { "invalid host port", [P(80, "abc", 65536)], ["ports[0].hostPort: Invalid value: 65536: " + PortRange] },
        { "invalid protocol case", [P(80, "abc", protocol: "tcp")], ["ports[0].protocol: Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\""] },
        { "invalid protocol", [P(80, "abc", protocol: "ICMP")], ["ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""] },
        { "protocol required", [P(80, "abc", protocol: "")], ["ports[0].protocol: Required value"] },
    };

    [Theory]
    [MemberData(nameof(PortCases))]
    public void ValidateContainerPorts_UpstreamErrorCases_ExactFieldAndMessage(string name, V1ContainerPort[] ports, string[] expected)
    {
        Assert.NotNull(name);
        var errors = new List<FieldError>();
        PodNetworkValidation.ValidateContainerPorts(ports, "ports", errors);
        AssertErrors(errors, expected);
    }

    [Fact]
    public void Validate_PortNamesUniquePerContainer_NotPerPod()
    {
        var spec = Spec(s => s.Containers.Add(new V1Container { Name = "two", Image = "i", Ports = [P(81, "http")] }), P(80, "http"));
        Assert.Empty(PodNetworkValidation.Validate(spec));
    }

    [Fact]
    public void Validate_HostPortConflictAcrossContainers_Duplicate()
    {
        var spec = Spec(s => s.Containers.Add(new V1Container { Name = "two", Image = "i", Ports = [P(81, hostPort: 8080)] }), P(80, hostPort: 8080));
        AssertErrors(PodNetworkValidation.Validate(spec), "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"");
        // Different protocol or host IP does not conflict.
        var ok = Spec(s => s.Containers.Add(new V1Container { Name = "two", Image = "i", Ports = [P(81, hostPort: 8080, protocol: "UDP"), P(82, hostPort: 8080, hostIP: "10.0.0.1")] }), P(80, hostPort: 8080));
        Assert.Empty(PodNetworkValidation.Validate(ok));
    }

    [Fact]
    public void Validate_InitContainersConflictOnlyWithinThemselves()
    {
        var spec = Spec(s => s.InitContainers =
        [
            new V1Container { Name = "i1", Image = "i", Ports = [P(80, hostPort: 8080)] },
            new V1Container { Name = "i2", Image = "i", Ports = [P(81, hostPort: 8080), P(82, hostPort: 8080)] },
        ], P(80, hostPort: 8080));
        // Upstream checks each init container as a one-element list, so it reports index [0].
        AssertErrors(PodNetworkValidation.Validate(spec), "spec.initContainers[0].ports[1].hostPort: Duplicate value: \"TCP//8080\"");
    }

    [Fact]
    public void Validate_HostNetworkHostPortMustMatchContainerPort()
    {
        var spec = Spec(s => s.HostNetwork = true, P(80, hostPort: 80), P(81, hostPort: 8081), P(82));
        AssertErrors(PodNetworkValidation.Validate(spec),
            "spec.containers[0].ports[1].hostPort: Invalid value: 8081: must match `containerPort` when `hostNetwork` is true",
            "spec.containers[0].ports[2].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true");
        // A template may leave hostPort unset; pod defaulting fills it in.
        AssertErrors(PodNetworkValidation.Validate(spec, "spec.template.spec", isPod: false),
            "spec.template.spec.containers[0].ports[1].hostPort: Invalid value: 8081: must match `containerPort` when `hostNetwork` is true");
    }

    public static TheoryData<string, Action<V1PodSpec>, string[]> SpecCases() => new()
    {
        { "dnsPolicy required", s => s.DnsPolicy = null, ["spec.dnsPolicy: Required value"] },
        { "dnsPolicy unknown", s => s.DnsPolicy = "ClusterFirstWithHostNetwork",
            ["spec.dnsPolicy: Unsupported value: \"ClusterFirstWithHostNetwork\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""] },
        { "None without dnsConfig", s => s.DnsPolicy = "None", ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"] },
        { "None without nameservers", s => (s.DnsPolicy, s.DnsConfig) = ("None", new V1PodDNSConfig { Searches = ["custom"] }),
            ["spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"] },
        { "too many nameservers", s => s.DnsConfig = new V1PodDNSConfig { Nameservers = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"] },
            ["spec.dnsConfig.nameservers: Invalid value: []string{\"1.1.1.1\", \"2.2.2.2\", \"3.3.3.3\", \"4.4.4.4\"}: must not have more than 3 nameservers"] },
        { "invalid nameserver", s => s.DnsConfig = new V1PodDNSConfig { Nameservers = ["invalid"] },
            ["spec.dnsConfig.nameservers[0]: Invalid value: \"invalid\": " + InvalidIP] },
        { "too many searches", s => s.DnsConfig = new V1PodDNSConfig { Searches = [.. Enumerable.Range(0, 33).Select(i => $"s{i}")] },
            ["spec.dnsConfig.searches: Invalid value: []string{" + string.Join(", ", Enumerable.Range(0, 33).Select(i => $"\"s{i}\"")) + "}: must not have more than 32 search paths"] },
        { "search list too long", s => s.DnsConfig = new V1PodDNSConfig { Searches = [new string('a', 63) + "." + new string('b', 63) + "." + new string('c', 63), .. Enumerable.Repeat(new string('d', 63) + "." + new string('e', 63) + "." + new string('f', 63), 10)] },
            ["spec.dnsConfig.searches: Invalid value: []string{\"" + new string('a', 63) + "." + new string('b', 63) + "." + new string('c', 63) + "\", " + string.Join(", ", Enumerable.Repeat("\"" + new string('d', 63) + "." + new string('e', 63) + "." + new string('f', 63) + "\"", 10)) + "}: must not have more than 2048 characters (including spaces) in the search list"] },
        { "invalid search", s => s.DnsConfig = new V1PodDNSConfig { Searches = ["custom?"] },
            [@"spec.dnsConfig.searches[0]: Invalid value: ""custom?"": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')"] },
        { "empty option name", s => s.DnsConfig = new V1PodDNSConfig { Options = [new V1PodDNSConfigOption { Value = "1" }] },
            ["spec.dnsConfig.options[0]: Required value: must not be empty"] },
        { "bad hostname", s => s.Hostname = "Bad_Host", ["spec.hostname: Invalid value: \"Bad_Host\": " + Dns1123Label] },
        { "bad subdomain", s => s.Subdomain = "-sub", ["spec.subdomain: Invalid value: \"-sub\": " + Dns1123Label] },
        { "bad readiness gate", s => s.ReadinessGates = [new V1PodReadinessGate { ConditionType = "invalid/condition/type" }],
            ["spec.readinessGates[0].conditionType: Invalid value: \"invalid/condition/type\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"] },
    };

    [Theory]
    [MemberData(nameof(SpecCases))]
    public void Validate_UpstreamSpecCases_ExactFieldAndMessage(string name, Action<V1PodSpec> edit, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(PodNetworkValidation.Validate(Spec(edit)), expected);
    }

    [Fact]
    public void Validate_RelaxedSearches_UnderscoreTrailingDotAndLoneDot()
    {
        var spec = Spec(s => s.DnsConfig = new V1PodDNSConfig
        {
            Nameservers = ["1.2.3.4", "2001:db8::1"],
            Searches = ["_sip._tcp.example.com", "custom.", ".", new string('a', 63)],
            Options = [new V1PodDNSConfigOption { Name = "ndots", Value = "2" }],
        });
        Assert.Empty(PodNetworkValidation.Validate(spec));
        Assert.Empty(PodNetworkValidation.Validate(Spec(s => (s.DnsPolicy, s.DnsConfig) = ("None", new V1PodDNSConfig { Nameservers = ["1.2.3.4"] }))));
        Assert.Empty(PodNetworkValidation.Validate(Spec(s => (s.Hostname, s.Subdomain, s.ReadinessGates) = ("web-0", "web", [new V1PodReadinessGate { ConditionType = "example.com/ready" }]))));
    }
}
