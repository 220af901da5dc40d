using Switchboard.TestKit.Netns;
using Switchboard.Netfilter.Fake;

namespace Switchboard.Netfilter.Tests.Real;

/// <summary>
/// The fake must accept and reject what real nft accepts and rejects, with the same error kind: each case runs
/// a setup transaction and then a probe transaction against both, in its own table of one test namespace.
/// </summary>
public sealed class FakeMatchesKernelTests
{
    private sealed record Case(string Name, Action<NftTransactionBuilder> Probe, NftErrorKind? Expected);

    private static void Setup(NftTransactionBuilder b) => b
        .Add(new NftTable())
        .Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = NftPriority.DstNat })
        .Add(new NftChain { Name = "services" })
        .Add(new NftChain { Name = "service-a" })
        .Add(new NftChain { Name = "endpoint-a1" })
        .Add(new NftChain { Name = "service-b" })
        .Add(new NftChain { Name = "lonely" })
        .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict" })
        .Add(new NftMap { Name = "dnat-ports", TypeOf = "ip daddr . th dport : ip daddr . th dport" })
        .Add(new NftSet { Name = "cluster-ips", Type = "ipv4_addr" })
        .Add(new NftSet { Name = "cidrs", Type = "ipv4_addr", Flags = [NftSetFlags.Interval] })
        .Add(new NftSet { Name = "affinity", Type = "ipv4_addr", Flags = [NftSetFlags.Dynamic, NftSetFlags.Timeout], Timeout = TimeSpan.FromSeconds(10800) })
        .Add(new NftRule { Chain = "nat-prerouting", Text = "jump services" })
        .Add(new NftRule { Chain = "services", Text = "ip daddr . meta l4proto . th dport vmap @service-ips" })
        .Add(new NftRule { Chain = "service-a", Text = "numgen random mod 1 vmap { 0 : goto endpoint-a1 }" })
        .Add(new NftRule { Chain = "endpoint-a1", Text = "update @affinity { ip saddr } meta l4proto tcp dnat to 10.244.1.5:8080" })
        .Add(new NftRule { Chain = "lonely", Text = "counter accept" })
        .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-a"], Comment = "ns/a:http" })
        .Add(new NftElement { Map = "dnat-ports", Key = ["10.96.0.10", "80"], Value = ["10.244.1.5", "8080"] })
        .Add(new NftElement { Set = "cluster-ips", Key = ["10.96.0.10"] })
        .Add(new NftElement { Set = "cidrs", Key = ["10.244.0.0/16"] });

    private static readonly Case[] Cases =
    [
        new("add everything again", Setup, null),
        new("create existing chain", b => b.Create(new NftChain { Name = "services" }), NftErrorKind.Exists),
        new("create existing table", b => b.Create(new NftTable()), NftErrorKind.Exists),
        new("create existing map", b => b.Create(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict" }), NftErrorKind.Exists),
        new("create existing element", b => b.Create(new NftElement { Set = "cluster-ips", Key = ["10.96.0.10"] }), NftErrorKind.Exists),
        new("delete missing chain", b => b.Delete(new NftChain { Name = "absent" }), NftErrorKind.NotFound),
        new("delete missing set", b => b.Delete(new NftSet { Name = "absent" }), NftErrorKind.NotFound),
        new("flush map as set", b => b.Flush(new NftSet { Name = "service-ips" }), NftErrorKind.NotFound),
        new("delete missing element", b => b.Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.99", "tcp", "80"] }), NftErrorKind.NotFound),
        new("delete missing rule handle", b => b.Delete(new NftRule { Chain = "services", Handle = 9999 }), NftErrorKind.NotFound),
        new("add rule past last index", b => b.Add(new NftRule { Chain = "services", Text = "accept", Index = 5 }), NftErrorKind.NotFound),
        new("delete chain referenced by map element", b => b.Delete(new NftChain { Name = "service-a" }), NftErrorKind.Busy),
        new("delete chain referenced by anonymous vmap", b => b.Delete(new NftChain { Name = "endpoint-a1" }), NftErrorKind.Busy),
        new("delete chain referenced by jump", b => b.Delete(new NftChain { Name = "services" }), NftErrorKind.Busy),
        new("delete map referenced by rule", b => b.Delete(new NftMap { Name = "service-ips" }), NftErrorKind.Busy),
        new("delete set referenced by dynamic update", b => b.Delete(new NftSet { Name = "affinity" }), NftErrorKind.Busy),
        new("delete unreferenced chain with rules", b => b.Delete(new NftChain { Name = "lonely" }), null),
        new("delete unreferenced set", b => b.Delete(new NftSet { Name = "cluster-ips" }), null),
        new("unreference then delete in one transaction", b => b
            .Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"] })
            .Flush(new NftChain { Name = "service-a" })
            .Delete(new NftChain { Name = "service-a" })
            .Delete(new NftChain { Name = "endpoint-a1" })
            .Delete(new NftSet { Name = "affinity" }), null),
        new("element key arity too short", b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.2", "tcp"], Value = ["goto service-a"] }), NftErrorKind.Invalid),
        new("element key arity too long", b => b.Add(new NftElement { Set = "cluster-ips", Key = ["10.96.0.2", "80"] }), NftErrorKind.Invalid),
        new("element value arity", b => b.Add(new NftElement { Map = "dnat-ports", Key = ["10.96.0.2", "80"], Value = ["10.244.1.5"] }), NftErrorKind.Invalid),
        new("bad address", b => b.Add(new NftElement { Set = "cluster-ips", Key = ["10.0.0.300"] }), NftErrorKind.Invalid),
        new("prefix without interval flag", b => b.Add(new NftElement { Set = "cluster-ips", Key = ["10.0.0.0/8"] }), NftErrorKind.Invalid),
        new("overlapping interval", b => b.Add(new NftElement { Set = "cidrs", Key = ["10.244.1.0/24"] }), NftErrorKind.Invalid),
        new("set element into map", b => b.Add(new NftElement { Set = "service-ips", Key = ["10.96.0.2", "tcp", "80"] }), NftErrorKind.Invalid),
        new("same element same value", b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "6", "80"], Value = ["goto service-a"] }), null),
        new("same element other value", b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-b"] }), NftErrorKind.Exists),
        new("delete then add other value", b => b
            .Delete(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"] })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.10", "tcp", "80"], Value = ["goto service-b"] }), null),
        new("element goto missing chain", b => b.Add(new NftElement { Map = "service-ips", Key = ["10.96.0.5", "udp", "53"], Value = ["goto absent"] }), NftErrorKind.NotFound),
        new("rule jump missing chain", b => b.Add(new NftRule { Chain = "services", Text = "jump absent" }), NftErrorKind.NotFound),
        new("rule missing set", b => b.Add(new NftRule { Chain = "services", Text = "ip daddr @absent drop" }), NftErrorKind.NotFound),
        new("rule in missing chain", b => b.Add(new NftRule { Chain = "absent", Text = "drop" }), NftErrorKind.NotFound),
        new("set redefined with other type", b => b.Add(new NftSet { Name = "cluster-ips", Type = "ipv6_addr" }), NftErrorKind.Exists),
        new("set name used by a map", b => b.Add(new NftSet { Name = "service-ips", Type = "ipv4_addr" }), NftErrorKind.Exists),
        new("set timeout changed", b => b.Add(new NftSet { Name = "affinity", Type = "ipv4_addr", Flags = [NftSetFlags.Dynamic, NftSetFlags.Timeout], Timeout = TimeSpan.FromSeconds(60) }), null),
        new("base chain over regular chain", b => b.Add(new NftChain { Name = "services", Type = NftChainType.Nat, Hook = NftHook.Output, Priority = "-100" }), NftErrorKind.Exists),
        new("base chain other type", b => b.Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Filter, Hook = NftHook.Prerouting, Priority = "-100" }), NftErrorKind.Exists),
        new("base chain other priority", b => b.Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = "10" }), NftErrorKind.NotSupported),
        new("regular chain over base chain", b => b.Add(new NftChain { Name = "nat-prerouting" }), null),
        new("flush table then delete referenced chain", b => b.Flush(new NftTable()).Delete(new NftChain { Name = "endpoint-a1" }), null),
        new("flush table keeps map references", b => b.Flush(new NftTable()).Delete(new NftChain { Name = "service-a" }), NftErrorKind.Busy),
        new("delete table", b => b.Delete(new NftTable()), null),
        new("later failure undoes earlier ops", b => b.Add(new NftChain { Name = "fresh" }).Delete(new NftChain { Name = "absent" }), NftErrorKind.NotFound),
    ];

    [Fact]
    public async Task Probe_EveryCase_FakeAgreesWithRealNft()
    {
        var prefix = TestNetns.NewPrefix();
        await using var ns = await TestNetns.CreateAsync(prefix);
        var real = new NftablesRunner(ns.Name);
        var failures = new List<string>();
        for (var i = 0; i < Cases.Length; i++)
        {
            var c = Cases[i];
            var table = new NftTableRef(NftFamily.Ip, $"t{i}");
            var setup = new NftTransactionBuilder(table);
            Setup(setup);
            var fake = new FakeNftables();
            await fake.RunAsync(setup.Build(), CancellationToken.None);
            await real.RunAsync(setup.Build(), CancellationToken.None);

            var probe = new NftTransactionBuilder(table);
            c.Probe(probe);
            var realKind = await Outcome(() => real.RunAsync(probe.Build(), CancellationToken.None));
            var fakeKind = await Outcome(() => fake.RunAsync(probe.Build(), CancellationToken.None));
            if (realKind != c.Expected || fakeKind != c.Expected)
            {
                failures.Add($"{c.Name}: expected {Show(c.Expected)}, real nft {Show(realKind)}, fake {Show(fakeKind)}");
            }
            else if (realKind is null && fake.Snapshot.Table(table) is { } t)
            {
                // After a successful probe both hold the same chains and sets.
                foreach (var kind in (NftObjectKind[])[NftObjectKind.Chain, NftObjectKind.Set, NftObjectKind.Map])
                {
                    var r = string.Join(",", await real.ListAsync(table, kind, CancellationToken.None));
                    var f = string.Join(",", await fake.ListAsync(table, kind, CancellationToken.None));
                    if (r != f)
                    {
                        failures.Add($"{c.Name}: {kind}s differ: real [{r}] fake [{f}]\n{fake.Dump()}");
                    }
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task<NftErrorKind?> Outcome(Func<Task> run)
    {
        try
        {
            await run();
            return null;
        }
        catch (NftablesException e)
        {
            return e.Kind;
        }
    }

    private static string Show(NftErrorKind? kind) => kind?.ToString() ?? "success";
}
