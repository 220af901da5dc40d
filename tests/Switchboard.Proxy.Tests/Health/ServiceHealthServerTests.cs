using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.Health;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.Health;

public sealed class ServiceHealthServerTests : IAsyncDisposable
{
    private static readonly ServiceName Web = new("shop", "web");
    private readonly FakeTimeProvider _time = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private bool _proxyHealthy = true;

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public void Render_LocalEndpoints_200WithUpstreamBodyAndHeaders()
    {
        var r = ServiceHealthServer.Render(Web, 2, proxyHealthy: true);
        Assert.Equal(200, r.Status);
        Assert.Equal("application/json", r.ContentType);
        Assert.Equal(
            "{\n\t\"service\": {\n\t\t\"namespace\": \"shop\",\n\t\t\"name\": \"web\"\n\t},\n\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}",
            Encoding.UTF8.GetString(r.Body));
        Assert.Contains(r.Headers!, h => h.Key == "X-Content-Type-Options" && h.Value == "nosniff");
        Assert.Contains(r.Headers!, h => h.Key == "X-Load-Balancing-Endpoint-Weight" && h.Value == "2");
    }

    [Fact]
    public void Render_NoLocalEndpoints_503()
    {
        var r = ServiceHealthServer.Render(Web, 0, proxyHealthy: true);
        Assert.Equal(503, r.Status);
        Assert.Contains("\"localEndpoints\": 0", Encoding.UTF8.GetString(r.Body), StringComparison.Ordinal);
        Assert.Contains(r.Headers!, h => h.Key == "X-Load-Balancing-Endpoint-Weight" && h.Value == "0");
    }

    [Fact]
    public void Render_ProxyUnhealthy_503EvenWithEndpoints()
    {
        var r = ServiceHealthServer.Render(Web, 3, proxyHealthy: false);
        Assert.Equal(503, r.Status);
        Assert.Contains("\"serviceProxyHealthy\": false", Encoding.UTF8.GetString(r.Body), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_QuotesInNames_JsonEscaped()
    {
        var body = Encoding.UTF8.GetString(ServiceHealthServer.Render(new ServiceName("a\"b", "c"), 1, true).Body);
        Assert.Contains("\"namespace\": \"a\\u0022b\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncServices_RealListener_AnswersFromEndpointsAndHealth()
    {
        await using var server = NewServer();
        var port = FreePort();
        server.SyncServices(new Dictionary<ServiceName, int> { [Web] = port });
        var (status, body) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("\"localEndpoints\": 0", body, StringComparison.Ordinal);

        server.SyncEndpoints(new Dictionary<ServiceName, int> { [Web] = 1 });
        (status, body) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"name\": \"web\"", body, StringComparison.Ordinal);

        _proxyHealthy = false;
        (status, body) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("\"serviceProxyHealthy\": false", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncServices_ServiceRemovedOrPortChanged_OldListenerClosed()
    {
        await using var server = NewServer();
        var port1 = FreePort();
        server.SyncServices(new Dictionary<ServiceName, int> { [Web] = port1 });
        server.SyncEndpoints(new Dictionary<ServiceName, int> { [Web] = 1 });
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(port1)).Status);

        var port2 = FreePort();
        server.SyncServices(new Dictionary<ServiceName, int> { [Web] = port2 });
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(port2)).Status);
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(port1));

        server.SyncServices(new Dictionary<ServiceName, int>());
        Assert.Empty(server.Listening);
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(port2));
    }

    [Fact]
    public async Task SyncServices_PortBusy_LoggedAndRetriedUntilFree()
    {
        await using var server = NewServer();
        var port = FreePort();
        var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, port));
        blocker.Listen();
        var other = new ServiceName("shop", "other");
        var otherPort = FreePort();

        // One busy port does not stop the others.
        server.SyncServices(new Dictionary<ServiceName, int> { [Web] = port, [other] = otherPort });
        Assert.False(server.Listening.ContainsKey(Web));
        Assert.True(server.Listening.ContainsKey(other));

        _time.Advance(ServiceHealthServer.RetryInterval);
        Assert.False(server.Listening.ContainsKey(Web));

        blocker.Dispose();
        _time.Advance(ServiceHealthServer.RetryInterval);
        Assert.Equal(port, Assert.Single(server.Listening[Web]).Port);
        server.SyncEndpoints(new Dictionary<ServiceName, int> { [Web] = 4 });
        var (status, body) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"localEndpoints\": 4", body, StringComparison.Ordinal);
    }

    private ServiceHealthServer NewServer() => new([IPAddress.Loopback], () => _proxyHealthy, _time, "node-a");

    private async Task<(HttpStatusCode Status, string Body)> GetAsync(int port)
    {
        using var r = await _http.GetAsync(new Uri($"http://127.0.0.1:{port}/"));
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// A free port below the ephemeral range (like real healthCheckNodePorts, 30000-32767), so outgoing connections of
    /// tests running in parallel cannot take it between this check and the bind.
    /// </summary>
    private static int FreePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 30000);
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 100)
            {
            }
        }
    }
}
