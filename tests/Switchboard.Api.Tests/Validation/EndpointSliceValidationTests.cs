using k8s.Models;
using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after pkg/apis/discovery/validation/validation_test.go (TestValidateEndpointSlice and friends).</summary>
public class EndpointSliceValidationTests
{
    private static V1EndpointSlice Slice(string type, IEnumerable<V1Endpoint>? endpoints = null, IEnumerable<Discoveryv1EndpointPort>? ports = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "hello", NamespaceProperty = "world" },
        AddressType = type,
        Endpoints = endpoints?.ToList(),
        Ports = (ports ?? [Port("http")]).ToList(),
    };

    private static Discoveryv1EndpointPort Port(string name, string protocol = "TCP", string? app = null) => new() { Name = name, Protocol = protocol, AppProtocol = app };

    private static V1Endpoint Ep(params string[] addresses) => new() { Addresses = addresses, Hostname = "valid-123" };

    private static List<string> IPs(int n) => [.. Enumerable.Range(0, n).Select(i => $"10.0.{i / 256}.{i % 256 + 1}")];

    public static TheoryData<string, V1EndpointSlice> Valid() => new()
    {
        { "good-slice", Slice("IPv4", [Ep("10.0.0.1")]) },
        { "good-ipv6", Slice("IPv6", [Ep("a00:100::4")]) },
        { "good-fqdns", Slice("FQDN", [Ep("foo.example.com", "example.com", "example.com.", "hyphens-are-good.example.com")]) },
        { "all-protocols", Slice("IPv4", [Ep("10.0.0.1")], [Port("tcp"), Port("udp", "UDP"), Port("sctp", "SCTP")]) },
        { "app-protocols", Slice("IPv4", [Ep("10.0.0.1")], [Port("one", app: "HTTP"), Port("two", app: "https"), Port("three", app: "my-protocol"), Port("four", app: "example.com/custom-protocol")]) },
        { "empty-port-name", Slice("IPv4", [Ep("10.0.0.1")], [Port(""), Port("http")]) },
        { "long-port-name", Slice("IPv4", [Ep("10.0.0.1")], [Port(new string('a', 63))]) },
        { "empty-ports-and-endpoints", Slice("IPv4", [], []) },
        { "max-endpoints", Slice("IPv4", Enumerable.Range(0, EndpointSliceValidation.MaxEndpoints).Select(_ => Ep("10.0.0.1"))) },
        { "max-addresses", Slice("IPv4", [new V1Endpoint { Addresses = IPs(EndpointSliceValidation.MaxAddresses) }]) },
        { "node-name", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], NodeName = "node-1.example" }]) },
        { "max-zone-and-node-hints", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hints = new V1EndpointHints {
            ForZones = [.. Enumerable.Range(0, 8).Select(i => new V1ForZone { Name = $"zone-{i}" })],
            ForNodes = [.. Enumerable.Range(0, 8).Select(i => new V1ForNode { Name = $"node-{i}" })],
        } }]) },
        { "conditions-any", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Conditions = new V1EndpointConditions { Ready = false, Serving = true, Terminating = true } }]) },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Validate_UpstreamSuccessCases_NoErrors(string name, V1EndpointSlice slice)
    {
        Assert.NotNull(name);
        Assert.Empty(EndpointSliceValidation.Validate(slice));
    }

    public static TheoryData<string, V1EndpointSlice, string[]> Invalid() => new()
    {
        { "duplicate-port-name", Slice("IPv4", [], [Port(""), Port("")]), ["ports[1].name: Duplicate value: \"\""] },
        { "bad-port-name-caps", Slice("IPv4", [], [Port("aCapital")]), ["ports[0].name: Invalid value: \"aCapital\": " + Dns1123Label] },
        { "bad-port-name-chars", Slice("IPv4", [], [Port("almost_valid")]), ["ports[0].name: Invalid value: \"almost_valid\": " + Dns1123Label] },
        { "bad-port-name-length", Slice("IPv4", [], [Port(new string('a', 64))]), ["ports[0].name: Invalid value: \"" + new string('a', 64) + "\": must be no more than 63 characters"] },
        { "invalid-port-protocol", Slice("IPv4", null, [Port("http", "foo")]), ["ports[0].protocol: Unsupported value: \"foo\": supported values: \"SCTP\", \"TCP\", \"UDP\""] },
        { "too-many-ports", Slice("IPv4", null, Enumerable.Range(0, EndpointSliceValidation.MaxPorts + 1).Select(i => Port($"p{i}"))), ["ports: Too many: 20001: must have at most 20000 items"] },
        { "too-many-endpoints", Slice("IPv4", Enumerable.Range(0, EndpointSliceValidation.MaxEndpoints + 1).Select(_ => Ep("10.0.0.1"))), ["endpoints: Too many: 1001: must have at most 1000 items"] },
        { "no-endpoint-addresses", Slice("IPv4", [Ep()]), ["endpoints[0].addresses: Required value: must contain at least 1 address"] },
        { "too-many-addresses", Slice("IPv4", [new V1Endpoint { Addresses = IPs(101) }]), ["endpoints[0].addresses: Too many: 101: must have at most 100 items"] },
        { "bad-hostname", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hostname = "--INVALID" }]), ["endpoints[0].hostname: Invalid value: \"--INVALID\": " + Dns1123Label] },
        { "bad-nodename", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], NodeName = "Node_1" }]), ["endpoints[0].nodeName: Invalid value: \"Node_1\": " + Dns1123Subdomain] },
        { "bad-ipv4", Slice("IPv4", [Ep("123.456.789.012", "2001:4860:4860::8888")]), [
            "endpoints[0].addresses[0]: Invalid value: \"123.456.789.012\": must be a valid IPv4 address",
            "endpoints[0].addresses[0]: Invalid value: \"123.456.789.012\": must be a valid IP address",
            "endpoints[0].addresses[1]: Invalid value: \"2001:4860:4860::8888\": must be a valid IPv4 address"] },
        { "bad-ipv6", Slice("IPv6", [Ep("123.456.789.012", "2001:4860:4860:defg")]), [
            "endpoints[0].addresses[0]: Invalid value: \"123.456.789.012\": must be a valid IPv6 address",
            "endpoints[0].addresses[0]: Invalid value: \"123.456.789.012\": must be a valid IP address",
            "endpoints[0].addresses[1]: Invalid value: \"2001:4860:4860:defg\": must be a valid IPv6 address",
            "endpoints[0].addresses[1]: Invalid value: \"2001:4860:4860:defg\": must be a valid IP address"] },
        { "bad-fqdns", Slice("FQDN", [Ep("foo.*", "FOO.example.com", "underscores_are_bad.example.com", "*.example.com")]), [
            "endpoints[0].addresses[0]: Invalid value: \"foo.*\": " + Dns1123Subdomain,
            "endpoints[0].addresses[1]: Invalid value: \"FOO.example.com\": " + Dns1123Subdomain,
            "endpoints[0].addresses[2]: Invalid value: \"underscores_are_bad.example.com\": " + Dns1123Subdomain,
            "endpoints[0].addresses[3]: Invalid value: \"*.example.com\": " + Dns1123Subdomain] },
        { "bad-app-protocol", Slice("IPv4", [Ep("10.0.0.1")], [Port("http", app: "--")]), ["ports[0].appProtocol: Invalid value: \"--\": " + NamePart] },
        { "empty-everything", new V1EndpointSlice(), ["addressType: Required value"] },
        { "unknown-address-type", Slice("IP", [Ep("not checked")]), ["addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""] },
        { "special-ipv4", Slice("IPv4", [Ep("127.0.0.1")]), ["endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"] },
        { "special-ipv6", Slice("IPv6", [Ep("fe80::9656:d028:8652:66b6")]), ["endpoints[0].addresses[0]: Invalid value: \"fe80::9656:d028:8652:66b6\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"] },
        { "unspecified-ipv4", Slice("IPv4", [Ep("0.0.0.0")]), ["endpoints[0].addresses[0]: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"] },
        { "too-many-zone-hints", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hints = new V1EndpointHints {
            ForZones = [.. Enumerable.Range(0, 9).Select(i => new V1ForZone { Name = $"zone-{i}" })],
            ForNodes = [new V1ForNode { Name = "Bad_Node" }],
        } }]), ["endpoints[0].hints.forZones: Too many: 9: must have at most 8 items"] },
        { "duplicate-and-invalid-zone-hints", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hints = new V1EndpointHints {
            ForZones = [new V1ForZone { Name = "zone-a" }, new V1ForZone { Name = "zone-a" }, new V1ForZone { Name = "bad zone" }],
        } }]), [
            "endpoints[0].hints.forZones[1].name: Duplicate value: \"zone-a\"",
            "endpoints[0].hints.forZones[2].name: Invalid value: \"bad zone\": " + LabelValue] },
        { "too-many-node-hints", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hints = new V1EndpointHints {
            ForNodes = [.. Enumerable.Range(0, 9).Select(i => new V1ForNode { Name = $"node-{i}" })],
        } }]), ["endpoints[0].hints.forNodes: Too many: 9: must have at most 8 items"] },
        { "duplicate-and-invalid-node-hints", Slice("IPv4", [new V1Endpoint { Addresses = ["10.0.0.1"], Hints = new V1EndpointHints {
            ForNodes = [new V1ForNode { Name = "node-a" }, new V1ForNode { Name = "node-a" }, new V1ForNode { Name = "Node_B" }],
        } }]), [
            "endpoints[0].hints.forNodes[1].name: Duplicate value: \"node-a\"",
            "endpoints[0].hints.forNodes[2].name: Invalid value: \"Node_B\": " + Dns1123Subdomain] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_UpstreamErrorCases_ExactFieldAndMessage(string name, V1EndpointSlice slice, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(EndpointSliceValidation.Validate(slice), expected);
    }

    [Fact]
    public void ValidateUpdate_AddressTypeChanged_Immutable()
    {
        var old = Slice("IPv4", [Ep("10.0.0.1")]);
        var updated = Slice("IPv6", [Ep("2001:db8::1")]);
        AssertErrors(EndpointSliceValidation.ValidateUpdate(updated, old), "addressType: Invalid value: \"IPv6\": field is immutable");
        Assert.Empty(EndpointSliceValidation.ValidateUpdate(Slice("IPv4", [Ep("10.0.0.2")]), old));
    }

    [Fact]
    public void Validate_TooMany_CauseCarriesCountAsRawValue()
    {
        var error = Assert.Single(EndpointSliceValidation.Validate(Slice("IPv4", Enumerable.Range(0, 1001).Select(_ => Ep("10.0.0.1")))));
        Assert.Equal("FieldValueTooMany", error.Reason);
        Assert.Equal("endpoints", error.Field);
        Assert.Equal("Too many: 1001: must have at most 1000 items", error.Message);
    }
}
