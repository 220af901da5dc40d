using System.Net;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using Switchboard.Dns.Wire;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Forward;

/// <summary>Forwarding to an upstream the test owns: caching with TTLs (virtual time), negative caching, big answers over
/// TCP, a dead upstream, a forwarding loop, and ExternalName targets with no upstream.</summary>
public sealed class ForwardTests : IAsyncLifetime
{
    private readonly FakeResolver _upstream = new();

    public Task InitializeAsync()
    {
        _upstream.AddA("example.org", 60, "192.0.2.1");
        _upstream.AddAaaa("example.org", 60); // exists, no AAAA: NODATA
        _upstream.AddA("big.example", 300, [.. Enumerable.Range(1, 100).Select(i => $"192.0.2.{i}")]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task Dig_ForwardedAnswer_CachedUntilItsTtlRunsOut()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, _upstream.Address), time, objects: [Namespace("default")]);

        var first = await Dig.QueryAsync(s.Port, "example.org", "A");
        Assert.Equal(("192.0.2.1", 60), (Assert.Single(first.Answer).Data, first.Answer[0].Ttl));
        Assert.True(first.Has("ra") && !first.Has("aa"));
        time.Advance(TimeSpan.FromSeconds(10));
        var second = await Dig.QueryAsync(s.Port, "EXAMPLE.org", "A");
        Assert.Equal(50, Assert.Single(second.Answer).Ttl);
        Assert.Equal(1, _upstream.Count("example.org"));

        time.Advance(TimeSpan.FromSeconds(51));
        await Dig.QueryAsync(s.Port, "example.org", "A");
        Assert.Equal(2, _upstream.Count("example.org"));

        var metrics = s.Server.Metrics.Render();
        Assert.Contains("coredns_cache_hits_total{server=\"dns://127.0.0.1:0\",view=\"\",zones=\".\",type=\"success\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dig_NegativeAnswers_CachedForTheSoaMinimum()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, _upstream.Address), time, objects: [Namespace("default")]);
        for (var i = 0; i < 3; i++)
        {
            var nx = await Dig.QueryAsync(s.Port, "nx.example", "A");
            Assert.Equal("NXDOMAIN", nx.Status);
            Assert.Equal("example.", Assert.Single(nx.Authority).Name);
            var nodata = await Dig.QueryAsync(s.Port, "example.org", "AAAA");
            Assert.Equal("NOERROR", nodata.Status);
            Assert.Empty(nodata.Answer);
        }
        Assert.Equal(1, _upstream.Count("nx.example"));
        time.Advance(TimeSpan.FromSeconds(31)); // SOA minimum 30
        await Dig.QueryAsync(s.Port, "nx.example", "A");
        Assert.Equal(2, _upstream.Count("nx.example"));
    }

    [Fact]
    public async Task Dig_LargeUpstreamAnswer_ForwarderRetriesOverTcpAndClientGetsItAll()
    {
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, _upstream.Address), objects: [Namespace("default")]);
        var r = await Dig.QueryAsync(s.Port, "big.example", "A");
        Assert.True(r.RetriedOverTcp);
        Assert.Equal(100, r.Answer.Count);
        Assert.Equal(2, _upstream.Count("big.example")); // once over UDP (truncated), once over TCP
    }

    [Fact]
    public async Task Dig_DeadUpstream_Servfail()
    {
        await using var dead = new FakeResolver { Silent = true };
        var options = ClusterFixture.Options(PodsMode.Disabled, false, dead.Address);
        options.ForwardTimeout = TimeSpan.FromMilliseconds(200);
        await using var s = await InjectedServer.StartAsync(options, objects: [Namespace("default")]);
        var r = await Dig.QueryAsync(s.Port, "example.org", "A");
        Assert.Equal("SERVFAIL", r.Status);
        Assert.Contains("coredns_forward_healthcheck_failures_total{to=\"" + dead.Address + "\"} 2", s.Server.Metrics.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dig_UpstreamForwardsBackToUs_LoopDetectedAndForwardingOff()
    {
        await using var relay = new FakeResolver();
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, relay.Address), objects: [Namespace("default")]);
        Assert.False(s.Server.LoopDetected);
        relay.RelayTo = new IPEndPoint(IPAddress.Loopback, s.Port); // the "upstream" now sends everything back to us
        await s.Server.ProbeForLoopAsync();
        Assert.True(s.Server.LoopDetected);
        var r = await Dig.QueryAsync(s.Port, "example.org", "A");
        Assert.Equal("SERVFAIL", r.Status);
        Assert.Contains("coredns_loop_detected_total 1", s.Server.Metrics.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dig_ExternalNameWithoutUpstream_CnameOnly()
    {
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, "none"), objects: [Namespace("default"), ExternalName("default", "ext", "www.example.com")]);
        var r = await Dig.QueryAsync(s.Port, "ext.default.svc.cluster.local", "A");
        Assert.Equal("NOERROR", r.Status);
        Assert.Equal("CNAME www.example.com.", Assert.Single(r.Answer.Select(a => $"{a.Type} {a.Data}")));
    }

    [Fact]
    public void UpstreamConfig_ResolvConf_NameserversAndLastSearchLine()
    {
        var conf = Switchboard.Dns.Forward.UpstreamConfig.ParseResolvConf("# c\nsearch a.example b.example\nnameserver 192.0.2.1\nnameserver fd00::53\noptions ndots:5\nsearch c.example\n");
        Assert.Equal(["192.0.2.1:53", "[fd00::53]:53"], conf.Servers.Select(e => e.ToString()));
        Assert.Equal(["c.example"], conf.Search);
        var explicitList = Switchboard.Dns.Forward.UpstreamConfig.Parse(["127.0.0.1:5300", "[::1]:53", "192.0.2.9"], _ => null);
        Assert.Equal(["127.0.0.1:5300", "[::1]:53", "192.0.2.9:53"], explicitList.Servers.Select(e => e.ToString()));
        Assert.Empty(Switchboard.Dns.Forward.UpstreamConfig.Parse(["none"], _ => null).Servers);
        Assert.Throws<ArgumentException>(() => Switchboard.Dns.Forward.UpstreamConfig.Parse(["none", "127.0.0.1"], _ => null));
    }
}
