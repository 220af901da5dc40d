using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Node.Linux;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Linux;

/// <summary>
/// Real kernel: a listener bound inside a test namespace on an address that exists only there; a socket from the
/// factory reaches it and the listener sees the factory socket's address, i.e. the connection was made in that
/// namespace. The same address is not reachable from a socket made normally.
/// </summary>
public sealed class NetnsSocketFactoryTests : IAsyncLifetime
{
    private readonly string _ns = "sbt" + Guid.NewGuid().ToString("N")[..6];
    private readonly ProcessCommandRunner _runner = new();

    public async Task InitializeAsync()
    {
        Assert.True((await _runner.RunAsync("ip", ["netns", "add", _ns], default)).Ok);
        Assert.True((await _runner.RunAsync("ip", ["-n", _ns, "link", "set", "lo", "up"], default)).Ok);
        Assert.True((await _runner.RunAsync("ip", ["-n", _ns, "addr", "add", "10.251.0.1/32", "dev", "lo"], default)).Ok);
    }

    public async Task DisposeAsync() => await _runner.RunAsync("ip", ["netns", "del", _ns], default);

    [Fact]
    public async Task ConnectAsync_AddressOnlyInNamespace_ReachesTheListenerThere()
    {
        var handles = NetnsListener.Bind(_ns, [new IPEndPoint(IPAddress.Parse("10.251.0.1"), 0)]);
        using var listener = new Socket(new SafeSocketHandle(checked((IntPtr)(long)handles[0]), ownsHandle: true));
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var factory = new NetnsSocketFactory(_ns);
        Assert.Equal(_ns, factory.Namespace);

        var accept = listener.AcceptAsync();
        using var client = await factory.ConnectAsync(new IPEndPoint(IPAddress.Parse("10.251.0.1"), port), new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        using var server = await accept.WaitAsync(TimeSpan.FromSeconds(30));
        await client.SendAsync(Encoding.ASCII.GetBytes("hi"));
        var buffer = new byte[2];
        Assert.Equal(2, await server.ReceiveAsync(buffer));
        Assert.Equal("hi", Encoding.ASCII.GetString(buffer));
        // Inside the namespace the only address is 10.251.0.1: the client's source proves where it was made.
        Assert.Equal(IPAddress.Parse("10.251.0.1"), ((IPEndPoint)server.RemoteEndPoint!).Address);
    }

    [Fact]
    public void Constructor_MissingNamespace_ThrowsIOExceptionNamingIt()
    {
        var e = Assert.Throws<IOException>(() => new NetnsSocketFactory(_ns + "-missing"));
        Assert.Contains(_ns + "-missing", e.Message);
    }
}
