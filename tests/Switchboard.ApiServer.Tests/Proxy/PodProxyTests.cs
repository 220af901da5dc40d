using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Models;
using Switchboard.ApiServer.Proxy;
using Switchboard.TestKit;

// Test peers on loopback with throwaway certificates: nothing to verify.
#pragma warning disable CA5359

namespace Switchboard.ApiServer.Tests.Proxy;

/// <summary>
/// A byte-level fake kubelet (TLS on 127.0.0.1 port 0, any client certificate requested): records the request
/// head and the client certificate, answers with a canned head, then echoes bytes.
/// </summary>
internal sealed class FakeKubelet : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _cert;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeKubelet(string response)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=sbt-fake-kubelet", key, HashAlgorithmName.SHA256);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        _cert = X509Certificate2.CreateFromPem(cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
        Response = response;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Response { get; set; }

    public TaskCompletionSource<(string Head, string? ClientSubject)> Request { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var tls = new SslStream(new NetworkStream(socket, true), false, (_, _, _, _) => true);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _cert, ClientCertificateRequired = true }, _stop.Token);
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await tls.ReadAsync(one, _stop.Token) == 0)
                {
                    return;
                }
                head.Append((char)one[0]);
            }
            var subject = tls.RemoteCertificate is null ? null : new X509Certificate2(tls.RemoteCertificate).Subject;
            Request.TrySetResult((head.ToString(), subject));
            await tls.WriteAsync(Encoding.Latin1.GetBytes(Response), _stop.Token);
            var buffer = new byte[4096];
            while (true)
            {
                var n = await tls.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }
                await tls.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _cert.Dispose();
        _stop.Dispose();
    }
}

public sealed class PodProxyTests : IAsyncLifetime
{
    private const string Upgraded = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";
    private FakeKubelet _kubelet = null!;
    private TestApiServer _api = null!;
    private int _dials;
    private readonly string _node = "sbt" + Guid.NewGuid().ToString("N")[..6];

