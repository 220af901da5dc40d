using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Agnhost.Tests.Process;

/// <summary>netexec as a real process on loopback ports, checked with real HTTP and UDP clients.</summary>
public sealed class NetexecTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static HttpClient NewClient() => new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout };

    private static string MachineHostname()
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("hostname") { RedirectStandardOutput = true })!;
        var name = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return name;
    }

    [Fact]
    public async Task Hostname_BothSpellings_ReturnTheHostname()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        var expected = MachineHostname();
        Assert.Equal(expected, await client.GetStringAsync(server.Url("/hostname")));
        Assert.Equal(expected, await client.GetStringAsync(server.Url("/hostName")));
    }

    [Fact]
    public async Task Hostname_OwnUtsNamespace_ReturnsThatInstancesHostname()
    {
        await using var server = await Servers.NetexecAsync(ownHostname: true);
        using var client = NewClient();
        Assert.Equal(server.Process.Hostname, await client.GetStringAsync(server.Url("/hostname")));
    }

    [Fact]
    public async Task ClientIp_Ipv4Client_ReturnsOurAddressAndSourcePort()
    {
        await using var server = await Servers.NetexecAsync();
        using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync("GET /clientip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var response = RawHttp.Parse(await raw.ReadToEndAsync()).Single();
        Assert.Equal(200, response.Status);
        Assert.Equal("127.0.0.1:" + raw.LocalPort, response.Body);
    }

    [Fact]
    public async Task ClientIp_Ipv6Client_ReturnsBracketedAddress()
    {
        await using var server = await Servers.NetexecAsync();
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.IPv6Loopback, server.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /clientip HTTP/1.0\r\n\r\n"));
        var buffer = new byte[4096];
        var text = new StringBuilder();
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        Assert.Equal("[::1]:" + port, RawHttp.Parse(text.ToString()).Single().Body);
    }

    [Fact]
    public async Task Echo_WithCode_ReturnsMessageAndStatus()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var response = await client.GetAsync(server.Url("/echo?msg=hello%20world&code=418"));
        Assert.Equal(418, (int)response.StatusCode);
        Assert.Equal("hello world", await response.Content.ReadAsStringAsync());

        using var plain = await client.GetAsync(server.Url("/echo?msg=abc"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal("abc", await plain.Content.ReadAsStringAsync());

        using var bad = await client.GetAsync(server.Url("/echo?msg=abc&code=x"));
        Assert.Equal("argument 'code' must be an integer or empty, got \"x\"\n", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Root_AndUnknownPath_ReturnTimestamp()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        Assert.StartsWith("NOW: ", await client.GetStringAsync(server.Url("/")));
        using var unknown = await client.GetAsync(server.Url("/no/such/path"));
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        Assert.StartsWith("NOW: ", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Shell_CommandWithStderrAndExitCode_ReturnsCombinedOutputAndError()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        var cmd = Uri.EscapeDataString("echo out; echo err >&2; exit 3");
        var json = await client.GetStringAsync(server.Url("/shell?cmd=" + cmd));
        using var doc = JsonDocument.Parse(json);
        var output = doc.RootElement.GetProperty("output").GetString()!;
        Assert.Contains("out\n", output);
        Assert.Contains("err\n", output);
        Assert.Equal("exit status 3", doc.RootElement.GetProperty("error").GetString());

        var ok = await client.GetStringAsync(server.Url("/shell?shellCommand=" + Uri.EscapeDataString("printf hi")));
        Assert.Equal("{\"output\":\"hi\"}", ok);
    }

    [Fact]
    public async Task Dial_HttpToSecondInstance_ReturnsThatInstancesHostname()
    {
        await using var server = await Servers.NetexecAsync();
        await using var target = await Servers.NetexecAsync(ownHostname: true);
        using var client = NewClient();
        var json = await client.GetStringAsync(server.Url($"/dial?request=hostname&host=127.0.0.1&port={target.Port}&protocol=http&tries=3"));
        using var doc = JsonDocument.Parse(json);
        var responses = doc.RootElement.GetProperty("responses").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal([target.Process.Hostname, target.Process.Hostname, target.Process.Hostname], responses);
        Assert.False(doc.RootElement.TryGetProperty("errors", out _));
    }

    [Fact]
    public async Task Dial_UdpToSecondInstance_ReturnsThatInstancesHostname()
    {
        await using var server = await Servers.NetexecAsync();
        await using var target = await Servers.NetexecAsync(ownHostname: true);
        using var client = NewClient();
        var json = await client.GetStringAsync(server.Url($"/dial?request=hostname&host=127.0.0.1&port={target.UdpPort}&protocol=udp"));
        Assert.Equal("{\"responses\":[\"" + target.Process.Hostname + "\"]}", json);
    }

    [Fact]
    public async Task Dial_ClosedPort_ReturnsErrorsOnly()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        var closed = FreePort.Tcp();
        using var response = await client.GetAsync(server.Url($"/dial?request=hostname&host=127.0.0.1&port={closed}&tries=2"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var errors = doc.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("connection refused", e));
        Assert.False(doc.RootElement.TryGetProperty("responses", out _));
    }

    [Fact]
    public async Task Dial_BadParameters_Return400()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var noRequest = await client.GetAsync(server.Url("/dial?host=127.0.0.1&port=1"));
        Assert.Equal(HttpStatusCode.BadRequest, noRequest.StatusCode);
        Assert.Equal("request parameter not specified. <nil>\n", await noRequest.Content.ReadAsStringAsync());
        using var badTries = await client.GetAsync(server.Url("/dial?request=x&host=127.0.0.1&port=1&tries=z"));
        Assert.Equal(HttpStatusCode.BadRequest, badTries.StatusCode);
        using var badProtocol = await client.GetAsync(server.Url("/dial?request=x&host=127.0.0.1&port=1&protocol=icmp"));
        Assert.Equal(HttpStatusCode.BadRequest, badProtocol.StatusCode);
        Assert.Equal("unsupported protocol. icmp\n", await badProtocol.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Udp_Commands_AnswerHostnameEchoAndClientIp()
    {
        await using var server = await Servers.NetexecAsync(ownHostname: true);
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        udp.Connect(IPAddress.Loopback, server.UdpPort);
        var localPort = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;

        async Task<string> Ask(string text)
        {
            using var cts = new CancellationTokenSource(Timeout);
            await udp.SendAsync(Encoding.UTF8.GetBytes(text), cts.Token);
            var answer = await udp.ReceiveAsync(cts.Token);
            return Encoding.UTF8.GetString(answer.Buffer);
        }

        Assert.Equal(server.Process.Hostname, await Ask("hostname"));
        Assert.Equal(server.Process.Hostname, await Ask("  HOSTNAME\n"));
        Assert.Equal("hello there", await Ask("echo hello there"));
        Assert.Equal("127.0.0.1:" + localPort, await Ask("clientip"));
    }

    [Fact]
    public async Task Exit_WithCode_ProcessExitsWithThatCode()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync(server.Url("/exit?code=7")));
        Assert.Equal(7, await server.Process.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Exit_WithTimeout_AnswersThenExitsGracefully()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var response = await client.GetAsync(server.Url("/exit?code=5&timeout=2s"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, await server.Process.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Shutdown_ExitsZero()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync(server.Url("/shutdown")));
        Assert.Equal(0, await server.Process.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Healthz_Readyz_OkWhileUdpServes()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var healthz = await client.GetAsync(server.Url("/healthz"));
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        using var readyz = await client.GetAsync(server.Url("/readyz"));
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        Assert.Equal("ok", await readyz.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Healthz_UdpDisabled_PreconditionFailedAsUpstream()
    {
        await using var server = await Servers.NetexecAsync(false, "--udp-port=-1");
        using var client = NewClient();
        using var healthz = await client.GetAsync(server.Url("/healthz"));
        Assert.Equal(HttpStatusCode.PreconditionFailed, healthz.StatusCode);
    }

    [Fact]
    public async Task Sigterm_WithDelayShutdown_ReadyzTurns503ThenExitsZero()
    {
        await using var server = await Servers.NetexecAsync(false, "--delay-shutdown=2");
        using var client = NewClient();
        await server.Process.SignalAsync("TERM");
        await server.Process.WaitForOutputAsync("Sleeping 2 seconds before terminating...", Timeout);
        using var readyz = await client.GetAsync(server.Url("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
        Assert.Equal("shutting down", await readyz.Content.ReadAsStringAsync());
        using var healthz = await client.GetAsync(server.Url("/healthz"));
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(0, await server.Process.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Sigterm_NoDelay_ExitsZero()
    {
        await using var server = await Servers.NetexecAsync();
        await server.Process.SignalAsync("TERM");
        Assert.Equal(0, await server.Process.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Redirect_LocationAndCode_Redirects()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var response = await client.GetAsync(server.Url("/redirect?location=" + Uri.EscapeDataString("/echo?msg=foobar") + "&code=307"));
        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal("/echo?msg=foobar", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Header_Key_ReturnsHeaderValue()
    {
        await using var server = await Servers.NetexecAsync();
        using var client = NewClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url("/header?key=x-forwarded-for"));
        request.Headers.Add("X-Forwarded-For", "10.1.2.3");
        using var response = await client.SendAsync(request);
        Assert.Equal("10.1.2.3", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HttpOverride_AnyPath_ServedAsOverride()
    {
        await using var server = await Servers.NetexecAsync(false, "--http-override=/echo?msg=overridden");
        using var client = NewClient();
        Assert.Equal("overridden", await client.GetStringAsync(server.Url("/hostname")));
    }

    [Fact]
    public async Task MalformedRequest_Gets400_AndServerKeepsServing()
    {
        await using var server = await Servers.NetexecAsync();
        string[] bad =
        [
            "GARBAGE\r\n\r\n",
            "GET /hostname HTTP/1.1\r\n\r\n",
            "GET /hostname HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
            "GET /hostname HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "GET /hostname HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n",
            "GET hostname HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ];
        foreach (var request in bad)
        {
            using var raw = await RawHttp.ConnectAsync(server.Port);
            await raw.SendAsync(request);
            var text = await raw.ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", text);
        }

        using var version = await RawHttp.ConnectAsync(server.Port);
        await version.SendAsync("GET / HTTP/2.0\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 505 ", await version.ReadToEndAsync());

        using var te = await RawHttp.ConnectAsync(server.Port);
        await te.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 501 ", await te.ReadToEndAsync());

        using var client = NewClient();
        Assert.Equal(MachineHostname(), await client.GetStringAsync(server.Url("/hostname")));
        Assert.False(server.Process.HasExited);
    }

    [Fact]
    public async Task RandomBytesOnTheWire_ServerSurvivesAndKeepsServing()
    {
        await using var server = await Servers.NetexecAsync();
        var random = new Random(42);
        const string seed = "POST /echo?msg=x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        for (var i = 0; i < 40; i++)
        {
            var bytes = Encoding.ASCII.GetBytes(seed);
            for (var k = random.Next(1, 8); k > 0; k--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, server.Port);
            await socket.SendAsync(bytes);
            socket.Shutdown(SocketShutdown.Send);
            using var cts = new CancellationTokenSource(Timeout);
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }

        using var client = NewClient();
        Assert.Equal(MachineHostname(), await client.GetStringAsync(server.Url("/hostname")));
        Assert.False(server.Process.HasExited);
    }

    [Fact]
    public async Task Pipelining_TwoRequestsInOneWrite_TwoResponsesInOrder()
    {
        await using var server = await Servers.NetexecAsync();
        using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync(
            "GET /echo?msg=first HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nmsg=second" +
            "POST /echo?msg=third HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        var responses = await raw.ReadResponsesAsync(3);
        Assert.Equal(["first", "second", "third"], responses.Select(r => r.Body));
        Assert.All(responses, r => Assert.Equal(200, r.Status));
    }

    [Fact]
    public async Task KeepAlive_SequentialRequests_SameConnection()
    {
        await using var server = await Servers.NetexecAsync();
        using var raw = await RawHttp.ConnectAsync(server.Port);
        for (var i = 0; i < 3; i++)
        {
            await raw.SendAsync($"GET /echo?msg=n{i} HTTP/1.1\r\nHost: x\r\n\r\n");
            var response = (await raw.ReadResponsesAsync(1)).Single();
            Assert.Equal("n" + i, response.Body);
        }

        await raw.SendAsync("GET /clientip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var last = RawHttp.Parse(await raw.ReadToEndAsync()).Single();
        Assert.Equal("127.0.0.1:" + raw.LocalPort, last.Body);
    }

    [Fact]
    public async Task SctpPort_KernelWithoutSctp_FailsClearly()
    {
        bool sctp;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, (ProtocolType)132);
            sctp = true;
        }
        catch (SocketException)
        {
            sctp = false;
        }

        if (sctp)
        {
            await using var server = await Servers.NetexecAsync(false, "--sctp-port=" + FreePort.Tcp());
            await server.Process.WaitForOutputAsync("Started SCTP server", Timeout);
            return;
        }

        await using var p = AgnhostProcess.Start(["netexec", "--http-port=" + FreePort.Tcp(), "--udp-port=-1", "--sctp-port=" + FreePort.Tcp()]);
        Assert.Equal(1, await p.WaitForExitAsync(Timeout));
        Assert.Contains("SCTP", p.Stderr);
        Assert.Contains("protocol not supported", p.Stderr);
    }
}

/// <summary>netexec over HTTPS with --tls-cert-file/--tls-private-key-file.</summary>
public sealed class NetexecTlsTests
{
    [Fact]
    public async Task TlsCertFile_ServesHttpsWithThatCertificate()
    {
        var dir = Directory.CreateTempSubdirectory("sbt-agnhost-");
        try
        {
            using var key = System.Security.Cryptography.ECDsa.Create();
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=sbt-netexec-tls", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var certFile = Path.Combine(dir.FullName, "tls.crt");
            var keyFile = Path.Combine(dir.FullName, "tls.key");
            await File.WriteAllTextAsync(certFile, cert.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());

            await using var server = await Servers.NetexecAsync(false, "--tls-cert-file=" + certFile, "--tls-private-key-file=" + keyFile);
            using var client = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c?.Subject == "CN=sbt-netexec-tls" },
            });
            Assert.Equal("secure", await client.GetStringAsync($"https://127.0.0.1:{server.Port}/echo?msg=secure"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Head_Hostname_HeadersWithoutBody()
    {
        await using var server = await Servers.NetexecAsync();
        using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync("HEAD /hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var text = await raw.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text);
        Assert.EndsWith("\r\n\r\n", text);
        Assert.Contains("Content-Length: " + System.Text.Encoding.UTF8.GetByteCount(System.Net.Dns.GetHostName()), text);
    }
}
