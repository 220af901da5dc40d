using Switchboard.Netfilter.Fake;
using Switchboard.Netfilter.Tracing;

namespace Switchboard.Netfilter.Tests.Tracing;

public sealed class PacketTracerTests
{
    private static readonly NftTableRef T = new(NftFamily.Ip, "sbt-trace");
    private static readonly string[] NodeIps = ["192.168.0.2"];

    /// <summary>A small kube-proxy-shaped ruleset: DNAT through a vmap and numgen, masquerade mark, a filter chain.</summary>
    private static NftTransactionBuilder Base() => new NftTransactionBuilder(T)
        .Add(new NftTable())
        .Add(new NftChain { Name = "filter-prerouting", Type = NftChainType.Filter, Hook = NftHook.Prerouting, Priority = "dstnat-10" })
        .Add(new NftChain { Name = "filter-forward", Type = NftChainType.Filter, Hook = NftHook.Forward, Priority = "dstnat-10" })
        .Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = NftPriority.DstNat })
        .Add(new NftChain { Name = "nat-postrouting", Type = NftChainType.Nat, Hook = NftHook.Postrouting, Priority = NftPriority.SrcNat })
        .Add(new NftChain { Name = "mark-for-masquerade" })
        .Add(new NftChain { Name = "masquerading" })
        .Add(new NftChain { Name = "services" })
        .Add(new NftChain { Name = "service-a" })
        .Add(new NftChain { Name = "endpoint-a1" })
        .Add(new NftChain { Name = "endpoint-a2" })
        .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict" })
        .Add(new NftRule { Chain = "mark-for-masquerade", Text = "mark set mark or 0x4000" })
        .Add(new NftRule { Chain = "masquerading", Text = "mark and 0x4000 == 0 return" })
        .Add(new NftRule { Chain = "masquerading", Text = "mark set mark xor 0x4000" })
        .Add(new NftRule { Chain = "masquerading", Text = "masquerade fully-random" })
        .Add(new NftRule { Chain = "nat-prerouting", Text = "jump services" })
        .Add(new NftRule { Chain = "nat-postrouting", Text = "jump masquerading" })
        .Add(new NftRule { Chain = "filter-prerouting", Text = "ct state new ip saddr 198.51.100.0/24 drop" })
        .Add(new NftRule { Chain = "services", Text = "ip daddr . meta l4proto . th dport vmap @service-ips" })
        .Add(new NftRule { Chain = "service-a", Text = "ip saddr != 10.0.0.0/8 jump mark-for-masquerade" })
        .Add(new NftRule { Chain = "service-a", Text = "numgen random mod 2 vmap { 0 : goto endpoint-a1, 1 : goto endpoint-a2 }" })
        .Add(new NftRule { Chain = "endpoint-a1", Text = "meta l4proto tcp dnat to 10.244.1.5:8080" })
        .Add(new NftRule { Chain = "endpoint-a2", Text = "meta l4proto tcp dnat to 10.244.2.5:8080" })
        .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-a"] });

    private static async Task<PacketTracer> TracerAsync(Action<NftTransactionBuilder>? extra = null)
    {
        var nft = new FakeNftables();
        var b = Base();
        extra?.Invoke(b);
        await nft.RunAsync(b.Build(), CancellationToken.None);
        return new PacketTracer(nft.Snapshot, NodeIps);
    }

    [Fact]
    public async Task Trace_PodToService_AllNumgenBranchesNoMasquerade()
    {
        var r = (await TracerAsync()).Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.10", 80));
        Assert.Equal(TraceVerdict.Accept, r.Verdict);
        Assert.Equal(["10.244.1.5:8080", "10.244.2.5:8080"], r.Endpoints);
        Assert.False(r.Masqueraded);
    }

    [Fact]
    public async Task Trace_NumgenCascade_FollowsEveryBranch()
    {
        // The proxy's endpoint choice without anonymous sets: "numgen random mod K 0 goto X" steps, then a plain goto.
        var r = (await TracerAsync(b => b
            .Add(new NftChain { Name = "service-c" })
            .Add(new NftChain { Name = "endpoint-c3" })
            .Add(new NftRule { Chain = "service-c", Text = "numgen random mod 3 0 goto endpoint-a1" })
            .Add(new NftRule { Chain = "service-c", Text = "numgen random mod 2 0 goto endpoint-a2" })
            .Add(new NftRule { Chain = "service-c", Text = "goto endpoint-c3" })
            .Add(new NftRule { Chain = "endpoint-c3", Text = "meta l4proto tcp dnat to 10.244.3.5:8080" })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.11", "tcp", "80"], Value = ["goto service-c"] })))
            .Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.11", 80));
        Assert.Equal(TraceVerdict.Accept, r.Verdict);
        Assert.Equal(["10.244.1.5:8080", "10.244.2.5:8080", "10.244.3.5:8080"], r.Endpoints);
    }

    /// <summary>The proxy's shape without endpoint chains: an inline-DNAT cascade and the hairpin set after DNAT.</summary>
    private static void InlineDnat(NftTransactionBuilder b) => b
        .Add(new NftChain { Name = "service-d" })
        .Add(new NftSet { Name = "hairpin-connections", Type = "ipv4_addr . ipv4_addr" })
        .Add(new NftRule { Chain = "service-d", Text = "numgen random mod 2 0 meta l4proto tcp dnat to 10.244.4.5:8080" })
        .Add(new NftRule { Chain = "service-d", Text = "meta l4proto tcp dnat to 10.244.4.6:8080" })
        .Add(new NftElement { Set = "hairpin-connections", Key = ["10.244.4.5", "10.244.4.5"] })
        .Add(new NftElement { Set = "hairpin-connections", Key = ["10.244.4.6", "10.244.4.6"] })
        .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.12", "tcp", "80"], Value = ["goto service-d"] })
        .Insert(new NftRule { Chain = "masquerading", Text = "ct status dnat ip saddr . ip daddr @hairpin-connections jump mark-for-masquerade" });

    [Fact]
    public async Task Trace_InlineDnatCascade_FollowsEveryBranchWithoutMasquerade()
    {
        var r = (await TracerAsync(InlineDnat)).Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.12", 80));
        Assert.Equal(["10.244.4.5:8080", "10.244.4.6:8080"], r.Endpoints);
        Assert.False(r.Masqueraded);
    }

    [Fact]
    public async Task Trace_HairpinSetAfterDnat_EndpointReachingItselfIsMasqueraded()
    {
        // The first branch is the DNAT target the trace continues with: source == DNATed destination.
        var r = (await TracerAsync(InlineDnat)).Trace(new TracePacket("10.244.4.5", "tcp", "10.96.0.12", 80));
        Assert.True(r.Masqueraded);
        Assert.Contains(r.Matches, m => m.StartsWith("masquerading: ct status dnat ip saddr . ip daddr @hairpin-connections", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trace_HairpinSetWithoutDnat_NotMasqueraded()
    {
        // Same source and destination but no DNAT happened: "ct status dnat" does not match.
        var r = (await TracerAsync(InlineDnat)).Trace(new TracePacket("10.244.4.5", "tcp", "10.244.4.5", 8080));
        Assert.Empty(r.Endpoints);
        Assert.False(r.Masqueraded);
    }

    [Fact]
    public async Task Trace_NumgenBranchOfUnknownShape_Throws()
    {
        var tracer = await TracerAsync(b => b
            .Add(new NftChain { Name = "service-e" })
            .Add(new NftRule { Chain = "service-e", Text = "numgen random mod 2 0 counter accept" })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.13", "tcp", "80"], Value = ["goto service-e"] }));
        var ex = Assert.Throws<TracerException>(() => tracer.Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.13", 80)));
        Assert.Contains("numgen branch", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trace_OutsideSource_MasqueradedInPostrouting()
    {
        var r = (await TracerAsync()).Trace(new TracePacket("203.0.113.1", "tcp", "10.96.0.10", 80));
        Assert.Equal("10.244.1.5:8080, 10.244.2.5:8080", r.Output);
        Assert.True(r.Masqueraded);
        Assert.Contains(r.Matches, m => m == "masquerading: masquerade fully-random");
    }

    [Fact]
    public async Task Trace_FilterDropBeforeNat_Drops()
    {
        var r = (await TracerAsync()).Trace(new TracePacket("198.51.100.7", "tcp", "10.96.0.10", 80));
        Assert.Equal("DROP", r.Output);
        Assert.Empty(r.Endpoints);
        Assert.False(r.Masqueraded);
    }

    [Fact]
    public async Task Trace_NoMatchingElement_Untouched()
    {
        var r = (await TracerAsync()).Trace(new TracePacket("10.0.0.2", "udp", "10.96.0.10", 80));
        Assert.Equal("", r.Output);
        Assert.Equal(TraceVerdict.Accept, r.Verdict);
    }

    [Fact]
    public async Task Trace_RejectAfterDnatSeesEndpointAddress()
    {
        // Post-DNAT filtering must see the endpoint, not the service IP.
        var tracer = await TracerAsync(b => b.Add(new NftRule { Chain = "filter-forward", Text = "ip daddr 10.244.1.5 tcp dport 8080 reject" }));
        Assert.Equal("REJECT", tracer.Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.10", 80)).Output);
    }

    [Fact]
    public async Task Trace_UnknownRuleShape_Throws()
    {
        var tracer = await TracerAsync(b => b.Add(new NftRule { Chain = "filter-forward", Text = "meta iifname \"eth0\" counter accept" }));
        var ex = Assert.Throws<TracerException>(() => tracer.Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.10", 80)));
        Assert.Contains("meta iifname", ex.Message);
    }

    [Fact]
    public async Task Trace_NumgenWithWrongEntryCount_Throws()
    {
        var tracer = await TracerAsync(b => b
            .Add(new NftChain { Name = "service-b" })
            .Add(new NftRule { Chain = "service-b", Text = "numgen random mod 3 vmap { 0 : goto endpoint-a1, 1 : goto endpoint-a2 }" })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.11", "tcp", "80"], Value = ["goto service-b"] }));
        var ex = Assert.Throws<TracerException>(() => tracer.Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.11", 80)));
        Assert.Contains("numgen mod 3 with 2 entries", ex.Message);
    }

    [Fact]
    public async Task Trace_Ip6MatchInIpTable_Throws()
    {
        var tracer = await TracerAsync(b => b.Add(new NftRule { Chain = "filter-forward", Text = "ip6 daddr ::1 drop" }));
        Assert.Throws<TracerException>(() => tracer.Trace(new TracePacket("10.0.0.2", "tcp", "10.96.0.10", 80)));
    }

    [Theory]
    [InlineData("10.0.0.2", "icmp", "10.96.0.10", 80, "protocol")]
    [InlineData("10.0.0.2", "tcp", "10.96.0.10", 0, "port")]
    [InlineData("10.0.0.2", "tcp", "fd00::1", 80, "different families")]
    [InlineData("not-an-ip", "tcp", "10.96.0.10", 80, "not an IP")]
    public async Task Trace_BadPacket_ClearError(string src, string proto, string dst, int port, string message)
    {
        var tracer = await TracerAsync();
        var ex = Assert.Throws<ArgumentException>(() => tracer.Trace(new TracePacket(src, proto, dst, port)));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public async Task Trace_NodeOrigin_UsesOutputHooks()
    {
        var tracer = await TracerAsync(b => b
            .Add(new NftChain { Name = "nat-output", Type = NftChainType.Nat, Hook = NftHook.Output, Priority = NftPriority.DstNat })
            .Add(new NftRule { Chain = "nat-output", Text = "fib saddr type local jump mark-for-masquerade" })
            .Add(new NftRule { Chain = "nat-output", Text = "jump services" }));

        var fromNode = tracer.Trace(new TracePacket("192.168.0.2", "tcp", "10.96.0.10", 80, PacketOrigin.Node));
        Assert.Equal("10.244.1.5:8080, 10.244.2.5:8080", fromNode.Output);
        Assert.True(fromNode.Masqueraded);

        // The prerouting drop of 198.51.100.0/24 does not apply to the node's own traffic.
        Assert.Equal(TraceVerdict.Accept, tracer.Trace(new TracePacket("198.51.100.7", "tcp", "10.96.0.10", 80, PacketOrigin.Node)).Verdict);
    }
}
