using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Cache;
using Switchboard.Client.Events;

namespace Switchboard.Proxy.Userspace;

/// <summary>How the publisher reaches a LoadBalancer IP: sockets made where that IP is routed (the underlay).</summary>
internal interface IBackendDialer
{
    /// <summary>A TCP connection to <paramref name="backend"/>.</summary>
    Task<Socket> ConnectTcpAsync(IPEndPoint backend, CancellationToken ct);

    /// <summary>A UDP socket connected to <paramref name="backend"/>.</summary>
    Task<Socket> ConnectUdpAsync(IPEndPoint backend, CancellationToken ct);
}

/// <summary>
/// Publishes LoadBalancer Services on the host (ARCHITECTURE.md §2): every port of every Service with ingress IPs
/// is served on <c>&lt;lb-host-address&gt;:&lt;port&gt;</c> for its IPv4 ingress IP and on <c>[::1]:&lt;port&gt;</c> for
/// its IPv6 one, TCP and UDP, forwarding to <c>&lt;LB IP&gt;:&lt;port&gt;</c> through <see cref="IBackendDialer"/>,
/// so traffic enters a node through its nftables like external traffic. A port that cannot be bound (taken by
/// another program, or by an older Service on the same host address) is reported in
/// status.loadBalancer.ingress[].ports[].error with a Warning Event and retried; it never stops the publisher.
/// </summary>
internal sealed partial class HostPublisher : IResourceEventHandler<V1Service>, IAsyncDisposable
{
    public const string PortInUse = "PortInUse";

    private readonly Kubernetes _client;
    private readonly IBackendDialer _dialer;
    private readonly IPAddress _hostV4;
    private readonly IPAddress _hostV6;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Reflector<V1Service> _reflector;
    private readonly EventRecorder _recorder;
    private readonly SemaphoreSlim _dirty = new(0, 1);
    private readonly Dictionary<ListenKey, Published> _published = [];
    private readonly Dictionary<string, string> _reportedErrors = new(StringComparer.Ordinal);

    /// <summary>One relay (splice loops) shared by every published TCP port.</summary>
    private readonly TcpRelay _relay;

    public HostPublisher(Kubernetes client, IBackendDialer dialer, IPAddress hostV4, IPAddress hostV6, ILoggerFactory loggers, TimeProvider time, TcpRelayOptions? relay = null)
    {
        _relay = TcpRelay.Create(relay);
        _client = client;
        _dialer = dialer;
        _hostV4 = hostV4;
        _hostV6 = hostV6;
        _time = time;
        _logger = loggers.CreateLogger<HostPublisher>();
        _recorder = new EventRecorder(client, "switchboard-lb-publisher", _logger, time);
        _reflector = new Reflector<V1Service>(client, ResourceRequest.For<V1Service>(), this, logger: _logger, timeProvider: time);
    }

    /// <summary>True when published TCP ports are relayed with splice(2).</summary>
    public bool UsesSplice => _relay.UsesSplice;

