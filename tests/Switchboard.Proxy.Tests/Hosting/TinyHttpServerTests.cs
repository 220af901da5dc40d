using Switchboard.TestKit.Netns;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Proxy.Hosting.Http;
using Switchboard.Proxy.Tests.Real;

namespace Switchboard.Proxy.Tests.Hosting;

public sealed class TinyHttpServerTests
{
    [Theory]
    [InlineData("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/healthz")]
    [InlineData("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", "HEAD", "/metrics")]
    public void ParseRequestLine_WellFormed_MethodAndPathWithoutQuery(string raw, string method, string path)
    {
        var r = TinyHttpServer.ParseRequestLine(Encoding.ASCII.GetBytes(raw));
        Assert.Equal(new HttpRequestHead(method, path), r);
    }

    [Theory]
    [InlineData("GET /healthz\r\n\r\n")]
    [InlineData("GET healthz HTTP/1.1\r\n\r\n")]
    [InlineData("/healthz HTTP/1.1\r\n\r\n")]
    [InlineData("GET /x SPDY/3\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    public void ParseRequestLine_Malformed_Null(string raw) =>
        Assert.Null(TinyHttpServer.ParseRequestLine(Encoding.ASCII.GetBytes(raw)));

    [Fact]
    public async Task Start_RealRequests_GetHeadAndErrors()
    {
        await using var server = TinyHttpServer.Start(new IPEndPoint(IPAddress.Loopback, 0), r => HttpResponse.Text(200, "path=" + r.Path));
        var get = await RawAsync(server.LocalEndPoint, "GET /who?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", get, StringComparison.Ordinal);
        Assert.Contains("Content-Length: 9\r\n", get, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\npath=/who", get, StringComparison.Ordinal);

        var head = await RawAsync(server.LocalEndPoint, "HEAD /who HTTP/1.1\r\n\r\n");
        Assert.Contains("Content-Length: 9\r\n", head, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", head, StringComparison.Ordinal);

        var post = await RawAsync(server.LocalEndPoint, "POST /who HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", post, StringComparison.Ordinal);
        Assert.Contains("Allow: GET, HEAD\r\n", post, StringComparison.Ordinal);

        var garbage = await RawAsync(server.LocalEndPoint, "hello there\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", garbage, StringComparison.Ordinal);

        var huge = await RawAsync(server.LocalEndPoint, "GET / HTTP/1.1\r\nX: " + new string('a', 9000) + "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431 ", huge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_HandlerThrows_500AndServerKeepsServing()
    {
        var calls = 0;
        await using var server = TinyHttpServer.Start(new IPEndPoint(IPAddress.Loopback, 0), _ =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("boom") : HttpResponse.Text(200, "ok"));
        Assert.StartsWith("HTTP/1.1 500 ", await RawAsync(server.LocalEndPoint, "GET / HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", await RawAsync(server.LocalEndPoint, "GET / HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PortInUse_ThrowsSocketException()
    {
        await using var first = TinyHttpServer.Start(new IPEndPoint(IPAddress.Loopback, 0), _ => HttpResponse.Text(200, ""));
        Assert.Throws<SocketException>(() => TinyHttpServer.Start(first.LocalEndPoint, _ => HttpResponse.Text(200, "")));
    }

    [Fact]
    public async Task Close_AfterServing_PortCanBeBoundAgainAtOnce()
    {
        var server = TinyHttpServer.Start(new IPEndPoint(IPAddress.Loopback, 0), _ => HttpResponse.Text(200, "a"));
        var ep = server.LocalEndPoint;

        // A served request leaves a TIME_WAIT connection on the port (the server closes first).
        Assert.EndsWith("\r\n\r\na", await RawAsync(ep, "GET / HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        server.Close();
        await using var again = TinyHttpServer.Start(ep, _ => HttpResponse.Text(200, "b"));
        Assert.EndsWith("\r\n\r\nb", await RawAsync(ep, "GET / HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Start_Ipv4Wildcard_AnswersOnBothFamiliesLikeGo()
    {
        // In a namespace this test makes: wildcard binds never touch the host's addresses.
        await using var ns = await TestNetns.CreateAsync(TestNetns.NewPrefix() + "-h");
        await using var server = TinyHttpServer.Start(new IPEndPoint(IPAddress.Any, 8080), r => HttpResponse.Text(200, "hi " + r.Path), null, f => ns.CreateSocket(f, SocketType.Stream, ProtocolType.Tcp));
        Assert.True(server.LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6, "dual-mode [::] expected, got " + server.LocalEndPoint);
        var v4 = await RawAsync(new IPEndPoint(IPAddress.Loopback, 8080), "GET /v4 HTTP/1.1\r\n\r\n", ns.CreateSocket);
        var v6 = await RawAsync(new IPEndPoint(IPAddress.IPv6Loopback, 8080), "GET /v6 HTTP/1.1\r\n\r\n", ns.CreateSocket);
        Assert.EndsWith("hi /v4", v4, StringComparison.Ordinal);
        Assert.EndsWith("hi /v6", v6, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Ipv4WildcardWithIpv6Disabled_StillAnswersIpv4()
    {
        await using var ns = await TestNetns.CreateAsync(TestNetns.NewPrefix() + "-h");
        await ns.ExecAsync("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1");
        await using var server = TinyHttpServer.Start(new IPEndPoint(IPAddress.Any, 8080), _ => HttpResponse.Text(200, "v4 only"), null, f => ns.CreateSocket(f, SocketType.Stream, ProtocolType.Tcp));
        // A [::] wildcard binds without IPv6 addresses; a kernel without IPv6 at all falls back to a 0.0.0.0 socket.
        Assert.EndsWith("v4 only", await RawAsync(new IPEndPoint(IPAddress.Loopback, 8080), "GET / HTTP/1.1\r\n\r\n", ns.CreateSocket), StringComparison.Ordinal);
    }

    private static Task<string> RawAsync(IPEndPoint ep, string request) =>
        RawAsync(ep, request, (f, t, p) => new Socket(f, t, p));

    private static async Task<string> RawAsync(IPEndPoint ep, string request, Func<AddressFamily, SocketType, ProtocolType, Socket> newSocket)
    {
        using var s = newSocket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await s.ConnectAsync(ep, cts.Token);
        var bytes = Encoding.ASCII.GetBytes(request);
        try
        {
            await s.SendAsync(bytes, SocketFlags.None, cts.Token);
        }
        catch (SocketException)
        {
            // The server may answer (431) and close before the whole request was sent.
        }

        var sb = new StringBuilder();
        var buf = new byte[4096];
        int n;
        while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
        {
            sb.Append(Encoding.ASCII.GetString(buf, 0, n));
        }

        return sb.ToString();
    }
}
