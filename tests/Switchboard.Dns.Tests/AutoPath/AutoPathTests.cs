using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.AutoPath;

/// <summary>
/// `--autopath`: dig on 127.0.0.1 plays a Pod in namespace "default" (a Pod whose IP is 127.0.0.1 is fed to the
/// zone); a query for the first search-path expansion is answered with a CNAME to the first name that exists.
/// </summary>
public sealed class AutoPathTests : IAsyncLifetime
{
    private readonly FakeResolver _upstream = new();
    private InjectedServer _server = null!;

    public async Task InitializeAsync()
    {
        _upstream.AddA("google.com", 300, "192.0.2.100");
        _server = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, true, _upstream.Address), objects:
        [
            Namespace("default"), Namespace("other"),
            ClusterIp("other", "web", "10.96.0.50", ("http", 80, "TCP")),
            ClusterIp("default", "api", "10.96.0.51", ("http", 80, "TCP")),
            InjectedServer.Pod("default", "client", "127.0.0.1"),
        ]);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Dig_ExternalNameFirstSearchPath_OneQueryCnameToTheBareName()
    {
        var r = await Dig.QueryAsync(_server.Port, "google.com.default.svc.cluster.local", "A");
        Assert.Equal("NOERROR", r.Status);
        Assert.Equal(["CNAME google.com.", "A 192.0.2.100"], r.Answer.Select(a => $"{a.Type} {a.Data}"));
        Assert.Equal("google.com.default.svc.cluster.local.", r.Answer[0].Name);
        Assert.Equal(1, _upstream.Count("google.com"));
        Assert.Contains("coredns_autopath_success_total{server=\"dns://127.0.0.1:0\"} 1", _server.Server.Metrics.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dig_ServiceInOtherNamespace_CnameToItsServiceName()
    {
        var r = await Dig.QueryAsync(_server.Port, "web.other.default.svc.cluster.local", "A");
        Assert.Equal(["CNAME web.other.svc.cluster.local.", "A 10.96.0.50"], r.Answer.Select(a => $"{a.Type} {a.Data}"));
    }

    [Fact]
    public async Task Dig_NameThatExistsAsAsked_NoCname()
    {
        var r = await Dig.QueryAsync(_server.Port, "api.default.svc.cluster.local", "A");
        Assert.Equal(["A 10.96.0.51"], r.Answer.Select(a => $"{a.Type} {a.Data}"));
    }

    [Fact]
    public async Task Dig_NothingAnywhere_PlainNxdomain()
    {
        var r = await Dig.QueryAsync(_server.Port, "nothing-here.default.svc.cluster.local", "A");
        Assert.Equal("NXDOMAIN", r.Status);
        Assert.Empty(r.Answer);
    }

    [Fact]
    public async Task Dig_FromAnAddressThatIsNoPod_NoAutopath()
    {
        var r = await Dig.QueryAsync(_server.Port, "google.com.default.svc.cluster.local", "A", "-b", "127.0.0.2");
        Assert.Equal("NXDOMAIN", r.Status);
    }

    [Fact]
    public async Task Dig_OtherNamespacesSearchPath_NoAutopath()
    {
        // The Pod lives in "default": a walk of "other"'s search path is not this Pod's.
        var r = await Dig.QueryAsync(_server.Port, "google.com.other.svc.cluster.local", "A");
        Assert.Equal("NXDOMAIN", r.Status);
    }
}
