using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Switchboard.Dns.AutoPath;
using Switchboard.Dns.Cache;
using Switchboard.Dns.Forward;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Server;

namespace Switchboard.Dns;

/// <summary>
/// `switchboard dns` composed: the Kubernetes feed fills the <see cref="ZoneIndex"/>; UDP and TCP transports on every
/// `--listen` address run the <see cref="DnsPipeline"/>; /metrics, /health and /ready are served beside them.
/// </summary>
internal sealed partial class DnsServer : IAsyncDisposable
{
    private const int MaxBindAttempts = 20;

    private readonly List<UdpTransport> _udp = [];
    private readonly List<TcpTransport> _tcp = [];
    private readonly List<HttpEndpoint> _http = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private Forwarder? _forwarder;
    private MemoryTrimmer? _trimmer;
    private KubernetesFeed? _feed;
    private Task _publisher = Task.CompletedTask;
    private int _stopping;

    private DnsServer(ZoneIndex index, DnsMetrics metrics, ILogger logger, TimeProvider time)
    {
        Index = index;
        Metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public ZoneIndex Index { get; }

    public DnsMetrics Metrics { get; }

    public DnsPipeline Pipeline { get; private set; } = null!;

    /// <summary>The DNS addresses actually bound (UDP and TCP share each port).</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => [.. _udp.Select(u => u.LocalEndPoint)];

    public IPEndPoint? MetricsEndPoint { get; private set; }

    public IPEndPoint? HealthEndPoint { get; private set; }

    public IPEndPoint? ReadyEndPoint { get; private set; }

    public IReadOnlyList<IPEndPoint> Upstreams => _forwarder?.Upstreams ?? [];

    /// <summary>Synced and not shutting down: what /ready reports.</summary>
    public bool IsReady => Index.Current.Synced && Volatile.Read(ref _stopping) == 0;

    /// <summary>
    /// Binds every listener and starts answering. With <paramref name="client"/> the zone is fed by list+watch; without
    /// one the caller feeds <paramref name="index"/> itself (tests).
    /// </summary>
    public static DnsServer Start(DnsOptions options, k8s.Kubernetes? client, ILoggerFactory loggers, TimeProvider time, ZoneIndex? index = null)
    {
        options.Validate();
        var logger = loggers.CreateLogger("Switchboard.Dns");
        var listen = options.Listen.Select(ListenAddress.Parse).ToList();
        var upstream = UpstreamConfig.Parse(options.Upstream, path => File.Exists(path) ? File.ReadAllText(path) : null);
        var version = typeof(DnsServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

        var sockets = new List<(Socket Udp, Socket Tcp)>();
        try
        {
            foreach (var address in listen)
            {
                sockets.Add(Bind(address));
            }
        }
        catch
        {
            foreach (var (udp, tcp) in sockets)
            {
                udp.Dispose();
                tcp.Dispose();
            }
            throw;
        }
        var bound = sockets.Select(s => (IPEndPoint)s.Udp.LocalEndPoint!).ToList();

        // Loop protection, part one: never forward to ourselves (e.g. resolv.conf naming 127.0.0.1 while we own :53).
        var upstreams = new List<IPEndPoint>();
        foreach (var u in upstream.Servers)
        {
            if (bound.Any(b => b.Port == u.Port && (b.Address.Equals(u.Address) || ((b.Address.Equals(IPAddress.Any) || b.Address.Equals(IPAddress.IPv6Any)) && (IPAddress.IsLoopback(u.Address) || u.Address.Equals(IPAddress.Any) || u.Address.Equals(IPAddress.IPv6Any))))))
            {
                Log.SelfUpstream(logger, u);
                continue;
            }
            upstreams.Add(u);
        }

        var metrics = new DnsMetrics("dns://" + listen[0], [.. upstreams.Select(u => u.ToString())], version);
        index ??= new ZoneIndex(options.ClusterDomain, time, [.. bound.Select(b => b.Address).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any))]);
        var server = new DnsServer(index, metrics, logger, time);
        server.Build(options, upstreams, upstream.Search, sockets, client, loggers);
        return server;
    }

