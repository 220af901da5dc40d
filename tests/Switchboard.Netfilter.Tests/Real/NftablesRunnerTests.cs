using Switchboard.TestKit.Netns;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Netfilter.Fake;

namespace Switchboard.Netfilter.Tests.Real;

/// <summary>Real nft in test network namespaces (we run as root; CI too).</summary>
public sealed class NftablesRunnerTests
{
    private static NftTransaction ServiceRuleset(NftTableRef table, string vip, int port, string endpoint, int targetPort) =>
        new NftTransactionBuilder(table)
            .Add(new NftTable { Comment = "switchboard test" })
            .Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = NftPriority.DstNat })
            .Add(new NftChain { Name = "nat-output", Type = NftChainType.Nat, Hook = NftHook.Output, Priority = NftPriority.DstNat })
            .Add(new NftChain { Name = "filter-output", Type = NftChainType.Filter, Hook = NftHook.Output, Priority = "dstnat-10" })
            .Add(new NftChain { Name = "services" })
            .Add(new NftChain { Name = "service-TEST-ns/svc/tcp/http", Comment = "ns/svc:http" })
            .Add(new NftChain { Name = "endpoint-TEST-ns/svc/tcp/http__" + endpoint + "/" + targetPort })
            .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict", Comment = "ClusterIP traffic" })
            .Add(new NftSet { Name = "cluster-ips", Type = "ipv4_addr" })
            .Add(new NftRule { Chain = "nat-prerouting", Text = "jump services" })
            .Add(new NftRule { Chain = "nat-output", Text = "jump services" })
            .Add(new NftRule { Chain = "filter-output", Text = "ip daddr @cluster-ips counter", Comment = "seen a cluster IP" })
            .Add(new NftRule { Chain = "services", Text = "ip daddr . meta l4proto . th dport vmap @service-ips" })
            .Add(new NftRule { Chain = "service-TEST-ns/svc/tcp/http", Text = "numgen random mod 1 vmap { 0 : goto endpoint-TEST-ns/svc/tcp/http__" + endpoint + "/" + targetPort + " }" })
            .Add(new NftRule { Chain = "endpoint-TEST-ns/svc/tcp/http__" + endpoint + "/" + targetPort, Text = $"meta l4proto tcp dnat to {endpoint}:{targetPort}" })
            .Add(new NftElement { Map = "service-ips", Key = [vip, "tcp", port.ToString()], Value = ["goto service-TEST-ns/svc/tcp/http"], Comment = "ns/svc:http cluster IP" })
            .Add(new NftElement { Set = "cluster-ips", Key = [vip] })
            .Build();

    [Fact]
    public async Task RunAsync_ServiceVerdictMap_DnatsTcpToListenerInOtherNamespace()
    {
        var prefix = TestNetns.NewPrefix();
        await using var client = await TestNetns.CreateAsync(prefix + "c");
        await using var server = await TestNetns.CreateAsync(prefix + "s");
        await TestNetns.ShAsync("ip", "link", "add", prefix + "-a", "netns", client.Name, "type", "veth", "peer", "name", prefix + "-b", "netns", server.Name);
        await client.ExecAsync("ip", "addr", "add", "10.250.0.1/24", "dev", prefix + "-a");
        await client.ExecAsync("ip", "link", "set", prefix + "-a", "up");
        await client.ExecAsync("ip", "route", "add", "10.96.0.0/12", "dev", prefix + "-a");
        await server.ExecAsync("ip", "addr", "add", "10.250.0.2/24", "dev", prefix + "-b");
        await server.ExecAsync("ip", "link", "set", prefix + "-b", "up");

        var table = new NftTableRef(NftFamily.Ip, prefix);
        var tx = ServiceRuleset(table, "10.96.77.7", 80, "10.250.0.2", 8080);
        var fake = new FakeNftables();
        await fake.RunAsync(tx, CancellationToken.None);
        var nft = new NftablesRunner(client.Name);
        await nft.RunAsync(tx, CancellationToken.None);

        using var listener = server.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 8080));
        listener.Listen();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var serve = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(cts.Token);
            var buffer = new byte[64];
            var n = await accepted.ReceiveAsync(buffer, cts.Token);
            var reply = $"server {prefix} at {accepted.LocalEndPoint} saw {accepted.RemoteEndPoint}: {Encoding.ASCII.GetString(buffer, 0, n)}";
            await accepted.SendAsync(Encoding.ASCII.GetBytes(reply), cts.Token);
            accepted.Shutdown(SocketShutdown.Send);
            return accepted.RemoteEndPoint!.ToString();
        });

        using var socket = client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse("10.96.77.7"), 80), cts.Token);
        await socket.SendAsync("hello"u8.ToArray(), cts.Token);
        var received = new MemoryStream();
        var chunk = new byte[256];
        int read;
        while ((read = await socket.ReceiveAsync(chunk, cts.Token)) > 0)
        {
            received.Write(chunk, 0, read);
        }
        var answer = Encoding.ASCII.GetString(received.ToArray());
        var peer = await serve;

        Assert.StartsWith($"server {prefix} at 10.250.0.2:8080 saw 10.250.0.1:", answer, StringComparison.Ordinal);
        Assert.EndsWith(": hello", answer, StringComparison.Ordinal);
        Assert.StartsWith("10.250.0.1:", peer, StringComparison.Ordinal);
        // The client believes it talks to the virtual IP: conntrack reversed the DNAT.
        Assert.Equal("10.96.77.7:80", socket.RemoteEndPoint!.ToString());
        // The fake dispatches the same packet the same way.
        Assert.Equal("goto service-TEST-ns/svc/tcp/http", fake.Snapshot.Table(table)!.Map("service-ips")!.Lookup("10.96.77.7", "tcp", "80")!.Value[0]);
    }

    [Fact]
    public async Task Lists_RealAndFake_Agree()
    {
        var prefix = TestNetns.NewPrefix();
        await using var ns = await TestNetns.CreateAsync(prefix);
        var table = new NftTableRef(NftFamily.Ip, prefix);
        var tx = ServiceRuleset(table, "10.96.77.7", 80, "10.250.0.2", 8080);
        var fake = new FakeNftables();
        await fake.RunAsync(tx, CancellationToken.None);
        var nft = new NftablesRunner(ns.Name);
        await nft.RunAsync(tx, CancellationToken.None);

        foreach (var kind in (NftObjectKind[])[NftObjectKind.Chain, NftObjectKind.Set, NftObjectKind.Map])
        {
            Assert.Equal(await fake.ListAsync(table, kind, CancellationToken.None), await nft.ListAsync(table, kind, CancellationToken.None));
        }
        var realElements = await nft.ListElementsAsync(table, NftObjectKind.Map, "service-ips", CancellationToken.None);
        Assert.Equal(await fake.ListElementsAsync(table, NftObjectKind.Map, "service-ips", CancellationToken.None), realElements);
        Assert.Equal(["10.96.77.7"], Assert.Single(await nft.ListElementsAsync(table, NftObjectKind.Set, "cluster-ips", CancellationToken.None)).Key);

        var realRules = await nft.ListRulesAsync(table, "filter-output", CancellationToken.None);
        var rule = Assert.Single(realRules);
        Assert.Equal("seen a cluster IP", rule.Comment);
        Assert.StartsWith("ip daddr @cluster-ips counter", rule.Text, StringComparison.Ordinal);
        // Handles are allocated the same way: one counter per table in script order.
        Assert.Equal((await fake.ListRulesAsync(table, "filter-output", CancellationToken.None))[0].Handle, rule.Handle);

        var missing = await Assert.ThrowsAsync<NftablesException>(() => nft.ListAsync(new NftTableRef(NftFamily.Ip6, prefix), NftObjectKind.Chain, CancellationToken.None));
        Assert.True(missing.IsNotFound);
    }

    [Fact]
    public async Task RunAsync_ScriptMuchLargerThanPipeBuffer_StreamedAndAllApplied()
    {
        var prefix = TestNetns.NewPrefix();
        await using var ns = await TestNetns.CreateAsync(prefix);
        var nft = new NftablesRunner(ns.Name);
        var table = new NftTableRef(NftFamily.Ip, prefix);
        var b = new NftTransactionBuilder(table).Add(new NftTable()).Add(new NftSet { Name = "big", Type = "ipv4_addr" });
        for (var i = 0; i < 20_000; i++)
        {
            // ~50 bytes a line: about 1 MB of script, many stdin chunks and pipe buffers.
            b.Add(new NftElement { Set = "big", Key = [$"10.{i / 65536}.{(i / 256) % 256}.{i % 256}"] });
        }

        await nft.RunAsync(b.Build(), CancellationToken.None);

        var elements = await nft.ListElementsAsync(table, NftObjectKind.Set, "big", CancellationToken.None);
        Assert.Equal(20_000, elements.Count);
        Assert.Contains(elements, e => e.Key[0] == "10.0.78.31");
    }

    [Fact]
    public async Task RunAsync_Failure_ReportsStderrAndAppliesNothing()
    {
        var prefix = TestNetns.NewPrefix();
        await using var ns = await TestNetns.CreateAsync(prefix);
        var nft = new NftablesRunner(ns.Name);
        var table = new NftTableRef(NftFamily.Ip, prefix);
        var tx = new NftTransactionBuilder(table).Add(new NftTable()).Add(new NftChain { Name = "a" }).Delete(new NftChain { Name = "absent" }).Build();

        var e = await Assert.ThrowsAsync<NftablesException>(() => nft.RunAsync(tx, CancellationToken.None));

        Assert.Equal(NftErrorKind.NotFound, e.Kind);
        Assert.Contains("delete chain ip " + prefix + " absent", e.Stderr, StringComparison.Ordinal);
        Assert.Contains(ns.Name, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(prefix, await nft.RawAsync(["list", "tables"], CancellationToken.None), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_ValidTransaction_AppliesNothing()
    {
        var prefix = TestNetns.NewPrefix();
        await using var ns = await TestNetns.CreateAsync(prefix);
        var nft = new NftablesRunner(ns.Name);
        await nft.CheckAsync(new NftTransactionBuilder(NftFamily.Inet, prefix).Add(new NftTable()).Build(), CancellationToken.None);
        Assert.DoesNotContain(prefix, await nft.RawAsync(["list", "tables"], CancellationToken.None), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingNamespace_ClearError()
    {
        var nft = new NftablesRunner(TestNetns.NewPrefix() + "-none");
        var tx = new NftTransactionBuilder(NftFamily.Ip, "x").Add(new NftTable()).Build();
        var e = await Assert.ThrowsAsync<NftablesException>(() => nft.RunAsync(tx, CancellationToken.None));
        Assert.Contains("-none", e.Message, StringComparison.Ordinal);
    }
}
