using k8s.Models;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>
/// S4 and example 6: a dual-stack Service. The in-process API server allocates one family per Service so far (dual-stack
/// allocation is the semantics issue's), so the objects are fed to the zone directly, through the same conversion
/// the reflector handlers use; the answers are still read with dig.
/// </summary>
public sealed class DualStackTests : IAsyncLifetime
{
    private InjectedServer _server = null!;

    public async Task InitializeAsync()
    {
        var web = ClusterIp("default", "web", "10.96.5.5", ("http", 80, "TCP"));
        web.Spec.ClusterIPs = ["10.96.5.5", "fd00:10:96::5"];
        web.Spec.IpFamilies = ["IPv4", "IPv6"];
        _server = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, "none"), objects: [Namespace("default"), web]);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("web.default.svc.cluster.local", "A", "A 10.96.5.5")]
    [InlineData("web.default.svc.cluster.local", "AAAA", "AAAA fd00:10:96::5")]
    [InlineData("5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa", "PTR", "PTR web.default.svc.cluster.local.")]
    [InlineData("5.5.96.10.in-addr.arpa", "PTR", "PTR web.default.svc.cluster.local.")]
    public async Task Dig_DualStackService_AnswersEachFamily(string name, string type, string expected)
    {
        var r = await Dig.QueryAsync(_server.Port, name, type);
        Assert.Equal("NOERROR", r.Status);
        Assert.Equal(expected, Assert.Single(r.Answer.Select(a => $"{a.Type} {a.Data}")));
    }

    [Fact]
    public async Task Dig_DualStackSrv_CarriesBothAddressesInAdditional()
    {
        var r = await Dig.QueryAsync(_server.Port, "_http._tcp.web.default.svc.cluster.local", "SRV");
        Assert.Equal("0 100 80 web.default.svc.cluster.local.", Assert.Single(r.Answer).Data);
        Assert.Equal(["A 10.96.5.5", "AAAA fd00:10:96::5"], r.Additional.Select(a => $"{a.Type} {a.Data}").Order().ToArray());
    }

    [Fact]
    public async Task Dig_NoUpstream_ExternalNamesAreServfailAndRecursionIsNotOffered()
    {
        var r = await Dig.QueryAsync(_server.Port, "example.org", "A");
        Assert.Equal("SERVFAIL", r.Status);
        Assert.False(r.Has("ra"));
        // N7 without fallthrough: an unknown reverse name is NXDOMAIN with the reverse zone's SOA.
        var ptr = await Dig.QueryAsync(_server.Port, "101.0.0.10.in-addr.arpa", "PTR");
        Assert.Equal("NXDOMAIN", ptr.Status);
        Assert.Equal("in-addr.arpa.", Assert.Single(ptr.Authority).Name);
    }
}
