using Switchboard.Api.Tables;

namespace Switchboard.Api.Tests.Tables;

public class HumanDurationTests
{
    [Theory]
    [InlineData(-3, "<invalid>")]
    [InlineData(-2, "<invalid>")]
    [InlineData(-1.5, "0s")]
    [InlineData(-1, "0s")]
    [InlineData(0, "0s")]
    [InlineData(0.9, "0s")]
    [InlineData(5, "5s")]
    [InlineData(119.9, "119s")]
    [InlineData(120, "2m")]
    [InlineData(182, "3m2s")]
    [InlineData(599, "9m59s")]
    [InlineData(600, "10m")]
    [InlineData(179 * 60 + 59, "179m")]
    [InlineData(3 * 3600, "3h")]
    [InlineData(5 * 3600 + 3 * 60 + 30, "5h3m")]
    [InlineData(8 * 3600, "8h")]
    [InlineData(47 * 3600 + 59 * 60, "47h")]
    [InlineData(48 * 3600, "2d")]
    [InlineData(76 * 3600, "3d4h")]
    [InlineData(8 * 86400, "8d")]
    [InlineData(729 * 86400, "729d")]
    [InlineData(730 * 86400, "2y")]
    [InlineData(760 * 86400, "2y30d")]
    [InlineData(8 * 365 * 86400, "8y")]
    [InlineData(20 * 365 * 86400, "20y")]
    public void Format_FollowsUpstreamHumanDuration(double seconds, string expected)
    {
        Assert.Equal(expected, HumanDuration.Format(TimeSpan.FromSeconds(seconds)));
    }
}
