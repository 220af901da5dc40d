using Switchboard.TestKit.Netns;
using Switchboard.Netfilter.Sysctl;

namespace Switchboard.Netfilter.Tests.Sysctl;

public sealed class SysctlTests
{
    private const string Established = "net.netfilter.nf_conntrack_tcp_timeout_established";
    private const string CloseWait = "net.netfilter.nf_conntrack_tcp_timeout_close_wait";

    [Theory]
    [InlineData("net.netfilter.nf_conntrack_max", "global")]
    [InlineData("net.nf_conntrack_max", "global")]
    [InlineData("kernel.pid_max", "net.* key")]
    [InlineData("net..x", "net.* key")]
    [InlineData("net.ipv4.ip_forward; reboot", "net.* key")]
    public async Task SetAsync_ForbiddenKey_Throws(string key, string message)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => new SysctlTool().SetAsync(key, "1", CancellationToken.None));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => new FakeSysctl().SetAsync(key, "1", CancellationToken.None));
    }

    [Fact]
    public async Task ConntrackTimeouts_Fake_WritesOnlyChangedValues()
    {
        var sysctl = new FakeSysctl().Seed(Established, "432000").Seed(CloseWait, "3600")
            .Seed("net.netfilter.nf_conntrack_udp_timeout", "30").Seed("net.netfilter.nf_conntrack_udp_timeout_stream", "120");
        var written = await new ConntrackTimeouts().ApplyAsync(sysctl, CancellationToken.None);
        Assert.Equal([Established], written);
        Assert.Equal("86400", sysctl.Values[Established]);
        Assert.Equal("30", sysctl.Values["net.netfilter.nf_conntrack_udp_timeout"]);
    }

    [Fact]
    public async Task ConntrackTimeouts_RealTestNamespace_SetThereNotOnHost()
    {
        var host = new SysctlTool();
        var hostBefore = await host.GetAsync(Established, CancellationToken.None);
        await using var ns = await TestNetns.CreateAsync(TestNetns.NewPrefix());
        var sysctl = new SysctlTool(ns.Name);
        var timeouts = new ConntrackTimeouts { TcpEstablished = TimeSpan.FromSeconds(12345), TcpCloseWait = TimeSpan.FromSeconds(321), Udp = TimeSpan.FromSeconds(17) };

        var written = await timeouts.ApplyAsync(sysctl, CancellationToken.None);

        Assert.Contains(Established, written);
        Assert.Equal("12345", await sysctl.GetAsync(Established, CancellationToken.None));
        Assert.Equal("321", await sysctl.GetAsync(CloseWait, CancellationToken.None));
        Assert.Equal("17", await sysctl.GetAsync("net.netfilter.nf_conntrack_udp_timeout", CancellationToken.None));
        Assert.Equal(hostBefore, await host.GetAsync(Established, CancellationToken.None));
        Assert.Empty(await timeouts.ApplyAsync(sysctl, CancellationToken.None));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => sysctl.GetAsync("net.ipv4.no_such_key", CancellationToken.None));
        Assert.Contains(ns.Name, e.Message, StringComparison.Ordinal);
    }
}
