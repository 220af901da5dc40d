using Switchboard.Api.Validation;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Go's sloppy IP/CIDR parsing (k8s.io/utils/net) and ValidateEndpointIP.</summary>
public class IPValidationTests
{
    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("010.000.001.002", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("256.0.0.1", false)]
    [InlineData("1.2.3", false)]
    [InlineData("1.2.3.4.", false)]
    [InlineData("1", false)]
    [InlineData("0x7f.0.0.1", false)]
    [InlineData("::", true)]
    [InlineData("::1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("::ffff:1.2.3.4", true)]
    [InlineData("1:2:3:4:5:6:1.2.3.4", true)]
    [InlineData("1:2:3:4:5:6:7:8", true)]
    [InlineData("1:2:3:4:5:6:7:8:9", false)]
    [InlineData("1::2::3", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("[::1]", false)]
    [InlineData("2001:4860:4860:defg", false)]
    [InlineData("", false)]
    public void IsIP_MatchesGoParseIPSloppy(string value, bool valid) => Assert.Equal(valid, IPValidation.IsIP(value));

    [Theory]
    [InlineData("10.0.0.0/8", true)]
    [InlineData("10.1.2.3/8", true)]
    [InlineData("0.0.0.0/0", true)]
    [InlineData("10.0.0.0/33", false)]
    [InlineData("10.0.0.0", false)]
    [InlineData("10.0.0.0/", false)]
    [InlineData("10.0.0.0/+8", false)]
    [InlineData("2001:db8::/64", true)]
    [InlineData("2001:db8::/129", false)]
    public void IsCidr_MatchesGoParseCIDRSloppy(string value, bool valid) => Assert.Equal(valid, IPValidation.IsCidr(value));

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("2001:db8::1")]
    [InlineData("224.0.1.1")]
    public void ValidateEndpointIP_Routable_NoErrors(string ip)
    {
        var errors = new List<FieldError>();
        IPValidation.ValidateEndpointIP("f", ip, errors);
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("0.0.0.0", "may not be unspecified (0.0.0.0)")]
    [InlineData("::", "may not be unspecified (::)")]
    [InlineData("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    [InlineData("::1", "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    [InlineData("169.254.169.254", "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    [InlineData("fe80::9656:d028:8652:66b6", "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    [InlineData("224.0.0.251", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    [InlineData("ff02::1", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    [InlineData("nope", "must be a valid IP address")]
    public void ValidateEndpointIP_SpecialRanges_UpstreamMessages(string ip, string detail)
    {
        var errors = new List<FieldError>();
        IPValidation.ValidateEndpointIP("f", ip, errors);
        Messages.AssertErrors(errors, $"f: Invalid value: \"{ip}\": {detail}");
    }

    [Fact]
    public void IsDualStackCidrs_CountsFamilies()
    {
        Assert.True(IPValidation.IsDualStackCidrs(["10.0.0.0/24", "fd00::/64"], out _));
        Assert.False(IPValidation.IsDualStackCidrs(["10.0.0.0/24", "10.1.0.0/24"], out var none));
        Assert.Null(none);
        Assert.False(IPValidation.IsDualStackCidrs(["10.0.0.0/24", "bad"], out var error));
        Assert.Equal("invalid CIDR[1]: <nil> (invalid CIDR address: bad)", error);
    }
}
