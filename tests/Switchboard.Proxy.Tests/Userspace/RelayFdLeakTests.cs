using System.Net.Sockets;
using System.Text;

namespace Switchboard.Proxy.Tests.Userspace;

/// <summary>Counting /proc/self/fd is only meaningful when no other test of this process opens files meanwhile.</summary>
[CollectionDefinition(nameof(FdCountCollection), DisableParallelization = true)]
public sealed class FdCountCollection;

/// <summary>
/// Every socket, pipe, epoll and eventfd the relay makes is gone once the forwarder and its relay are disposed:
/// after clean finishes, resets from either side and connections cut mid-stream by the shutdown.
/// </summary>
[Collection(nameof(FdCountCollection))]
public sealed class RelayFdLeakTests
{
    [Theory]
    [MemberData(nameof(TcpRelayTests.Modes), MemberType = typeof(TcpRelayTests))]
    public async Task Forwarder_CleanResetAndCutConnections_LeaveNoFileDescriptors(string mode)
    {
        // Warm up the runtime's own lazily made descriptors (socket engine epoll, etc.) before counting.
        await using (var warm = await RelayRig.StartAsync(mode, "warm"))
        {
            await warm.ExchangeAsync(1000, 1000);
        }
        var before = CountFds();

        var rig = await RelayRig.StartAsync(mode, "fd-backend");
        var clean = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => rig.ExchangeAsync(50_000, 80_000)));
        Assert.All(clean, r => Assert.Equal("fd-backend", r.BackendName));
        for (var i = 0; i < 10; i++)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(rig.Endpoint, cts.Token);
            await client.SendAsync("RESET"u8.ToArray(), cts.Token);
            var reply = new byte[64];
            var n = await client.ReceiveAsync(reply, cts.Token);
            Assert.Equal("fd-backend resetting", Encoding.ASCII.GetString(reply, 0, n));
            await client.SendAsync("GO"u8.ToArray(), cts.Token);
            await Assert.ThrowsAnyAsync<SocketException>(async () =>
            {
                while (await client.ReceiveAsync(reply, cts.Token) > 0)
                {
                }
            });
        }
        // Connections still open when the forwarder goes away are cut, and their descriptors closed too.
        var open = new List<Socket>();
        for (var i = 0; i < 10; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(rig.Endpoint);
            await s.SendAsync("WATCH"u8.ToArray());
            var buffer = new byte[64];
            var n = await s.ReceiveAsync(buffer);
            Assert.Equal("fd-backend watching", Encoding.ASCII.GetString(buffer, 0, n));
            open.Add(s);
        }
        await rig.DisposeAsync();
        foreach (var s in open)
        {
            s.Dispose();
        }

        // Closing is asynchronous in places (socket finalisation on the thread pool): wait, bounded.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var after = CountFds();
        while (after > before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            after = CountFds();
        }
        Assert.True(after <= before, $"{after - before} descriptors leaked: {string.Join(", ", Describe())}");
    }

    private static int CountFds() => Directory.GetFiles("/proc/self/fd").Length;

    private static IEnumerable<string> Describe() => Directory.GetFiles("/proc/self/fd").Select(f =>
    {
        try
        {
            return new FileInfo(f).LinkTarget ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }).GroupBy(t => t.Split(':')[0]).Select(g => g.Key + "×" + g.Count());
}