    public async Task InitializeAsync()
    {
        _kubelet = new FakeKubelet(Upgraded);
        _api = await TestApiServer.StartAsync(configure: o => o.KubeletDialer = (ep, ct) =>
        {
            Interlocked.Increment(ref _dials);
            return KubeletConnector.DialAsync(ep, ct);
        });
        await _api.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = _node } });
        var status = "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":" + _kubelet.Port + "}}}}";
        await _api.Client.CoreV1.PatchNodeStatusAsync(new V1Patch(status, V1Patch.PatchType.MergePatch), _node);
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _kubelet.DisposeAsync();
    }

    private async Task<string> PodAsync(bool bound = true)
    {
        var name = "sbt" + Guid.NewGuid().ToString("N")[..6];
        await _api.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec { NodeName = bound ? _node : null, Containers = [new V1Container { Name = "main", Image = "registry.k8s.io/pause:3.10" }] },
        }, "default");
        return name;
    }

    /// <summary>An upgrade request to the API server over raw TLS, as kubectl's WebSocket dialer sends it.</summary>
    private async Task<(SslStream Stream, HttpResponseHead Head)> UpgradeAsync(string pathAndQuery, string? token)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _api.Url.Port));
        var tls = new SslStream(new NetworkStream(socket, true), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", ApplicationProtocols = [SslApplicationProtocol.Http11] });
        var auth = token is null ? "" : $"Authorization: Bearer {token}\r\n";
        var request = $"GET {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";
        await tls.WriteAsync(Encoding.Latin1.GetBytes(request));
        return (tls, await HttpResponseHead.ReadAsync(tls, CancellationToken.None));
    }

    [Fact]
    public async Task Exec_Upgrade_RewrittenPathClientCertificateAndByteTunnel()
    {
        var pod = await PodAsync();
        var (stream, head) = await UpgradeAsync($"/api/v1/namespaces/default/pods/{pod}/exec?command=sh&command=-c&command=date&stdout=true&stderr=true", _api.Host.AdminToken);
        await using var _ = stream;
        Assert.Equal(101, head.StatusCode);
        Assert.Equal("v5.channel.k8s.io", head.Header("Sec-WebSocket-Protocol"));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head.Header("Sec-WebSocket-Accept"));
        Assert.Equal("websocket", head.Header("Upgrade"));

        var (kubeletHead, subject) = await _kubelet.Request.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith($"GET /exec/default/{pod}/main?command=sh&command=-c&command=date&error=1&output=1 HTTP/1.1\r\n", kubeletHead);
        Assert.Contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", kubeletHead);
        Assert.Contains("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n", kubeletHead);
        Assert.DoesNotContain("Authorization", kubeletHead, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("CN=kube-apiserver-kubelet-client", subject);
        Assert.True(_dials > 0);

        // After the 101 the proxy copies bytes both ways: the fake kubelet echoes them.
        var payload = "\u0000sbt-tunnel-bytes"u8.ToArray();
        await stream.WriteAsync(payload);
        var echo = new byte[payload.Length];
        await stream.ReadExactlyAsync(echo).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(payload, echo);
    }

    [Fact]
    public async Task Exec_KubeletRefuses_ResponseRelayed()
    {
        _kubelet.Response = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\ncontainer is not running!!";
        var pod = await PodAsync();
        var (stream, head) = await UpgradeAsync($"/api/v1/namespaces/default/pods/{pod}/exec?command=true&stdout=1", _api.Host.AdminToken);
        await using var _ = stream;
        Assert.Equal(400, head.StatusCode);
        var body = new byte[26];
        head.Rest.Span.CopyTo(body);
        await stream.ReadExactlyAsync(body.AsMemory(head.Rest.Length));
        Assert.Equal("container is not running!!", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task Exec_NoToken_Unauthorized()
    {
        var pod = await PodAsync();
        var (stream, head) = await UpgradeAsync($"/api/v1/namespaces/default/pods/{pod}/exec?command=true&stdout=1", null);
        await using var _ = stream;
        Assert.Equal(401, head.StatusCode);
    }

    [Fact]
    public async Task Exec_NotAnUpgrade_BadRequest()
    {
        var pod = await PodAsync();
        var r = await _api.Http.PostAsync($"/api/v1/namespaces/default/pods/{pod}/exec?command=true&stdout=1", null);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("Upgrade request required", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Exec_PodMissing_NotFound()
    {
        var (stream, head) = await UpgradeAsync("/api/v1/namespaces/default/pods/sbt-none/exec?command=true&stdout=1", _api.Host.AdminToken);
        await using var _ = stream;
        Assert.Equal(404, head.StatusCode);
    }

    [Fact]
    public async Task Exec_KubeletUnreachable_500ErrorDialingBackend()
    {
        var node = "sbt" + Guid.NewGuid().ToString("N")[..6];
        await _api.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = node } });
        // A port nobody listens on: bind, note it, close.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var status = "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":" + deadPort + "}}}}";
        await _api.Client.CoreV1.PatchNodeStatusAsync(new V1Patch(status, V1Patch.PatchType.MergePatch), node);
        var pod = "sbt" + Guid.NewGuid().ToString("N")[..6];
        await _api.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = pod },
            Spec = new V1PodSpec { NodeName = node, Containers = [new V1Container { Name = "main", Image = "registry.k8s.io/pause:3.10" }] },
        }, "default");
        var (stream, head) = await UpgradeAsync($"/api/v1/namespaces/default/pods/{pod}/exec?command=true&stdout=1", _api.Host.AdminToken);
        await using var _ = stream;
        Assert.Equal(500, head.StatusCode);
        var logs = await _api.Http.GetAsync($"/api/v1/namespaces/default/pods/{pod}/log");
        Assert.Equal(HttpStatusCode.InternalServerError, logs.StatusCode);
    }

    [Fact]
    public async Task Log_InvalidOptions_422()
    {
        var pod = await PodAsync();
        var r = await _api.Http.GetAsync($"/api/v1/namespaces/default/pods/{pod}/log?tailLines=-3");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        Assert.Contains("tailLines: Invalid value: -3", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Log_WrongMethod_405()
    {
        var pod = await PodAsync();
        var r = await _api.Http.PostAsync($"/api/v1/namespaces/default/pods/{pod}/log", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
    }

    [Fact]
    public async Task Discovery_PodsListsStreamingSubresources()
    {
        var json = await _api.Http.GetStringAsync("/api/v1");
        Assert.Contains("\"name\":\"pods/exec\"", json);
        Assert.Contains("\"kind\":\"PodExecOptions\"", json);
        Assert.Contains("\"name\":\"pods/log\"", json);
        Assert.Contains("\"name\":\"pods/portforward\"", json);
    }
}
