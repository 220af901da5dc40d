using k8s.Models;
using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after pkg/apis/core/validation/validation_test.go (TestValidateNode podCIDRs, TestValidateNodeUpdate).</summary>
public class NodeValidationTests
{
    private static V1Node Node(params string[] cidrs) => new()
    {
        Metadata = new V1ObjectMeta { Name = "node-1" },
        Spec = new V1NodeSpec { PodCIDRs = cidrs.Length == 0 ? null : cidrs, PodCIDR = cidrs.FirstOrDefault() },
    };

    [Theory]
    [InlineData("")]
    [InlineData("192.168.0.0/16")]
    [InlineData("192.168.0.0/16,2000::/10")]
    [InlineData("2000::/10,192.168.0.0/16")]
    public void Validate_ValidPodCidrs_NoErrors(string cidrs) =>
        Assert.Empty(NodeValidation.Validate(Node(cidrs.Split(',', StringSplitOptions.RemoveEmptyEntries))));

    public static TheoryData<string, string[], string[]> Invalid() => new()
    {
        { "invalid cidr", ["192.168.0.0"], ["spec.podCIDRs[0]: Invalid value: \"192.168.0.0\": " + InvalidCidr] },
        { "two ipv4", ["192.168.0.0/16", "10.0.0.0/8"],
            ["spec.podCIDRs: Invalid value: []string{\"192.168.0.0/16\", \"10.0.0.0/8\"}: may specify no more than one CIDR for each IP family"] },
        { "two ipv6", ["2000::/10", "3000::/10"],
            ["spec.podCIDRs: Invalid value: []string{\"2000::/10\", \"3000::/10\"}: may specify no more than one CIDR for each IP family"] },
        { "three cidrs", ["192.168.0.0/16", "2000::/10", "10.0.0.0/8"],
            ["spec.podCIDRs: Invalid value: []string{\"192.168.0.0/16\", \"2000::/10\", \"10.0.0.0/8\"}: may specify no more than one CIDR for each IP family"] },
        { "duplicate", ["192.168.0.0/16", "192.168.0.0/16"], [
            "spec.podCIDRs: Invalid value: []string{\"192.168.0.0/16\", \"192.168.0.0/16\"}: may specify no more than one CIDR for each IP family",
            "spec.podCIDRs[1]: Duplicate value: \"192.168.0.0/16\""] },
        { "invalid among two", ["192.168.0.0/16", "bad"], [
            "spec.podCIDRs[1]: Invalid value: \"bad\": " + InvalidCidr,
            "spec.podCIDRs: Internal error: invalid PodCIDRs. failed to check with dual stack with error:invalid CIDR[1]: <nil> (invalid CIDR address: bad)",
            "spec.podCIDRs: Invalid value: []string{\"192.168.0.0/16\", \"bad\"}: may specify no more than one CIDR for each IP family"] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_InvalidPodCidrs_ExactFieldAndMessage(string name, string[] cidrs, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(NodeValidation.Validate(Node(cidrs)), expected);
    }

    [Fact]
    public void ValidateUpdate_PodCidrsSetOnce()
    {
        const string forbidden = "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid";
        Assert.Empty(NodeValidation.ValidateUpdate(Node("10.0.0.0/24"), Node()));
        Assert.Empty(NodeValidation.ValidateUpdate(Node("10.0.0.0/24", "fd00::/64"), Node()));
        AssertErrors(NodeValidation.ValidateUpdate(Node("10.0.1.0/24"), Node("10.0.0.0/24")), forbidden);
        AssertErrors(NodeValidation.ValidateUpdate(Node(), Node("10.0.0.0/24")), forbidden);
        AssertErrors(NodeValidation.ValidateUpdate(Node("10.0.0.0/24", "fd00::/64"), Node("10.0.0.0/24")), forbidden);
        AssertErrors(NodeValidation.ValidateUpdate(Node("10.0.1.0/24", "fd01::/64"), Node("10.0.0.0/24", "fd00::/64")), forbidden, forbidden);
    }
}
