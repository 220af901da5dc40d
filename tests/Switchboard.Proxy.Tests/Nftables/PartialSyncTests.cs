using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Tracing;
using static Switchboard.Proxy.Tests.Builders;

namespace Switchboard.Proxy.Tests.Nftables;

/// <summary>Full versus partial syncs: what each transaction sends, stale chain clean-up, failure recovery.</summary>
public sealed class PartialSyncTests
{
    private static V1EndpointSlice S(string ns, string svc, params string[] ips) =>
        Slice(ns, svc, svc + "-abc", "IPv4", [EpPort("p80", 80)], [.. ips.Select(ip => Ep(ip, "other-node"))]);

    private static string Describe(NftOperation op) => op.Verb + " " + op.Object switch
    {
        NftChain c => "chain " + c.Name,
        NftRule r => "rule " + r.Chain + " " + r.Text,
        NftSet s => "set " + s.Name,
        NftMap m => "map " + m.Name,
        NftElement e => "element " + e.Container + " " + string.Join(" . ", e.Key) + (e.Value.IsEmpty ? "" : " : " + string.Join(" . ", e.Value)),
        NftTable => "table",
        _ => op.Object.ToString(),
    };

    private static async Task<ProxierHarness> TwoServicesAsync()
    {
        var h = new ProxierHarness();
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)), Service("ns2", "svc2", "172.30.0.42", Port("p80", 80)));
        h.Add(S("ns1", "svc1", "10.180.0.1"), S("ns2", "svc2", "10.180.0.2"));
        Assert.True((await h.SyncAsync()).FullSync);
        return h;
    }

    [Fact]
    public async Task PartialSync_NothingChanged_SendsNothing()
    {
        var h = await TwoServicesAsync();
        var outcome = await h.SyncAsync();
        Assert.False(outcome.FullSync);
        Assert.Equal(0, outcome.Transaction.Count);
    }

    [Fact]
    public async Task PartialSync_EndpointAdded_RewritesOnlyThatService()
    {
        var h = await TwoServicesAsync();
        h.Proxier.OnEndpointSliceUpdate(S("ns1", "svc1", "10.180.0.1", "10.180.0.3"));

        var outcome = await h.SyncAsync();

        Assert.False(outcome.FullSync);
        var ops = outcome.Transaction.Operations.Select(Describe).ToList();
        Assert.DoesNotContain(ops, o => o.Contains("svc2", StringComparison.Ordinal));
        Assert.DoesNotContain(ops, o => o.StartsWith("Add table", StringComparison.Ordinal) || o.Contains("filter-", StringComparison.Ordinal) || o.Contains("nat-", StringComparison.Ordinal));
        // No endpoint chains without affinity: the service chain DNATs directly.
        Assert.DoesNotContain(ops, o => o.Contains("endpoint-", StringComparison.Ordinal));
        Assert.Contains(ops, o => o.StartsWith("Add rule service-", StringComparison.Ordinal) && o.EndsWith("numgen random mod 2 0 meta l4proto tcp dnat to 10.180.0.1:80", StringComparison.Ordinal));
        Assert.Contains(ops, o => o.StartsWith("Add rule service-", StringComparison.Ordinal) && o.EndsWith(" meta l4proto tcp dnat to 10.180.0.3:80", StringComparison.Ordinal));

        // The service's map element did not change: the only element sent is the new endpoint's hairpin element.
        Assert.Equal(["Add element hairpin-connections 10.180.0.3 . 10.180.0.3"], ops.Where(o => o.Contains(" element ", StringComparison.Ordinal)));
        h.AssertFlows(new FlowCase("both endpoints", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80, 10.180.0.3:80", Masq: false));
    }

    [Fact]
    public async Task PartialSync_NewService_AddsOnlyItsElements()
    {
        var h = await TwoServicesAsync();
        h.Add(Service("ns3", "svc3", "172.30.0.43", Port("p80", 80))).Add(S("ns3", "svc3", "10.180.0.3"));

        var outcome = await h.SyncAsync();

        var elements = outcome.Transaction.Operations.Where(o => o.Object is NftElement).Select(Describe).ToList();
        Assert.Equal(3, elements.Count);
        Assert.Contains("Add element cluster-ips 172.30.0.43", elements);
        Assert.Contains("Add element hairpin-connections 10.180.0.3 . 10.180.0.3", elements);
        Assert.Contains(elements, e => e.StartsWith("Add element service-ips 172.30.0.43 . tcp . 80 : goto service-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PartialSync_EndpointIpSharedByTwoServices_HairpinElementKeptUntilLastUserGoes()
    {
        var h = await TwoServicesAsync();
        h.Add(Service("ns3", "svc3", "172.30.0.43", Port("p80", 80))).Add(S("ns3", "svc3", "10.180.0.1"));
        var added = await h.SyncAsync();
        Assert.DoesNotContain(added.Transaction.Operations.Select(Describe), o => o.Contains("hairpin-connections", StringComparison.Ordinal));

        // svc1 drops the endpoint; svc3 still has it, so the element stays and both still hairpin.
        h.Proxier.OnEndpointSliceUpdate(S("ns1", "svc1", "10.180.0.5"));
        var first = await h.SyncAsync();
        Assert.Equal(["Add element hairpin-connections 10.180.0.5 . 10.180.0.5"],
            first.Transaction.Operations.Select(Describe).Where(o => o.Contains("hairpin-connections", StringComparison.Ordinal)));
        Assert.True(h.Table.Set("hairpin-connections")!.Contains("10.180.0.1", "10.180.0.1"));
        h.AssertFlows(
            new FlowCase("hairpin through svc3", "10.180.0.1", "172.30.0.43", 80, "10.180.0.1:80", Masq: true),
            new FlowCase("old endpoint to svc1 is no hairpin", "10.180.0.1", "172.30.0.41", 80, "10.180.0.5:80", Masq: false));

        // The last user goes: the element is deleted.
        h.Proxier.OnServiceDelete(Service("ns3", "svc3", "172.30.0.43", Port("p80", 80)));
        var second = await h.SyncAsync();
        Assert.Contains("Delete element hairpin-connections 10.180.0.1 . 10.180.0.1", second.Transaction.Operations.Select(Describe));
        Assert.False(h.Table.Set("hairpin-connections")!.Contains("10.180.0.1", "10.180.0.1"));

        // A full resync rebuilds the same counts.
        h.Proxier.OnNodeLabels(new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "z1" });
        Assert.True((await h.SyncAsync()).FullSync);
        Assert.Equal(2, h.Table.Set("hairpin-connections")!.Elements.Count);
    }

    [Fact]
    public async Task PartialSync_EndpointsGone_ElementMovesToRejectMap()
    {
        var h = await TwoServicesAsync();
        h.Proxier.OnEndpointSliceUpdate(S("ns1", "svc1"));

        var outcome = await h.SyncAsync();

        var elements = outcome.Transaction.Operations.Where(o => o.Object is NftElement).Select(Describe).ToList();
        Assert.Equal(
            ["Add element no-endpoint-services 172.30.0.41 . tcp . 80 : goto reject-chain", "Delete element hairpin-connections 10.180.0.1 . 10.180.0.1", "Delete element service-ips 172.30.0.41 . tcp . 80"],
            elements.Order(StringComparer.Ordinal));
        h.AssertFlows(new FlowCase("now rejected", "10.0.0.2", "172.30.0.41", 80, "REJECT", Masq: false));
    }

    [Fact]
    public async Task PartialSync_ServiceDeleted_ChainsFlushedNowDeletedLater()
    {
        var h = await TwoServicesAsync();
        var svc1Chains = h.Table.Chains.Keys.Where(k => k.Contains("ns1/svc1", StringComparison.Ordinal)).ToList();
        Assert.Single(svc1Chains);
        h.Proxier.OnServiceDelete(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80)));
        h.Proxier.OnEndpointSliceDelete(S("ns1", "svc1", "10.180.0.1"));

        var outcome = await h.SyncAsync();

        var ops = outcome.Transaction.Operations.Select(Describe).ToList();
        foreach (var chain in svc1Chains)
        {
            Assert.Contains("Flush chain " + chain, ops);
            Assert.Empty(h.Table.Chain(chain)!.Rules);
        }

        Assert.Contains(TimeSpan.FromSeconds(1), h.RequestedDelays);
        h.AssertFlows(new FlowCase("deleted service", "10.0.0.2", "172.30.0.41", 80, "", Masq: false));

        // Not yet a second later: still there. After the delay: deleted by the next sync.
        await h.SyncAsync();
        Assert.NotNull(h.Table.Chain(svc1Chains[0]));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await h.SyncAsync();
        Assert.All(svc1Chains, c => Assert.Null(h.Table.Chain(c)));
        Assert.Single(h.Table.Chains.Keys, k => k.Contains("ns2/svc2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FailedSync_RequestsRetryAndNextSyncIsFull()
    {
        var h = await TwoServicesAsync();
        h.Proxier.OnEndpointSliceUpdate(S("ns1", "svc1", "10.180.0.9"));
        h.Nft.FailNextRun(new NftablesException(NftErrorKind.Other, "injected failure"));

        await h.Proxier.SyncAsync(CancellationToken.None);

        Assert.Contains(TimeSpan.FromSeconds(30), h.RequestedDelays);
        h.AssertFlows(new FlowCase("old state intact", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80", Masq: false));
        var outcome = await h.SyncAsync();
        Assert.True(outcome.FullSync);
        h.AssertFlows(new FlowCase("change applied by the full resync", "10.0.0.2", "172.30.0.41", 80, "10.180.0.9:80", Masq: false));
    }

    [Fact]
    public async Task Start_LeftoverChainsFromPreviousRun_AreRemoved()
    {
        var first = await TwoServicesAsync();

        // A new proxier (agent restart) on the same kernel state that no longer has svc2.
        var h = new ProxierHarness();
        h.Nft.Reset(first.Nft.Snapshot);
        h.Add(Service("ns1", "svc1", "172.30.0.41", Port("p80", 80))).Add(S("ns1", "svc1", "10.180.0.1"));
        await h.SyncAsync();
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await h.SyncAsync();

        Assert.DoesNotContain(h.Table.Chains.Keys, k => k.Contains("svc2", StringComparison.Ordinal));
        h.AssertFlows(new FlowCase("svc1 still works", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80", Masq: false));
    }

    [Theory]
    [InlineData(4242)]
    [InlineData(7)]
    [InlineData(99)]
    [InlineData(2026)]
    public async Task Churn_PartialSyncsEndInTheSameStateAsAFreshFullSync(int seed)
    {
        var random = new Random(seed);
        var h = new ProxierHarness();
        var services = new Dictionary<string, V1Service>();
        var slices = new Dictionary<string, V1EndpointSlice>();
        await h.SyncAsync();
        for (var step = 0; step < 100; step++)
        {
            var n = random.Next(8);
            var name = "svc" + n;
            var ip = "172.30.0." + (10 + n);
            switch (random.Next(5))
            {
                case 0 when services.Remove(name, out var old):
                    h.Proxier.OnServiceDelete(old);
                    break;
                case 1 or 2:
                    var svc = Service("ns", name, ip, Port("p80", 80, random.Next(2) == 0 ? "TCP" : "UDP", nodePort: 30000 + n)).With(s =>
                    {
                        s.Type = random.Next(2) == 0 ? "NodePort" : "LoadBalancer";
                        s.ExternalTrafficPolicy = random.Next(2) == 0 ? "Local" : "Cluster";
                        s.InternalTrafficPolicy = random.Next(3) == 0 ? "Local" : "Cluster";
                        s.SessionAffinity = random.Next(3) == 0 ? "ClientIP" : "None";
                        s.LoadBalancerSourceRanges = random.Next(2) == 0 ? ["203.0.113.0/25"] : null;
                    });
                    if (svc.Spec.Type == "LoadBalancer")
                    {
                        svc.LoadBalancerIps("5.6.7." + n);
                    }

                    h.Proxier.OnServiceUpdate(services.GetValueOrDefault(name), svc);
                    services[name] = svc;
                    break;
                default:
                    var eps = Enumerable.Range(0, random.Next(4)).Select(i => Ep("10.180." + n + "." + random.Next(1, 6), random.Next(2) == 0 ? ProxierHarness.NodeName : "other",
                        ready: random.Next(4) != 0, serving: true, terminating: random.Next(3) == 0)).DistinctBy(e => e.Addresses[0]).ToArray();
                    var protocol = services.TryGetValue(name, out var existing) ? existing.Spec.Ports[0].Protocol : "TCP";
                    var slice = Slice("ns", name, name + "-x", "IPv4", [EpPort("p80", 8080, protocol)], eps);
                    h.Proxier.OnEndpointSliceUpdate(slice);
                    slices[name] = slice;
                    break;
            }

            await h.SyncAsync();
            h.Time.Advance(TimeSpan.FromMilliseconds(400));
        }

        // Let stale chains age out.
        h.Time.Advance(TimeSpan.FromSeconds(2));
        await h.SyncAsync();

        var fresh = new ProxierHarness();
        fresh.Add([.. services.Values]).Add([.. slices.Values]);
        await fresh.SyncAsync();
        Assert.Equal(fresh.Nft.Dump(), h.Nft.Dump());
        Assert.True(h.Outcomes.Count(o => !o.FullSync) > 90);
    }
}
