using k8s;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Netfilter.Fake;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.Hosting;

public sealed class ProxyServerOptionsTests
{
    private static readonly Dictionary<IpFamily, INftables> V4 = new() { [IpFamily.IPv4] = new FakeNftables() };

    [Theory]
    [InlineData(" ", 30, 1, "NodeName")]
    [InlineData("n", 0, 1, "sync periods")]
    [InlineData("n", 30, -1, "sync periods")]
    [InlineData("n", 30, 7200, "sync periods")]
    public void Constructor_BadOptions_ClearError(string node, int syncSeconds, int minSyncSeconds, string message)
    {
        var options = new ProxyServerOptions { NodeName = node, SyncPeriod = TimeSpan.FromSeconds(syncSeconds), MinSyncPeriod = TimeSpan.FromSeconds(minSyncSeconds) };
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" });
        var ex = Assert.Throws<ArgumentException>(() => new ProxyServer(client, options, V4, new FakeConntrack()));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NoFamilies_ClearError()
    {
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" });
        var ex = Assert.Throws<ArgumentException>(() => new ProxyServer(client, new ProxyServerOptions { NodeName = "n" }, new Dictionary<IpFamily, INftables>(), new FakeConntrack()));
        Assert.Contains("IP family", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_AreKubeProxyPorts()
    {
        var o = new ProxyServerOptions { NodeName = "n" };
        Assert.Equal("0.0.0.0:10256", o.HealthzBindAddress!.ToString());
        Assert.Equal("0.0.0.0:10249", o.MetricsBindAddress!.ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), o.MinSyncPeriod);
        Assert.Equal(TimeSpan.FromSeconds(30), o.SyncPeriod);
    }
}
