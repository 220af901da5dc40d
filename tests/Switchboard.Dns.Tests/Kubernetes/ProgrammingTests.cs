using k8s;
using k8s.Models;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>Answers follow the API: a Service created now resolves, a deleted one stops, a slice change moves addresses;
/// before the first list the zone answers SERVFAIL, never NXDOMAIN (N9). Polls are bounded only so a bug cannot hang.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ProgrammingTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Dig_ServiceCreatedThenDeleted_ResolvesThenNxdomain()
    {
        var ns = "prog1";
        await fixture.Client.CoreV1.CreateNamespaceAsync(Namespace(ns));
        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(fixture.Port, "late.prog1.svc.cluster.local", "A")).Status);
        await fixture.Client.CoreV1.CreateNamespacedServiceAsync(ClusterIp(ns, "late", "10.96.0.77", ("http", 80, "TCP")), ns);
        var r = await PollAsync("late.prog1.svc.cluster.local", "A", x => x.Answer.Count == 1);
        Assert.Equal("10.96.0.77", r.Answer[0].Data);

        await fixture.Client.CoreV1.DeleteNamespacedServiceAsync("late", ns);
        await PollAsync("late.prog1.svc.cluster.local", "A", x => x.Status == "NXDOMAIN");
        var ptr = await Dig.QueryAsync(fixture.Port, "77.0.96.10.in-addr.arpa", "PTR");
        Assert.DoesNotContain(ptr.Answer, a => a.Data.Contains("late", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dig_SliceUpdated_AddressesFollow()
    {
        var ns = "prog2";
        await fixture.Client.CoreV1.CreateNamespaceAsync(Namespace(ns));
        await fixture.Client.CoreV1.CreateNamespacedServiceAsync(Headless(ns, "h", false, ("http", 80, "TCP")), ns);
        await PollAsync("h.prog2.svc.cluster.local", "A", x => x.Status == "NXDOMAIN");
        var slice = await fixture.Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice(ns, "h", "h-1", "IPv4", ClusterFixture.Http, Ep("10.244.5.1", ready: false)), ns);
        await PollAsync("h.prog2.svc.cluster.local", "A", x => x.Status == "NXDOMAIN");

        slice.Endpoints[0].Conditions.Ready = true;
        slice.Endpoints.Add(new V1Endpoint { Addresses = ["10.244.5.2"], Conditions = new V1EndpointConditions { Ready = true } });
        await fixture.Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, "h-1", ns);
        var r = await PollAsync("h.prog2.svc.cluster.local", "A", x => x.Answer.Count == 2);
        Assert.Equal(["10.244.5.1", "10.244.5.2"], r.Answer.Select(a => a.Data).Order().ToArray());

        await fixture.Client.DiscoveryV1.DeleteNamespacedEndpointSliceAsync("h-1", ns);
        await PollAsync("h.prog2.svc.cluster.local", "A", x => x.Status == "NXDOMAIN");
    }

    [Fact]
    public async Task Dig_BeforeFirstSync_ServfailAndNotReady()
    {
        await using var server = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, "none"), synced: false,
            objects: [Namespace("default"), ClusterIp("default", "web", "10.96.0.9", ("http", 80, "TCP"))]);
        var r = await Dig.QueryAsync(server.Port, "web.default.svc.cluster.local", "A");
        Assert.Equal("SERVFAIL", r.Status);
        Assert.Equal("SERVFAIL", (await Dig.QueryAsync(server.Port, "nosuch.default.svc.cluster.local", "A")).Status);
        using var http = new HttpClient();
        var ready = await http.GetAsync(new Uri($"http://{server.Server.ReadyEndPoint}/ready"));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);

        server.Index.MarkSynced();
        server.Index.Publish();
        var after = await Dig.QueryAsync(server.Port, "web.default.svc.cluster.local", "A");
        Assert.Equal("10.96.0.9", Assert.Single(after.Answer).Data);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://{server.Server.ReadyEndPoint}/ready"))).StatusCode);
    }

    [Fact]
    public async Task Dig_TtlFlag_AppliesToRecordsAndSoaMinimum()
    {
        await using var dns = await fixture.StartServerAsync(PodsMode.Disabled, ttl: 30);
        var port = dns.EndPoints[0].Port;
        var a = await Dig.QueryAsync(port, "svc1.testns.svc.cluster.local", "A");
        Assert.Equal(30, Assert.Single(a.Answer).Ttl);
        var nx = await Dig.QueryAsync(port, "nosuch.testns.svc.cluster.local", "A");
        var soa = Assert.Single(nx.Authority);
        Assert.Equal(30, soa.Ttl);
        Assert.EndsWith(" 30", soa.Data, StringComparison.Ordinal);
    }

    private async Task<DigResult> PollAsync(string name, string type, Func<DigResult, bool> done)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var r = await Dig.QueryAsync(fixture.Port, name, type);
            if (done(r))
            {
                return r;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{name} {type} did not converge:\n{r.Raw}");
            await Task.Delay(20);
        }
    }
}
