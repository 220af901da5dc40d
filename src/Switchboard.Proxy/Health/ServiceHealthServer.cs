using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Events;
using Switchboard.Proxy.Hosting.Http;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Health;

/// <summary>
/// The healthCheckNodePort servers (upstream pkg/proxy/healthcheck/service_health.go): one HTTP listener per
/// LoadBalancer Service with externalTrafficPolicy Local, on each configured node address, answering
/// <c>{"service":{"namespace":..,"name":..},"localEndpoints":N,"serviceProxyHealthy":bool}</c> with 200 when N &gt; 0 and
/// the proxy is healthy, else 503. A port that cannot be bound is logged (and a Warning Event
/// FailedToStartServiceHealthcheck recorded) and retried every <see cref="RetryInterval"/> and at every sync;
/// it is never fatal. Thread-safe: syncs come from the sync loop, requests from socket threads.
/// </summary>
internal sealed partial class ServiceHealthServer : IAsyncDisposable
{
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<IPAddress> _addresses;
    private readonly Func<bool> _proxyHealthy;
    private readonly ILogger _logger;
    private readonly EventRecorder? _events;
    private readonly string _nodeName;
    private readonly Lock _lock = new();
    private readonly Dictionary<ServiceName, Instance> _services = [];
    private readonly ITimer _retryTimer;
    private Dictionary<ServiceName, int> _wanted = [];
    private Dictionary<ServiceName, int> _endpoints = [];
    private bool _disposed;

    /// <param name="addresses">Node addresses to listen on; empty means all (0.0.0.0), as upstream without nodePortAddresses.</param>
    public ServiceHealthServer(IReadOnlyList<IPAddress> addresses, Func<bool> proxyHealthy, TimeProvider time, string nodeName, ILogger? logger = null, EventRecorder? events = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _addresses = addresses.Count == 0 ? [IPAddress.Any] : addresses;
        _proxyHealthy = proxyHealthy;
        _nodeName = nodeName;
        _logger = logger ?? NullLogger.Instance;
        _events = events;
        _retryTimer = time.CreateTimer(_ => RetryFailed(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Services with open listeners and their bound endpoints (tests, diagnostics).</summary>
    public IReadOnlyDictionary<ServiceName, IReadOnlyList<IPEndPoint>> Listening
    {
        get
        {
            lock (_lock)
            {
                return _services.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<IPEndPoint>)[.. kv.Value.Servers.Select(s => s.LocalEndPoint)]);
            }
        }
    }

    /// <summary>Makes <paramref name="ports"/> (Service → healthCheckNodePort) the open set: closes the rest, opens the new.</summary>
    public void SyncServices(IReadOnlyDictionary<ServiceName, int> ports)
    {
        List<Instance> toClose = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _wanted = new Dictionary<ServiceName, int>(ports);
            foreach (var (name, inst) in _services.ToArray())
            {
                if (!ports.TryGetValue(name, out var port) || port != inst.Port)
                {
                    Log.Closing(_logger, name, inst.Port);
                    toClose.Add(inst);
                    _services.Remove(name);
                }
            }

            OpenMissing();
        }

        CloseAll(toClose);
    }

    /// <summary>Local ready endpoints per Service; Services not named get 0.</summary>
    public void SyncEndpoints(IReadOnlyDictionary<ServiceName, int> counts)
    {
        lock (_lock)
        {
            _endpoints = new Dictionary<ServiceName, int>(counts);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Instance> all;
        lock (_lock)
        {
            _disposed = true;
            all = [.. _services.Values];
            _services.Clear();
        }

        await _retryTimer.DisposeAsync().ConfigureAwait(false);
        foreach (var inst in all)
        {
            foreach (var s in inst.Servers)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Upstream's response for one Service: status, JSON body (its indented layout) and headers.</summary>
    internal static HttpResponse Render(ServiceName service, int localEndpoints, bool proxyHealthy)
    {
        var sb = new StringBuilder(160);
        sb.Append("{\n\t\"service\": {\n\t\t\"namespace\": ").Append(JsonString(service.Namespace))
          .Append(",\n\t\t\"name\": ").Append(JsonString(service.Name))
          .Append("\n\t},\n\t\"localEndpoints\": ").Append(localEndpoints.ToString(CultureInfo.InvariantCulture))
          .Append(",\n\t\"serviceProxyHealthy\": ").Append(proxyHealthy ? "true" : "false").Append("\n}");
        var status = localEndpoints != 0 && proxyHealthy ? 200 : 503;
        return new HttpResponse(status, "application/json", Encoding.UTF8.GetBytes(sb.ToString()),
        [
            new("X-Content-Type-Options", "nosniff"),
            new("X-Load-Balancing-Endpoint-Weight", localEndpoints.ToString(CultureInfo.InvariantCulture)),
        ]);
    }

    private static string JsonString(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    /// <summary>Any path answers, as upstream's handler is mounted on "/".</summary>
    private HttpResponse Handle(ServiceName service)
    {
        int count;
        lock (_lock)
        {
            if (!_services.ContainsKey(service))
            {
                // Closed between accept and request; upstream answers nothing useful either.
                return HttpResponse.Text(503, "health check closed\n");
            }

            count = _endpoints.GetValueOrDefault(service);
        }

        return Render(service, count, _proxyHealthy());
    }

    private void OpenMissing()
    {
        var failed = false;
        foreach (var (name, port) in _wanted)
        {
            if (_services.ContainsKey(name))
            {
                continue;
            }

            var servers = new List<TinyHttpServer>(_addresses.Count);
            try
            {
                foreach (var ip in _addresses)
                {
                    var svc = name;
                    servers.Add(TinyHttpServer.Start(new IPEndPoint(ip, port), _ => Handle(svc), _logger));
                }
            }
            catch (SocketException ex)
            {
                // Close what opened so a retry (or another owner of the port) starts clean.
                CloseAll([new Instance(port, servers)]);
                failed = true;
                Log.ListenFailed(_logger, ex, _nodeName, name, port);
                _events?.Record(
                    new V1ObjectReference { Kind = "Service", NamespaceProperty = name.Namespace, Name = name.Name, ApiVersion = "v1" },
                    "Warning",
                    "FailedToStartServiceHealthcheck",
                    $"node {_nodeName} failed to start healthcheck \"{name}\" on port {port}: {ex.Message}");
                continue;
            }

            Log.Opened(_logger, name, port);
            _services[name] = new Instance(port, servers);
        }

        _retryTimer.Change(failed ? RetryInterval : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void RetryFailed()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                OpenMissing();
            }
        }
    }

    private static void CloseAll(IEnumerable<Instance> instances)
    {
        foreach (var inst in instances)
        {
            foreach (var s in inst.Servers)
            {
                // The port is free when Close returns, so a changed port or a retry can bind at once.
                s.Close();
            }
        }
    }

    private sealed record Instance(int Port, List<TinyHttpServer> Servers);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Opened healthcheck for {Service} on port {Port}")]
        public static partial void Opened(ILogger logger, ServiceName service, int port);

        [LoggerMessage(Level = LogLevel.Information, Message = "Closing healthcheck for {Service} on port {Port}")]
        public static partial void Closing(ILogger logger, ServiceName service, int port);

        [LoggerMessage(Level = LogLevel.Error, Message = "Node {Node} failed to start healthcheck {Service} on port {Port}; retrying")]
        public static partial void ListenFailed(ILogger logger, Exception exception, string node, ServiceName service, int port);
    }
}
