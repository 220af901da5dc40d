using Switchboard.Netfilter.Fake;

namespace Switchboard.Netfilter.Tests.Fake;

public sealed class FakeNftablesTests
{
    private static readonly NftTableRef T = new(NftFamily.Ip, "sb");

    /// <summary>A small ruleset in the shape of kube-proxy's: a vmap dispatching to a service chain that goes to an endpoint chain.</summary>
    internal static NftTransactionBuilder Base() => new NftTransactionBuilder(T)
        .Add(new NftTable())
        .Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = NftPriority.DstNat })
        .Add(new NftChain { Name = "services" })
        .Add(new NftChain { Name = "service-a" })
        .Add(new NftChain { Name = "endpoint-a1" })
        .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict" })
        .Add(new NftSet { Name = "cluster-ips", Type = "ipv4_addr" })
        .Add(new NftSet { Name = "cidrs", Type = "ipv4_addr", Flags = [NftSetFlags.Interval] })
        .Add(new NftRule { Chain = "nat-prerouting", Text = "jump services" })
        .Add(new NftRule { Chain = "services", Text = "ip daddr . meta l4proto . th dport vmap @service-ips" })
        .Add(new NftRule { Chain = "service-a", Text = "numgen random mod 1 vmap { 0 : goto endpoint-a1 }" })
        .Add(new NftRule { Chain = "endpoint-a1", Text = "meta l4proto tcp dnat to 10.244.1.5:8080" })
        .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-a"] })
        .Add(new NftElement { Set = "cluster-ips", Key = ["10.96.0.10"] });

    private static async Task<FakeNftables> Loaded()
    {
        var nft = new FakeNftables();
        await nft.RunAsync(Base().Build(), CancellationToken.None);
        return nft;
    }

    private static async Task<NftablesException> Fails(FakeNftables nft, Action<NftTransactionBuilder> build)
    {
        var before = nft.Snapshot;
        var b = new NftTransactionBuilder(T);
        build(b);
        var e = await Assert.ThrowsAsync<NftablesException>(() => nft.RunAsync(b.Build(), CancellationToken.None));
        Assert.Same(before, nft.Snapshot);
        return e;
    }

    private static Task Runs(FakeNftables nft, Action<NftTransactionBuilder> build)
    {
        var b = new NftTransactionBuilder(T);
        build(b);
        return nft.RunAsync(b.Build(), CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_ProxyShapes_SnapshotHasObjectsInOrder()
    {
        var nft = await Loaded();
        var table = nft.Snapshot.Table(T)!;
        Assert.Equal(["jump services"], table.Chain("nat-prerouting")!.Rules.Select(r => r.Text));
        Assert.Equal("goto service-a", table.Map("service-ips")!.Lookup("10.96.0.10", "6", "80")!.Value[0]);
        Assert.Null(table.Map("service-ips")!.Lookup("10.96.0.11", "tcp", "80"));
        Assert.Equal(2, table.References("service-a") + table.References("endpoint-a1"));
        Assert.Equal(1, nft.SuccessfulRuns);
    }

    [Fact]
    public async Task RunAsync_AddTwice_IsIdempotent()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Add(new NftTable()).Add(new NftChain { Name = "services" })
            .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict" })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-a"] }));
        Assert.Single(nft.Snapshot.Table(T)!.Map("service-ips")!.Elements);
    }

    [Fact]
    public async Task RunAsync_CreateExisting_ExistsAndNothingApplied()
    {
        var nft = await Loaded();
        var e = await Fails(nft, b => b.Add(new NftChain { Name = "new" }).Create(new NftChain { Name = "services" }));
        Assert.Equal(NftErrorKind.Exists, e.Kind);
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
        Assert.Null(nft.Snapshot.Table(T)!.Chain("new"));
    }

    [Fact]
    public async Task RunAsync_DeleteMissing_NotFound()
    {
        var nft = await Loaded();
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Delete(new NftChain { Name = "nope" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Delete(new NftSet { Name = "nope" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Delete(new NftSet { Name = "service-ips" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Flush(new NftMap { Name = "cluster-ips" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.99", "tcp", "80"] }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Delete(new NftRule { Chain = "services", Handle = 999 }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.UseTable(new NftTableRef(NftFamily.Ip6, "sb")).Add(new NftChain { Name = "x" }))).Kind);
    }

    [Fact]
    public async Task RunAsync_DeleteReferencedChainOrMap_Busy()
    {
        var nft = await Loaded();
        Assert.Equal(NftErrorKind.Busy, (await Fails(nft, b => b.Delete(new NftChain { Name = "service-a" }))).Kind); // map element
        Assert.Equal(NftErrorKind.Busy, (await Fails(nft, b => b.Delete(new NftChain { Name = "endpoint-a1" }))).Kind); // anonymous vmap in a rule
        Assert.Equal(NftErrorKind.Busy, (await Fails(nft, b => b.Delete(new NftChain { Name = "services" }))).Kind); // jump rule
        Assert.Equal(NftErrorKind.Busy, (await Fails(nft, b => b.Delete(new NftMap { Name = "service-ips" }))).Kind); // vmap @service-ips
    }

    [Fact]
    public async Task RunAsync_DeleteAfterUnreferencing_Succeeds()
    {
        var nft = await Loaded();
        await Runs(nft, b => b
            .Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"] })
            .Delete(new NftChain { Name = "service-a" })
            .Delete(new NftChain { Name = "endpoint-a1" })
            .Flush(new NftChain { Name = "services" })
            .Delete(new NftMap { Name = "service-ips" }));
        var table = nft.Snapshot.Table(T)!;
        Assert.Null(table.Chain("service-a"));
        Assert.Null(table.Map("service-ips"));
        Assert.Equal(["services"], table.ChainReferences.Keys);
        Assert.Empty(table.SetReferences);
    }

    [Fact]
    public async Task RunAsync_FlushMapThenDeleteChain_Succeeds()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Flush(new NftMap { Name = "service-ips" }).Flush(new NftChain { Name = "service-a" })
            .Delete(new NftChain { Name = "service-a" }).Delete(new NftChain { Name = "endpoint-a1" }));
        Assert.Empty(nft.Snapshot.Table(T)!.Map("service-ips")!.Elements);
    }

    [Fact]
    public async Task RunAsync_BadArityOrValues_Invalid()
    {
        var nft = await Loaded();
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.2", "tcp"], Value = ["goto service-a"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.2", "tcp", "80"], Value = ["goto service-a", "1"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Set = "cluster-ips", Key = ["10.0.0.300"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Set = "cluster-ips", Key = ["fd00::1"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Set = "cluster-ips", Key = ["10.0.0.0/8"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.2", "tcp", "70000"], Value = ["drop"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.2", "tcp", "80"], Value = ["goto"] }))).Kind);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Map = "cluster-ips", Key = ["10.96.0.2"], Value = ["drop"] }))).Kind);
    }

    [Fact]
    public async Task RunAsync_ElementWithOtherValue_ExistsUntilDeleted()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Add(new NftChain { Name = "service-b" }));
        var e = await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-b"] }));
        Assert.Equal(NftErrorKind.Exists, e.Kind);
        await Runs(nft, b => b.Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "6", "80"] })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-b"] }));
        Assert.Equal(0, nft.Snapshot.Table(T)!.References("service-a"));
        Assert.Equal(1, nft.Snapshot.Table(T)!.References("service-b"));
    }

    [Fact]
    public async Task RunAsync_ReferencesToMissingObjects_NotFound()
    {
        var nft = await Loaded();
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Add(new NftRule { Chain = "services", Text = "jump nochain" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Add(new NftRule { Chain = "services", Text = "ip daddr @noset drop" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Add(new NftRule { Chain = "nochain", Text = "drop" }))).Kind);
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.5", "tcp", "80"], Value = ["goto nochain"] }))).Kind);
    }

    [Fact]
    public async Task RunAsync_ChainRedefinition_KernelErrors()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Add(new NftChain { Name = "nat-prerouting" })); // regular over base: no-op
        Assert.Equal(NftErrorKind.Exists, (await Fails(nft, b => b.Add(new NftChain { Name = "services", Type = NftChainType.Nat, Hook = NftHook.Output, Priority = "-100" }))).Kind);
        Assert.Equal(NftErrorKind.Exists, (await Fails(nft, b => b.Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Filter, Hook = NftHook.Prerouting, Priority = "-100" }))).Kind);
        Assert.Equal(NftErrorKind.NotSupported, (await Fails(nft, b => b.Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = "10" }))).Kind);
        await Runs(nft, b => b.Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = "-100" }));
        Assert.Equal(NftErrorKind.Exists, (await Fails(nft, b => b.Add(new NftSet { Name = "cluster-ips", Type = "ipv6_addr" }))).Kind);
        Assert.Equal(NftErrorKind.Exists, (await Fails(nft, b => b.Add(new NftSet { Name = "service-ips", Type = "ipv4_addr" }))).Kind);
    }

    [Fact]
    public async Task RunAsync_RulePositions_FollowHandlesAndIndexes()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Add(new NftChain { Name = "p" }).Add(new NftRule { Chain = "p", Text = "counter" })
            .Add(new NftRule { Chain = "p", Text = "accept", Index = 0 })
            .Insert(new NftRule { Chain = "p", Text = "drop", Index = 0 })
            .Insert(new NftRule { Chain = "p", Text = "return" }));
        var rules = nft.Snapshot.Table(T)!.Chain("p")!.Rules;
        Assert.Equal(["return", "drop", "counter", "accept"], rules.Select(r => r.Text));
        var counter = rules[2].Handle;
        await Runs(nft, b => b.Replace(new NftRule { Chain = "p", Text = "counter jump services", Handle = counter })
            .Add(new NftRule { Chain = "p", Text = "ip saddr 10.0.0.1 drop", Handle = counter })
            .Delete(new NftRule { Chain = "p", Handle = rules[0].Handle }));
        rules = nft.Snapshot.Table(T)!.Chain("p")!.Rules;
        Assert.Equal(["drop", "counter jump services", "ip saddr 10.0.0.1 drop", "accept"], rules.Select(r => r.Text));
        Assert.Equal(counter, rules[1].Handle);
        Assert.Equal(2, nft.Snapshot.Table(T)!.References("services"));
        Assert.Equal(NftErrorKind.NotFound, (await Fails(nft, b => b.Add(new NftRule { Chain = "p", Text = "accept", Index = 10 }))).Kind);
    }

    [Fact]
    public async Task RunAsync_FlushTable_KeepsElements()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Flush(new NftTable()));
        var table = nft.Snapshot.Table(T)!;
        Assert.All(table.Chains.Values, c => Assert.Empty(c.Rules));
        Assert.Single(table.Map("service-ips")!.Elements);
        Assert.Equal(1, table.References("service-a"));
        await Runs(nft, b => b.Delete(new NftTable()));
        Assert.Empty(nft.Snapshot.Tables);
    }

    [Fact]
    public async Task RunAsync_IntervalSet_PrefixLookupAndConflicts()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Add(new NftElement { Set = "cidrs", Key = ["10.244.0.0/16"] }).Add(new NftElement { Set = "cidrs", Key = ["10.96.0.0/12"] }));
        var cidrs = nft.Snapshot.Table(T)!.Set("cidrs")!;
        Assert.True(cidrs.Contains("10.244.3.7"));
        Assert.True(cidrs.Contains("10.111.255.255"));
        Assert.False(cidrs.Contains("10.112.0.0"));
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftElement { Set = "cidrs", Key = ["10.244.1.0/24"] }))).Kind);
    }

    [Fact]
    public async Task RunAsync_Defines_ExpandedInSnapshot()
    {
        var nft = await Loaded();
        await Runs(nft, b => b.Define("IP", "ip").Add(new NftRule { Chain = "services", Text = "$IP daddr @cluster-ips reject" }));
        Assert.Equal("ip daddr @cluster-ips reject", nft.Snapshot.Table(T)!.Chain("services")!.Rules[^1].Text);
        Assert.Equal(NftErrorKind.Invalid, (await Fails(nft, b => b.Add(new NftRule { Chain = "services", Text = "$NOPE daddr 1.2.3.4 drop" }))).Kind);
    }

    [Fact]
    public async Task CheckAsync_DoesNotApply()
    {
        var nft = await Loaded();
        await nft.CheckAsync(new NftTransactionBuilder(T).Add(new NftChain { Name = "x" }).Build(), CancellationToken.None);
        Assert.Null(nft.Snapshot.Table(T)!.Chain("x"));
        await Assert.ThrowsAsync<NftablesException>(() => nft.CheckAsync(new NftTransactionBuilder(T).Delete(new NftChain { Name = "x" }).Build(), CancellationToken.None));
    }

    [Fact]
    public async Task FailNextRun_FailsOnceWithoutApplying()
    {
        var nft = await Loaded();
        nft.FailNextRun(new NftablesException(NftErrorKind.Other, "injected"));
        await Assert.ThrowsAsync<NftablesException>(() => Runs(nft, b => b.Add(new NftChain { Name = "x" })));
        await Runs(nft, b => b.Add(new NftChain { Name = "x" }));
        Assert.NotNull(nft.Snapshot.Table(T)!.Chain("x"));
    }

    [Fact]
    public async Task Lists_ReturnNamesRulesAndElements()
    {
        var nft = await Loaded();
        Assert.Equal(["endpoint-a1", "nat-prerouting", "service-a", "services"], await nft.ListAsync(T, NftObjectKind.Chain, CancellationToken.None));
        Assert.Equal(["cidrs", "cluster-ips"], await nft.ListAsync(T, NftObjectKind.Set, CancellationToken.None));
        Assert.Equal(["service-ips"], await nft.ListAsync(T, NftObjectKind.Map, CancellationToken.None));
        var rules = await nft.ListRulesAsync(T, "services", CancellationToken.None);
        Assert.NotNull(Assert.Single(rules).Handle);
        var element = Assert.Single(await nft.ListElementsAsync(T, NftObjectKind.Map, "service-ips", CancellationToken.None));
        Assert.Equal(["10.96.0.10", "tcp", "80"], element.Key);
        var e = await Assert.ThrowsAsync<NftablesException>(() => nft.ListAsync(new NftTableRef(NftFamily.Ip6, "sb"), NftObjectKind.Chain, CancellationToken.None));
        Assert.True(e.IsNotFound);
    }

    [Fact]
    public async Task Dump_ListsTableLikeNft()
    {
        var nft = await Loaded();
        var dump = nft.Dump();
        Assert.Contains("table ip sb {\n\tset cidrs {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n", dump, StringComparison.Ordinal);
        Assert.Contains("\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\telements = {\n\t\t\t10.96.0.10 . tcp . 80 : goto service-a\n\t\t}\n\t}\n", dump, StringComparison.Ordinal);
        Assert.Contains("\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n\t\tjump services\n\t}\n", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToTransaction_RecreatesSameState()
    {
        var nft = await Loaded();
        var copy = NftRuleset.Empty.Apply(nft.Snapshot.ToTransaction());
        Assert.Equal(nft.Dump(), copy.Dump());
    }
}