    /// <summary>What is published now: host endpoint and protocol → LB endpoint.</summary>
    public IReadOnlyDictionary<string, string> Snapshot()
    {
        lock (_published)
        {
            return _published.ToDictionary(p => p.Key.ToString(), p => p.Value.Backend.ToString(), StringComparer.Ordinal);
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var reflector = _reflector.RunAsync(ct);
        var events = _recorder.RunAsync(ct);
        try
        {
            await _reflector.WaitForSyncAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                var failures = await ReconcileAsync(ct).ConfigureAwait(false);
                // Failed binds are retried every few seconds; otherwise wait for the next change.
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (failures)
                {
                    wait.CancelAfter(TimeSpan.FromSeconds(5));
                }
                try
                {
                    await _dirty.WaitAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var task in new[] { reflector, events })
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Published> all;
        lock (_published)
        {
            all = [.. _published.Values];
            _published.Clear();
        }
        foreach (var p in all)
        {
            await p.DisposeAsync().ConfigureAwait(false);
        }
        await _relay.DisposeAsync().ConfigureAwait(false);
        _dirty.Dispose();
    }

    public void OnAdd(V1Service obj) => Signal();

    public void OnUpdate(V1Service oldObj, V1Service newObj) => Signal();

    public void OnDelete(V1Service obj) => Signal();

    private void Signal()
    {
        if (_dirty.CurrentCount == 0)
        {
            try
            {
                _dirty.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    /// <summary>The listeners every Service asks for, older Services first so they win a clash.</summary>
    internal static List<(ListenKey Key, IPEndPoint Backend, V1Service Service, string IngressIp)> Desired(IEnumerable<V1Service> services, IPAddress hostV4, IPAddress hostV6)
    {
        var result = new List<(ListenKey, IPEndPoint, V1Service, string)>();
        foreach (var svc in services.Where(s => s.Spec?.Type == "LoadBalancer")
            .OrderBy(s => s.Metadata.CreationTimestamp).ThenBy(s => s.Metadata.NamespaceProperty, StringComparer.Ordinal).ThenBy(s => s.Metadata.Name, StringComparer.Ordinal))
        {
            foreach (var ingress in svc.Status?.LoadBalancer?.Ingress ?? [])
            {
                if (!IPAddress.TryParse(ingress.Ip, out var ip))
                {
                    continue;
                }
                var host = ip.AddressFamily == AddressFamily.InterNetwork ? hostV4 : hostV6;
                foreach (var port in svc.Spec.Ports ?? [])
                {
                    var protocol = port.Protocol ?? "TCP";
                    if (protocol is "TCP" or "UDP")
                    {
                        result.Add((new ListenKey(new IPEndPoint(host, port.Port), protocol), new IPEndPoint(ip, port.Port), svc, ingress.Ip));
                    }
                }
            }
        }
        return result;
    }

    /// <summary>One pass; true when some port could not be published (retry soon).</summary>
    private async Task<bool> ReconcileAsync(CancellationToken ct)
    {
        var desired = Desired(_reflector.Store.Snapshot(), _hostV4, _hostV6);
        var winners = new Dictionary<ListenKey, (IPEndPoint Backend, V1Service Service, string Ip)>();
        // Service key → ingress IP → failed "port/protocol" → message.
        var errors = new Dictionary<string, Dictionary<string, Dictionary<(int, string), string>>>(StringComparer.Ordinal);
        foreach (var (key, backend, svc, ip) in desired)
        {
            if (winners.TryGetValue(key, out var owner))
            {
                if (!owner.Backend.Equals(backend))
                {
                    AddError(errors, svc, ip, key, $"port {key.Endpoint.Port}/{key.Protocol} on {key.Endpoint.Address} is already published for Service {owner.Service.Metadata.NamespaceProperty}/{owner.Service.Metadata.Name}");
                }
                continue;
            }
            winners[key] = (backend, svc, ip);
        }

        List<Published> stopped = [];
        lock (_published)
        {
            foreach (var (key, published) in _published.ToList())
            {
                if (!winners.TryGetValue(key, out var w) || !w.Backend.Equals(published.Backend))
                {
                    _published.Remove(key);
                    stopped.Add(published);
                }
            }
        }
        foreach (var p in stopped)
        {
            await p.DisposeAsync().ConfigureAwait(false);
            Log.Unpublished(_logger, p.Key.Endpoint, p.Key.Protocol);
        }

        foreach (var (key, (backend, svc, ip)) in winners)
        {
            lock (_published)
            {
                if (_published.ContainsKey(key))
                {
                    continue;
                }
            }
            try
            {
                var published = Publish(key, backend);
                lock (_published)
                {
                    _published[key] = published;
                }
                Log.Published(_logger, key.Endpoint, key.Protocol, backend);
            }
            catch (SocketException e)
            {
                AddError(errors, svc, ip, key, $"cannot publish port {key.Endpoint.Port}/{key.Protocol} on {key.Endpoint.Address}: {e.Message}; retrying");
            }
        }

        await ReportAsync(errors, ct).ConfigureAwait(false);
        return errors.Count > 0;
    }

    private static void AddError(Dictionary<string, Dictionary<string, Dictionary<(int, string), string>>> errors, V1Service svc, string ip, ListenKey key, string message)
    {
        var svcKey = svc.Metadata.NamespaceProperty + "/" + svc.Metadata.Name;
        if (!errors.TryGetValue(svcKey, out var byIp))
        {
            errors[svcKey] = byIp = new(StringComparer.Ordinal);
        }
        if (!byIp.TryGetValue(ip, out var ports))
        {
            byIp[ip] = ports = [];
        }
        ports[(key.Endpoint.Port, key.Protocol)] = message;
    }

    private Published Publish(ListenKey key, IPEndPoint backend)
    {
        if (key.Protocol == "TCP")
        {
            var listener = new Socket(key.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                listener.Bind(key.Endpoint);
                listener.Listen(1024);
            }
            catch
            {
                listener.Dispose();
                throw;
            }
            return new Published(key, backend, new TcpForwarder(listener, ct => _dialer.ConnectTcpAsync(backend, ct), _relay), null);
        }
        var udp = new Socket(key.Endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            udp.Bind(key.Endpoint);
        }
        catch
        {
            udp.Dispose();
            throw;
        }
        return new Published(key, backend, null, new UdpRelay(udp, ct => _dialer.ConnectUdpAsync(backend, ct), _time));
    }

    /// <summary>Writes ports[].error for failed ports (and clears fixed ones), with one Warning Event per new error.</summary>
    private async Task ReportAsync(Dictionary<string, Dictionary<string, Dictionary<(int, string), string>>> errors, CancellationToken ct)
    {
        foreach (var svc in _reflector.Store.Snapshot().Where(s => s.Spec?.Type == "LoadBalancer"))
        {
            var svcKey = svc.Metadata.NamespaceProperty + "/" + svc.Metadata.Name;
            var mine = errors.GetValueOrDefault(svcKey);
            var ingress = svc.Status?.LoadBalancer?.Ingress ?? [];
            var changed = false;
            var updated = ingress.Select(i =>
            {
                var failed = mine?.GetValueOrDefault(i.Ip ?? "");
                List<V1PortStatus>? ports = failed is null ? null : [.. failed.Keys.OrderBy(k => k.Item1).ThenBy(k => k.Item2, StringComparer.Ordinal).Select(k => new V1PortStatus { Port = k.Item1, Protocol = k.Item2, Error = PortInUse })];
                var before = string.Join(',', (i.Ports ?? []).Select(p => p.Port + "/" + p.Protocol + "=" + p.Error));
                var after = string.Join(',', (ports ?? []).Select(p => p.Port + "/" + p.Protocol + "=" + p.Error));
                changed |= before != after;
                return new V1LoadBalancerIngress { Ip = i.Ip, Hostname = i.Hostname, IpMode = i.IpMode, Ports = ports };
            }).ToList();
            foreach (var (ip, ports) in mine ?? [])
            {
                foreach (var ((port, protocol), message) in ports)
                {
                    var id = svcKey + "|" + ip + "|" + port + "/" + protocol;
                    if (_reportedErrors.GetValueOrDefault(id) != message)
                    {
                        _reportedErrors[id] = message;
                        _recorder.Record(EventRecorder.Reference(svc, "v1", "Service"), "Warning", PortInUse, message);
                        Log.PublishFailed(_logger, svcKey, message);
                    }
                }
            }
            if (!changed)
            {
                continue;
            }
            var copy = KubernetesJson.Deserialize<V1Service>(KubernetesJson.Serialize(svc));
            copy.Status.LoadBalancer.Ingress = updated;
            try
            {
                await _client.CoreV1.ReplaceNamespacedServiceStatusAsync(copy, copy.Metadata.Name, copy.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException)
            {
                // A conflict or a blip: the watch brings the newer object and the next pass writes again.
                Log.StatusFailed(_logger, svcKey, e.Message);
                Signal();
            }
        }
        foreach (var id in _reportedErrors.Keys.ToList())
        {
            var parts = id.Split('|');
            var port = parts[2].Split('/');
            if (errors.GetValueOrDefault(parts[0])?.GetValueOrDefault(parts[1])?.ContainsKey((int.Parse(port[0], System.Globalization.CultureInfo.InvariantCulture), port[1])) != true)
            {
                _reportedErrors.Remove(id);
            }
        }
    }

    internal readonly record struct ListenKey(IPEndPoint Endpoint, string Protocol)
    {
        public override string ToString() => Endpoint + "/" + Protocol;
    }

    private sealed class Published(ListenKey key, IPEndPoint backend, TcpForwarder? tcp, UdpRelay? udp) : IAsyncDisposable
    {
        public ListenKey Key { get; } = key;

        public IPEndPoint Backend { get; } = backend;

        public async ValueTask DisposeAsync()
        {
            if (tcp is not null)
            {
                await tcp.DisposeAsync().ConfigureAwait(false);
            }
            if (udp is not null)
            {
                await udp.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "published {Listen}/{Protocol} → {Backend}")]
        public static partial void Published(ILogger logger, IPEndPoint listen, string protocol, IPEndPoint backend);

        [LoggerMessage(Level = LogLevel.Information, Message = "unpublished {Listen}/{Protocol}")]
        public static partial void Unpublished(ILogger logger, IPEndPoint listen, string protocol);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Service {Service}: {Message}")]
        public static partial void PublishFailed(ILogger logger, string service, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "could not write the publish status of {Service}: {Error}")]
        public static partial void StatusFailed(ILogger logger, string service, string error);
    }
}
