using Switchboard.TestKit.Netns;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Netfilter.Conntrack;

namespace Switchboard.Netfilter.Tests.Conntrack;

public sealed class ConntrackTests
{
    private static ConntrackFlow Flow(string origDst, int dport, string replySrc, int sport) => new()
    {
        Protocol = "udp",
        OrigSrc = IPAddress.Parse("10.250.0.1"),
        OrigDst = IPAddress.Parse(origDst),
        OrigSrcPort = 40000,
        OrigDstPort = dport,
        ReplySrc = IPAddress.Parse(replySrc),
        ReplyDst = IPAddress.Parse("10.250.0.1"),
        ReplySrcPort = sport,
        ReplyDstPort = 40000,
    };

    [Fact]
    public void TryParse_ConntrackListLine_AllTuples()
    {
        var flow = ConntrackTool.TryParse("udp      17 29 src=10.250.0.1 dst=10.96.0.10 sport=40000 dport=53 src=10.250.0.2 dst=10.250.0.1 sport=5353 dport=40000 [ASSURED] mark=0 use=1");
        Assert.NotNull(flow);
        Assert.Equal(Flow("10.96.0.10", 53, "10.250.0.2", 5353), flow);
        Assert.True(flow.IsDstNat);
        Assert.Null(ConntrackTool.TryParse("conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown."));
    }

    [Fact]
    public async Task Fake_Cleanups_DeleteOnlyMatchingFlows()
    {
        var ct = new FakeConntrack();
        ct.Add(Flow("10.96.0.10", 53, "10.244.1.5", 53));
        ct.Add(Flow("10.96.0.10", 80, "10.244.1.6", 8080));
        ct.Add(Flow("10.96.0.11", 53, "10.244.1.5", 53));
        ct.Add(Flow("10.250.0.9", 30053, "10.244.1.5", 53));

        Assert.Equal(0, await ct.ClearEntriesForNatAsync(IPAddress.Parse("10.96.0.10"), IPAddress.Parse("10.244.9.9"), "udp", CancellationToken.None));
        Assert.Equal(0, await ct.ClearEntriesForIPAsync(IPAddress.Parse("10.96.0.10"), "tcp", CancellationToken.None));
        Assert.Equal(1, await ct.ClearEntriesForIPPortAsync(IPAddress.Parse("10.96.0.10"), 80, "udp", CancellationToken.None));
        Assert.Equal(1, await ct.ClearEntriesForPortNatAsync(IPAddress.Parse("10.244.1.5"), 30053, "udp", CancellationToken.None));
        Assert.Equal(2, await ct.ClearEntriesFromEndpointAsync(IPAddress.Parse("10.244.1.5"), "udp", CancellationToken.None));
        Assert.Empty(ct.Flows);
        Assert.Equal(5, ct.Deletes.Count);
    }

    [Fact]
    public async Task Tool_BadInput_ClearErrors()
    {
        var tool = new ConntrackTool();
        await Assert.ThrowsAsync<ArgumentException>(() => tool.DeleteAsync(new ConntrackFilter { Protocol = "icmp" }, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => tool.DeleteAsync(new ConntrackFilter { OrigDstPort = 70000 }, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => tool.DeleteAsync(new ConntrackFilter { OrigDst = IPAddress.IPv6Loopback }, CancellationToken.None));
    }

    [Fact]
    public async Task Tool_DnatedUdpFlowInTestNamespace_EachCleanupDeletesIt()
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
        var nft = new NftablesRunner(client.Name);
        await nft.RunAsync(new NftTransactionBuilder(NftFamily.Ip, prefix)
            .Add(new NftTable())
            .Add(new NftChain { Name = "nat-output", Type = NftChainType.Nat, Hook = NftHook.Output, Priority = NftPriority.DstNat })
            .Add(new NftRule { Chain = "nat-output", Text = "ip daddr 10.96.0.10 udp dport 53 dnat to 10.250.0.2:5353" })
            .Build(), CancellationToken.None);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var echo = server.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        echo.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 5353));
        var serve = Task.Run(async () =>
        {
            var buffer = new byte[64];
            while (!cts.IsCancellationRequested)
            {
                var r = await echo.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                await echo.SendToAsync(Encoding.ASCII.GetBytes($"server {prefix} at {echo.LocalEndPoint}"), r.RemoteEndPoint, cts.Token);
            }
        });
        using var udp = client.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Parse("10.250.0.1"), 0));
        var vip = new IPEndPoint(IPAddress.Parse("10.96.0.10"), 53);
        async Task Query()
        {
            await udp.SendToAsync("q"u8.ToArray(), vip, cts.Token);
            var buffer = new byte[128];
            var r = await udp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
            Assert.Equal($"server {prefix} at 10.250.0.2:5353", Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes));
            Assert.Equal(vip, r.RemoteEndPoint); // reverse NAT: the answer seems to come from the service IP
        }

        var conntrack = new ConntrackTool(client.Name);
        async Task<bool> HasFlow() => (await conntrack.ListAsync(AddressFamily.InterNetwork, "udp", cts.Token))
            .Any(f => f.OrigDst.Equals(vip.Address) && f.OrigDstPort == 53 && f.ReplySrc.Equals(IPAddress.Parse("10.250.0.2")) && f.ReplySrcPort == 5353);

        await Query();
        Assert.True(await HasFlow());
        Assert.Equal(0, await conntrack.ClearEntriesForNatAsync(vip.Address, IPAddress.Parse("10.250.0.99"), "udp", cts.Token));
        Assert.Equal(0, await conntrack.ClearEntriesForIPAsync(vip.Address, "tcp", cts.Token));
        Assert.True(await HasFlow());
        Assert.Equal(1, await conntrack.ClearEntriesForNatAsync(vip.Address, IPAddress.Parse("10.250.0.2"), "udp", cts.Token));
        Assert.False(await HasFlow());

        await Query();
        Assert.Equal(1, await conntrack.ClearEntriesForIPPortAsync(vip.Address, 53, "udp", cts.Token));
        Assert.False(await HasFlow());

        await Query();
        Assert.Equal(1, await conntrack.ClearEntriesForPortNatAsync(IPAddress.Parse("10.250.0.2"), 53, "udp", cts.Token));
        Assert.False(await HasFlow());

        await Query();
        Assert.Equal(1, await conntrack.ClearEntriesFromEndpointAsync(IPAddress.Parse("10.250.0.2"), "udp", cts.Token));
        Assert.False(await HasFlow());

        await Query();
        Assert.Equal(1, await conntrack.ClearEntriesForIPAsync(vip.Address, "udp", cts.Token));
        Assert.False(await HasFlow());
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serve);
    }
}
