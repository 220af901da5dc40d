using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.HealthCheck;

/// <summary>
/// The healthCheckNodePort servers for externalTrafficPolicy=Local LoadBalancer Services (upstream
/// pkg/proxy/healthcheck/service_health.go): one HTTP listener per Service on its healthCheckNodePort on every
/// listen address. Any request gets <c>200</c> when the node has local ready endpoints for the Service and the proxy
/// is healthy, else <c>503</c>, with <c>Content-Type: application/json</c>, <c>X-Content-Type-Options: nosniff</c>,
/// <c>X-Load-Balancing-Endpoint-Weight: N</c> and the body
/// <c>{"service":{"namespace":..,"name":..},"localEndpoints":N,"serviceProxyHealthy":bool}</c>.
/// </summary>
internal sealed partial class ServiceHealthServer : IAsyncDisposable
{
    private readonly IReadOnlyList<IPAddress> _addresses;
    private readonly Func<bool> _proxyHealthy;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<ServiceName, ServiceListener> _services = [];
    private Dictionary<ServiceName, int> _localEndpoints = [];

    /// <param name="addresses">Where to listen (the node's NodePort addresses).</param>
    /// <param name="proxyHealthy">The proxy's own health (upstream: the healthz server's state); default always healthy.</param>
    public ServiceHealthServer(IReadOnlyList<IPAddress> addresses, Func<bool>? proxyHealthy = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (addresses.Count == 0)
        {
            throw new ArgumentException("at least one listen address is needed", nameof(addresses));
        }

        _addresses = addresses;
        _proxyHealthy = proxyHealthy ?? (() => true);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Opens listeners for new Services, closes those of Services gone or moved. Returns bind failures (upstream emits FailedToStartServiceHealthcheck events).</summary>
    public async Task<IReadOnlyList<string>> SyncServicesAsync(IReadOnlyDictionary<ServiceName, int> healthCheckNodePorts)
    {
        ArgumentNullException.ThrowIfNull(healthCheckNodePorts);
        List<ServiceListener> close = [];
        List<string> failures = [];
        lock (_lock)
        {
            foreach (var (name, listener) in _services)
            {
                if (!healthCheckNodePorts.TryGetValue(name, out var port) || port != listener.RequestedPort)
                {
                    close.Add(listener);
                }
            }

            foreach (var listener in close)
            {
                _services.Remove(listener.Service);
            }

            foreach (var (name, port) in healthCheckNodePorts)
            {
                if (_services.ContainsKey(name))
                {
                    continue;
                }

                try
                {
                    _services[name] = new ServiceListener(this, name, port);
                }
                catch (SocketException ex)
                {
                    var message = $"node has no free port {port} for healthcheck of service {name}: {ex.Message}";
                    LogBindFailed(_logger, ex, name.ToString(), port);
                    failures.Add(message);
                }
            }
        }

        foreach (var listener in close)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        return failures;
    }

    /// <summary>Local ready endpoints per Service (the proxier's LocalReadyEndpoints after each sync).</summary>
    public void SyncEndpoints(IReadOnlyDictionary<ServiceName, int> localEndpoints)
    {
        ArgumentNullException.ThrowIfNull(localEndpoints);
        var copy = new Dictionary<ServiceName, int>(localEndpoints);
        lock (_lock)
        {
            _localEndpoints = copy;
        }
    }

    /// <summary>The port a Service's listener actually got (differs from the requested one only for port 0, in tests).</summary>
    public int? BoundPort(ServiceName service)
    {
        lock (_lock)
        {
            return _services.TryGetValue(service, out var l) ? l.BoundPort : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<ServiceListener> all;
        lock (_lock)
        {
            all = [.. _services.Values];
            _services.Clear();
        }

        foreach (var l in all)
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }
    }

    private int LocalEndpoints(ServiceName service)
    {
        lock (_lock)
        {
            return _localEndpoints.GetValueOrDefault(service);
        }
    }

    private byte[] Response(ServiceName service, bool head)
    {
        var count = LocalEndpoints(service);
        var healthy = _proxyHealthy();
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("service");
            json.WriteString("namespace", service.Namespace);
            json.WriteString("name", service.Name);
            json.WriteEndObject();
            json.WriteNumber("localEndpoints", count);
            json.WriteBoolean("serviceProxyHealthy", healthy);
            json.WriteEndObject();
        }

        var ok = count != 0 && healthy;
        var header = new StringBuilder(256)
            .Append(ok ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n")
            .Append("Content-Type: application/json\r\n")
            .Append("X-Content-Type-Options: nosniff\r\n")
            .Append("X-Load-Balancing-Endpoint-Weight: ").Append(count.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("Content-Length: ").Append(buffer.WrittenCount.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("Connection: close\r\n\r\n")
            .ToString();
        var headerBytes = Encoding.ASCII.GetBytes(header);
        if (head)
        {
            return headerBytes;
        }

        var response = new byte[headerBytes.Length + buffer.WrittenCount];
        headerBytes.CopyTo(response, 0);
        buffer.WrittenSpan.CopyTo(response.AsSpan(headerBytes.Length));
        return response;
    }

    private static byte[] BadRequest() => Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    [LoggerMessage(1, LogLevel.Warning, "Could not start the healthcheck server of {Service} on port {Port}")]
    private static partial void LogBindFailed(ILogger logger, Exception exception, string service, int port);

    [LoggerMessage(2, LogLevel.Debug, "Healthcheck connection failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception);

    /// <summary>The sockets of one Service (one per listen address) and their accept loops.</summary>
    private sealed class ServiceListener : IAsyncDisposable
    {
        private readonly ServiceHealthServer _server;
        private readonly List<Socket> _sockets = [];
        private readonly List<Task> _loops = [];
        private readonly CancellationTokenSource _cts = new();

        public ServiceListener(ServiceHealthServer server, ServiceName service, int port)
        {
            _server = server;
            Service = service;
            RequestedPort = port;
            BoundPort = port;
            try
            {
                foreach (var address in server._addresses)
                {
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                    _sockets.Add(socket);
                    socket.Bind(new IPEndPoint(address, BoundPort));
                    socket.Listen(64);

                    // Port 0 (tests): every address uses the port the first one got.
                    BoundPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
                }
            }
            catch
            {
                foreach (var s in _sockets)
                {
                    s.Dispose();
                }

                throw;
            }

            foreach (var socket in _sockets)
            {
                _loops.Add(AcceptLoopAsync(socket, _cts.Token));
            }
        }

        public ServiceName Service { get; }

        public int RequestedPort { get; }

        public int BoundPort { get; }

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync().ConfigureAwait(false);
            foreach (var s in _sockets)
            {
                s.Dispose();
            }

            try
            {
                await Task.WhenAll(_loops).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Closing the listener ends the loop.
            }

            _cts.Dispose();
        }

        private async Task AcceptLoopAsync(Socket listener, CancellationToken ct)
        {
            while (!ct.IsCancellationRequested)
            {
                var connection = await listener.AcceptAsync(ct).ConfigureAwait(false);
                _ = HandleAsync(connection, ct);
            }
        }

        private async Task HandleAsync(Socket connection, CancellationToken ct)
        {
            using var _ = connection;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                var buffer = new byte[8192];
                var length = 0;
                while (true)
                {
                    var n = await connection.ReceiveAsync(buffer.AsMemory(length), timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }

                    length += n;
                    if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
                    {
                        break;
                    }

                    if (length == buffer.Length)
                    {
                        await connection.SendAsync(BadRequest(), timeout.Token).ConfigureAwait(false);
                        return;
                    }
                }

                var requestLine = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, length).IndexOf("\r\n"u8));
                var parts = requestLine.Split(' ');
                if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
                {
                    await connection.SendAsync(BadRequest(), timeout.Token).ConfigureAwait(false);
                    return;
                }

                // Upstream answers every method and path the same way.
                await connection.SendAsync(_server.Response(Service, parts[0] == "HEAD"), timeout.Token).ConfigureAwait(false);
                connection.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                LogConnectionFailed(_server._logger, ex);
            }
        }
    }
}
