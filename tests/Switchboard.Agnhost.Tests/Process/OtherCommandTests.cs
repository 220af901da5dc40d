using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Agnhost.Tests.Process;

/// <summary>serve-hostname, porter, connect, pause and the command line, as real processes.</summary>
public sealed class OtherCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        // porter's generated certificate is self-signed: accept exactly that one (CN=localhost), nothing else.
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.Subject == "CN=localhost" },
    })
    { Timeout = Timeout };

    [Fact]
    public async Task ServeHostname_Http_ReturnsInstanceHostname()
    {
        await using var server = await Servers.ServeHostnameAsync(ownHostname: true);
        using var client = NewClient();
        Assert.Equal(server.Process.Hostname, await client.GetStringAsync(server.Url("/anything")));
    }

    [Fact]
    public async Task ServeHostname_Close_AnswersWithConnectionClose()
    {
        await using var server = await Servers.ServeHostnameAsync(true, "--close");
        using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        var response = RawHttp.Parse(await raw.ReadToEndAsync()).Single();
        Assert.Contains("Connection: close", response.Headers);
        Assert.Equal(server.Process.Hostname, response.Body);
    }

    [Fact]
    public async Task ServeHostname_Tcp_WritesHostnameAndCloses()
    {
        await using var server = await Servers.ServeHostnameAsync(true, "--tcp", "--http=false");
        using var raw = await RawHttp.ConnectAsync(server.Port);
        Assert.Equal(server.Process.Hostname, await raw.ReadToEndAsync());
    }

    [Fact]
    public async Task ServeHostname_Udp_AnswersAnyDatagramWithHostname()
    {
        await using var server = await Servers.ServeHostnameAsync(true, "--udp", "--http=false");
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var cts = new CancellationTokenSource(Timeout);
        await udp.SendAsync(Encoding.ASCII.GetBytes("a datagram longer than sixteen bytes"), new IPEndPoint(IPAddress.Loopback, server.Port), cts.Token);
        var answer = await udp.ReceiveAsync(cts.Token);
        Assert.Equal(server.Process.Hostname, Encoding.UTF8.GetString(answer.Buffer));
    }

    [Fact]
    public async Task ServeHostname_TcpWithDefaultHttp_FailsLikeUpstream()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("serve-hostname", "--tcp", "--port=" + FreePort.Tcp());
        Assert.Equal(1, code);
        Assert.Contains("Can't server TCP/UDP mode and HTTP mode at the same time", stderr);
    }

    [Fact]
    public async Task Porter_EnvPorts_ServeValuesOverHttpUdpAndTls()
    {
        for (var attempt = 0; ; attempt++)
        {
            var http = FreePort.Tcp();
            var tls = FreePort.Tcp();
            var udpPort = FreePort.Udp();
            await using var p = AgnhostProcess.Start(
                ["porter"],
                new Dictionary<string, string>
                {
                    ["SERVE_PORT_" + http] = "plain-value",
                    ["SERVE_TLS_PORT_" + tls] = "tls-value",
                    ["SERVE_UDP_PORT_" + udpPort] = "udp-value",
                });
            if (!await p.WaitForTcpAsync(http, Timeout) || !await p.WaitForTcpAsync(tls, Timeout))
            {
                Assert.True(attempt < 4, p.Stderr);
                continue;
            }

            using var client = NewClient();
            Assert.Equal("plain-value", await client.GetStringAsync($"http://127.0.0.1:{http}/any/path"));
            Assert.Equal("tls-value", await client.GetStringAsync($"https://127.0.0.1:{tls}/"));

            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            using var cts = new CancellationTokenSource(Timeout);
            await udp.SendAsync(Encoding.ASCII.GetBytes("x"), new IPEndPoint(IPAddress.Loopback, udpPort), cts.Token);
            Assert.Equal("udp-value", Encoding.UTF8.GetString((await udp.ReceiveAsync(cts.Token)).Buffer));
            return;
        }
    }

    [Fact]
    public async Task Porter_JsonResponse_ReturnsMethodAndBody()
    {
        var http = FreePort.Tcp();
        await using var p = AgnhostProcess.Start(["porter", "--json-response"], new Dictionary<string, string> { ["SERVE_PORT_" + http] = "v" });
        Assert.True(await p.WaitForTcpAsync(http, Timeout), p.Stderr);
        using var client = NewClient();
        using var response = await client.PostAsync($"http://127.0.0.1:{http}/", new StringContent("ignored"));
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("POST", doc.RootElement.GetProperty("Method").GetString());
        Assert.Equal("v", doc.RootElement.GetProperty("Body").GetString());
    }

    [Fact]
    public async Task Connect_ListeningPort_ExitsZero()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect", "127.0.0.1:" + port, "--timeout=5s");
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public async Task Connect_ClosedPort_Refused()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect", "127.0.0.1:" + FreePort.Tcp(), "--timeout", "5s");
        Assert.Equal(1, code);
        Assert.Equal("REFUSED\n", stderr);
    }

    [Fact]
    public async Task Connect_MissingPort_Unknown()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect", "127.0.0.1");
        Assert.Equal(1, code);
        Assert.StartsWith("UNKNOWN: address 127.0.0.1: missing port in address", stderr);
    }

    [Fact]
    public async Task Connect_UnresolvableName_Dns()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect", "sbt-no-such-host.invalid:80");
        Assert.Equal(1, code);
        Assert.StartsWith("DNS: ", stderr);
    }

    [Fact]
    public async Task Connect_UdpToNetexec_ExitsZero()
    {
        await using var server = await Servers.NetexecAsync();
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect", "127.0.0.1:" + server.UdpPort, "--protocol=udp", "--timeout=5s");
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public async Task Connect_WrongArgumentCount_UsageExit2()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("connect");
        Assert.Equal(2, code);
        Assert.Contains("Error: accepts 1 arg(s), received 0", stderr);
    }

    [Fact]
    public async Task Pause_Sigterm_PrintsPausedAndExitsLikeUpstream()
    {
        await using var p = AgnhostProcess.Start(["pause"]);
        await p.WaitForOutputAsync("Paused", Timeout);
        await p.SignalAsync("TERM");
        Assert.Equal(2, await p.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Pause_Sigint_ExitsOne()
    {
        await using var p = AgnhostProcess.Start(["/agnhost", "pause"]);
        await p.WaitForOutputAsync("Paused", Timeout);
        await p.SignalAsync("INT");
        Assert.Equal(1, await p.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task BadFlag_UsageOnStderr_Exit2()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("netexec", "--no-such-flag=1");
        Assert.Equal(2, code);
        Assert.StartsWith("Error: unknown flag: --no-such-flag", stderr);
        Assert.Contains("Usage:", stderr);
        Assert.Contains("--http-port int", stderr);
    }

    [Fact]
    public async Task BadFlagValue_Exit2()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("agnhost", "netexec", "--http-port=abc");
        Assert.Equal(2, code);
        Assert.StartsWith("Error: invalid argument \"abc\" for \"--http-port\" flag", stderr);
    }

    [Fact]
    public async Task UnknownSubcommand_Exit2()
    {
        var (code, _, stderr) = await AgnhostProcess.RunAsync("frobnicate");
        Assert.Equal(2, code);
        Assert.StartsWith("Error: unknown command \"frobnicate\" for \"app\"", stderr);
    }

    [Fact]
    public async Task LeadingAgnhostToken_Accepted()
    {
        await using var p = AgnhostProcess.Start(["/agnhost", "netexec", "--http-port=" + FreePort.Tcp(), "--udp-port=-1", "--v=2"]);
        await p.WaitForOutputAsync("Started HTTP server on port", Timeout);
        Assert.False(p.HasExited);
    }
}
