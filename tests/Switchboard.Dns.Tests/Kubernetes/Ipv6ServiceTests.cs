using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using Switchboard.TestKit;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>S3 and S8 through the API: a cluster whose Service CIDR is IPv6 only.</summary>
public sealed class Ipv6ServiceTests : IAsyncLifetime
{
    private TestApiServer _api = null!;
    private DnsServer _dns = null!;

    public async Task InitializeAsync()
    {
        _api = await TestApiServer.StartAsync(configure: o => o.ServiceClusterIpRange = "fd00:10:96::/112");
        await _api.Client.CoreV1.CreateNamespacedServiceAsync(ClusterIp("default", "web6", "fd00:10:96::5", ("http", 80, "TCP")), "default");
        _dns = DnsServer.Start(ClusterFixture.Options(PodsMode.Disabled, false, "none"), _api.Client, NullLoggerFactory.Instance, TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _dns.WaitReadyAsync(cts.Token);
    }

    public async Task DisposeAsync()
    {
        await _dns.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task Dig_Ipv6ClusterIp_AaaaAndNoA()
    {
        var aaaa = await Dig.QueryAsync(_dns.EndPoints[0].Port, "web6.default.svc.cluster.local", "AAAA");
        Assert.Equal("fd00:10:96::5", Assert.Single(aaaa.Answer).Data);
        var a = await Dig.QueryAsync(_dns.EndPoints[0].Port, "web6.default.svc.cluster.local", "A");
        Assert.Equal("NOERROR", a.Status);
        Assert.Empty(a.Answer);
        Assert.Equal("SOA", Assert.Single(a.Authority).Type);
    }

    [Fact]
    public async Task Dig_Ipv6Ptr_AllNibblesReversed()
    {
        var r = await Dig.QueryAsync(_dns.EndPoints[0].Port, "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa", "PTR");
        Assert.Equal("web6.default.svc.cluster.local.", Assert.Single(r.Answer).Data);
        // The kubernetes Service got the range's first address: ::1.
        var k = await Dig.QueryAsync(_dns.EndPoints[0].Port, "kubernetes.default.svc.cluster.local", "AAAA");
        Assert.Equal("fd00:10:96::1", Assert.Single(k.Answer).Data);
    }
}