    /// <summary>True once a forwarding loop has been seen (forwarding is then off).</summary>
    public bool LoopDetected => _forwarder?.LoopDetected == true;

    /// <summary>Sends the loop probe again (it is sent once at start).</summary>
    internal Task ProbeForLoopAsync() => _forwarder?.ProbeAsync() ?? Task.CompletedTask;

    /// <summary>Completes when the zone has been listed and published once.</summary>
    public Task WaitReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>Stops: /ready turns 503 at once, queries are still answered for <paramref name="lameduck"/>, then everything closes.</summary>
    public async ValueTask StopAsync(TimeSpan lameduck)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }
        if (lameduck > TimeSpan.Zero)
        {
            Log.Lameduck(_logger, lameduck);
            await Task.Delay(lameduck, _time).ConfigureAwait(false);
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _trimmer?.Dispose();
        foreach (var udp in _udp)
        {
            udp.Dispose();
        }
        foreach (var tcp in _tcp)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var http in _http)
        {
            await http.DisposeAsync().ConfigureAwait(false);
        }
        if (_feed is not null)
        {
            await _feed.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            await _publisher.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_forwarder is not null)
        {
            await _forwarder.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        _stop.Dispose();
    }

    private void Build(DnsOptions options, List<IPEndPoint> upstreams, IReadOnlyList<string> search, List<(Socket Udp, Socket Tcp)> sockets, k8s.Kubernetes? client, ILoggerFactory loggers)
    {
        var ttl = (uint)options.Ttl;
        _forwarder = new Forwarder(upstreams, new ForwardOptions { AttemptTimeout = options.ForwardTimeout, MaxConcurrent = options.MaxConcurrentForwards }, _time, Metrics, loggers.CreateLogger("Switchboard.Dns.Forward"));
        var zone = new ClusterZone(Index, ttl, options.Pods, reverseFallthrough: upstreams.Count > 0);
        var cache = upstreams.Count > 0 ? new ResponseCache(options.CacheCapacity, _time, Metrics) : null;
        var autopath = options.AutoPath ? new AutoPathHandler(zone, search, ttl, Metrics) : null;
        Pipeline = new DnsPipeline(zone, cache, _forwarder, autopath, Metrics, options.MaxUdpPayload, _time, loggers.CreateLogger("Switchboard.Dns.Server"));

        Index.Published += latencies =>
        {
            foreach (var (latency, kind) in latencies)
            {
                Metrics.Programming(latency, kind);
            }
            if (Index.Current.Synced)
            {
                _ready.TrySetResult();
            }
        };
        if (Index.Current.Synced)
        {
            _ready.TrySetResult(); // an index fed and published by the caller (tests)
        }
        if (options.TrimAfterQuiet > TimeSpan.Zero)
        {
            _trimmer = new MemoryTrimmer(Index, _time, options.TrimAfterQuiet, minInterval: TimeSpan.FromSeconds(10));
        }
        _publisher = Index.RunPublisherAsync(ex => Log.PublishFailed(_logger, ex), _stop.Token);

        var serverLogger = loggers.CreateLogger("Switchboard.Dns.Server");
        foreach (var (udp, tcp) in sockets)
        {
            var u = new UdpTransport(udp, Pipeline, options.UdpWorkers, _time, serverLogger, _stop.Token);
            var t = new TcpTransport(tcp, Pipeline, options.TcpIdleTimeout, options.MaxTcpConnections, _time, serverLogger);
            _udp.Add(u);
            _tcp.Add(t);
            u.Start();
            t.Start();
            Log.Listening(_logger, u.LocalEndPoint);
        }

        var httpLogger = loggers.CreateLogger("Switchboard.Dns.Metrics");
        MetricsEndPoint = StartHttp(options.MetricsAddress, path => path == "/metrics"
            ? new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", Metrics.Render())
            : new HttpReply(404, "text/plain", "not found\n"), httpLogger);
        // /health is liveness: OK while the process serves, even during lameduck (CoreDNS health plugin).
        HealthEndPoint = StartHttp(options.HealthAddress, path => path == "/health"
            ? new HttpReply(200, "text/plain", "OK")
            : new HttpReply(404, "text/plain", "not found\n"), httpLogger);
        ReadyEndPoint = StartHttp(options.ReadyAddress, path => path != "/ready"
            ? new HttpReply(404, "text/plain", "not found\n")
            : IsReady ? new HttpReply(200, "text/plain", "OK") : new HttpReply(503, "text/plain", "kubernetes\n"), httpLogger);

        _forwarder.Start();
        if (client is not null)
        {
            _feed = new KubernetesFeed(client, Index, watchPods: options.Pods == PodsMode.Verified || options.AutoPath, loggers, _time);
            _feed.Start();
        }
    }

    private IPEndPoint? StartHttp(string? address, Func<string, HttpReply> handler, ILogger logger)
    {
        if (string.IsNullOrEmpty(address))
        {
            return null;
        }
        var listen = ListenAddress.Parse(address);
        var endPoint = new IPEndPoint(listen.Address ?? IPAddress.IPv6Any, listen.Port);
        HttpEndpoint http;
        try
        {
            http = HttpEndpoint.Start(endPoint, handler, _time, logger);
        }
        catch (SocketException) when (listen.Any)
        {
            http = HttpEndpoint.Start(new IPEndPoint(IPAddress.Any, listen.Port), handler, _time, logger); // no IPv6 here
        }
        _http.Add(http);
        return http.LocalEndPoint;
    }

    /// <summary>
    /// UDP and TCP on one port. For port 0 the UDP socket picks the port and TCP must get the same one; if another
    /// process holds that TCP port, both are closed and the pair is tried again.
    /// </summary>
    internal static (Socket Udp, Socket Tcp) Bind(ListenAddress address)
    {
        for (var attempt = 0; ; attempt++)
        {
            var udp = CreateSocket(address, SocketType.Dgram, out var endPoint);
            try
            {
                TryBuffer(udp);
                udp.Bind(endPoint);
                var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
                var tcp = CreateSocket(address, SocketType.Stream, out var tcpEndPoint);
                try
                {
                    tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    tcp.Bind(new IPEndPoint(tcpEndPoint.Address, port));
                    tcp.Listen(512);
                    return (udp, tcp);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && address.Port == 0 && attempt < MaxBindAttempts)
                {
                    tcp.Dispose();
                    udp.Dispose();
                }
                catch
                {
                    tcp.Dispose();
                    throw;
                }
            }
            catch
            {
                udp.Dispose();
                throw;
            }
        }
    }

    private static Socket CreateSocket(ListenAddress address, SocketType type, out IPEndPoint endPoint)
    {
        var protocol = type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp;
        if (address.Address is { } ip)
        {
            endPoint = new IPEndPoint(ip, address.Port);
            return new Socket(ip.AddressFamily, type, protocol);
        }
        if (Socket.OSSupportsIPv6)
        {
            try
            {
                endPoint = new IPEndPoint(IPAddress.IPv6Any, address.Port);
                return new Socket(AddressFamily.InterNetworkV6, type, protocol) { DualMode = true };
            }
            catch (SocketException)
            {
                // IPv6 disabled in this namespace: fall back to IPv4 only.
            }
        }
        endPoint = new IPEndPoint(IPAddress.Any, address.Port);
        return new Socket(AddressFamily.InterNetwork, type, protocol);
    }

    private static void TryBuffer(Socket udp)
    {
        try
        {
            // Room for bursts while both workers are busy; the kernel caps it at net.core.rmem_max.
            udp.ReceiveBufferSize = 4 << 20;
            udp.SendBufferSize = 1 << 20;
        }
        catch (SocketException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Serving DNS on {EndPoint} (UDP and TCP)")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint);

        [LoggerMessage(2, LogLevel.Warning, "Upstream {Upstream} is this server's own address; skipped to avoid a forwarding loop")]
        public static partial void SelfUpstream(ILogger logger, IPEndPoint upstream);

        [LoggerMessage(3, LogLevel.Error, "Publishing the cluster zone failed; the previous snapshot stays in use")]
        public static partial void PublishFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Information, "Stopping: /ready reports 503, still answering for {Lameduck}")]
        public static partial void Lameduck(ILogger logger, TimeSpan lameduck);
    }
}
