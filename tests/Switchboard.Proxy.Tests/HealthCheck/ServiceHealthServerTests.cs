using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Switchboard.Proxy.HealthCheck;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.HealthCheck;

/// <summary>healthCheckNodePort semantics (reference/proxy.md §1.2) on 127.0.0.1 port 0 with a real HTTP client.</summary>
public sealed class ServiceHealthServerTests
{
    private static readonly ServiceName Svc = new("ns1", "lb");

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> GetAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, body, response);
    }

    [Fact]
    public async Task Get_NoLocalEndpoints_503ThenLocalEndpoints_200()
    {
        await using var server = new ServiceHealthServer([IPAddress.Loopback]);
        Assert.Empty(await server.SyncServicesAsync(new Dictionary<ServiceName, int> { [Svc] = 0 }));
        var port = server.BoundPort(Svc)!.Value;

        var (status, body, response) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("ns1", body.GetProperty("service").GetProperty("namespace").GetString());
        Assert.Equal("lb", body.GetProperty("service").GetProperty("name").GetString());
        Assert.Equal(0, body.GetProperty("localEndpoints").GetInt32());
        Assert.True(body.GetProperty("serviceProxyHealthy").GetBoolean());
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());

        server.SyncEndpoints(new Dictionary<ServiceName, int> { [Svc] = 2 });
        (status, body, response) = await GetAsync(port);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body.GetProperty("localEndpoints").GetInt32());
        Assert.Equal("2", response.Headers.GetValues("X-Load-Balancing-Endpoint-Weight").Single());
    }

    [Fact]
    public async Task Get_ProxyUnhealthy_503EvenWithEndpoints()
    {
        await using var server = new ServiceHealthServer([IPAddress.Loopback], proxyHealthy: () => false);
        await server.SyncServicesAsync(new Dictionary<ServiceName, int> { [Svc] = 0 });
        server.SyncEndpoints(new Dictionary<ServiceName, int> { [Svc] = 1 });

        var (status, body, _) = await GetAsync(server.BoundPort(Svc)!.Value);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.False(body.GetProperty("serviceProxyHealthy").GetBoolean());
    }

    [Fact]
    public async Task SyncServices_ServiceRemoved_ListenerClosed()
    {
        await using var server = new ServiceHealthServer([IPAddress.Loopback]);
        await server.SyncServicesAsync(new Dictionary<ServiceName, int> { [Svc] = 0 });
        var port = server.BoundPort(Svc)!.Value;

        await server.SyncServicesAsync(new Dictionary<ServiceName, int>());

        Assert.Null(server.BoundPort(Svc));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var ex = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
    }

    [Fact]
    public async Task SyncServices_PortTaken_ReportsFailureAndServesOthers()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var takenPort = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using var server = new ServiceHealthServer([IPAddress.Loopback]);
        var other = new ServiceName("ns1", "other");

        var failures = await server.SyncServicesAsync(new Dictionary<ServiceName, int> { [Svc] = takenPort, [other] = 0 });

        Assert.Contains(failures, f => f.Contains($"port {takenPort}", StringComparison.Ordinal) && f.Contains("ns1/lb", StringComparison.Ordinal));
        Assert.NotNull(server.BoundPort(other));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(server.BoundPort(other)!.Value)).Status);
    }

    [Fact]
    public async Task Get_MalformedRequest_400()
    {
        await using var server = new ServiceHealthServer([IPAddress.Loopback]);
        await server.SyncServicesAsync(new Dictionary<ServiceName, int> { [Svc] = 0 });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.BoundPort(Svc)!.Value);
        await socket.SendAsync("NONSENSE\r\n\r\n"u8.ToArray());
        var buffer = new byte[256];
        var n = await socket.ReceiveAsync(buffer);
        Assert.StartsWith("HTTP/1.1 400", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Constructor_NoAddresses_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceHealthServer([]));
        Assert.Contains("listen address", ex.Message);
    }
}
