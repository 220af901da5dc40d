using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Cache;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Embedded;

/// <summary>One LoadBalancer IP and the node IPs (same family) that should carry its traffic.</summary>
internal sealed record LoadBalancerRoute(string Ip, IReadOnlyList<string> NextHops)
{
    public bool Same(LoadBalancerRoute other) => Ip == other.Ip && NextHops.SequenceEqual(other.NextHops);
}

/// <summary>
/// The routing half of the built-in LoadBalancer (ARCHITECTURE.md §2): every LB ingress IP gets an ECMP route
/// in the underlay over the nodes that are healthy for it — a node's proxy `/healthz` (port 10256) for
/// externalTrafficPolicy Cluster, the Service's healthCheckNodePort for Local, as cloud load balancers check.
/// Health is probed from the underlay every second; routes carry protocol <see cref="RouteProtocol"/> so a
/// crashed run's routes are swept at start. An IP with no healthy node has no route (dials fail fast).
/// </summary>
internal sealed partial class LoadBalancerRoutes : IResourceEventHandler<V1Service>, IResourceEventHandler<V1Node>, IDisposable
{
    public const string RouteProtocol = "77";
    public const int ProxyHealthPort = 10256;

    private readonly ICommandRunner _runner;
    private readonly string _underlay;
    private readonly Func<IPEndPoint, string, CancellationToken, Task<bool>> _probe;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Reflector<V1Service> _services;
    private readonly Reflector<V1Node> _nodes;
    private readonly Dictionary<string, LoadBalancerRoute> _programmed = new(StringComparer.Ordinal);

    /// <param name="probe">HTTP GET of a path at an endpoint from the underlay; true on 200.</param>
    public LoadBalancerRoutes(Kubernetes client, ICommandRunner runner, string underlay, Func<IPEndPoint, string, CancellationToken, Task<bool>> probe, ILoggerFactory loggers, TimeProvider time)
    {
        _runner = runner;
        _underlay = underlay;
        _probe = probe;
        _time = time;
        _logger = loggers.CreateLogger<LoadBalancerRoutes>();
        _services = new Reflector<V1Service>(client, ResourceRequest.For<V1Service>(), this, logger: _logger, timeProvider: time);
        _nodes = new Reflector<V1Node>(client, ResourceRequest.For<V1Node>(), this, logger: _logger, timeProvider: time);
    }

    public IReadOnlyCollection<LoadBalancerRoute> Programmed
    {
        get
        {
            lock (_programmed)
            {
                return [.. _programmed.Values];
            }
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var tasks = new[] { _services.RunAsync(ct), _nodes.RunAsync(ct) };
        try
        {
            await Task.WhenAll(_services.WaitForSyncAsync(ct), _nodes.WaitForSyncAsync(ct)).ConfigureAwait(false);
            await SweepAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                var desired = await DesiredAsync(ct).ConfigureAwait(false);
                await ApplyAsync(desired, ct).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var t in tasks)
            {
                try
                {
                    await t.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    public void Dispose()
    {
    }

    // Changes are picked up by the once-a-second pass; the handlers only keep the caches current.
    public void OnAdd(V1Service obj)
    {
    }

    public void OnUpdate(V1Service oldObj, V1Service newObj)
    {
    }

    public void OnDelete(V1Service obj)
    {
    }

    public void OnAdd(V1Node obj)
    {
    }

    public void OnUpdate(V1Node oldObj, V1Node newObj)
    {
    }

    public void OnDelete(V1Node obj)
    {
    }

    /// <summary>What the routes should be, probing each candidate (node, health port) once per pass.</summary>
    internal async Task<Dictionary<string, LoadBalancerRoute>> DesiredAsync(CancellationToken ct)
    {
        var nodes = _nodes.Store.Snapshot()
            .Where(n => n.Metadata.DeletionTimestamp is null && n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
            .OrderBy(n => n.Metadata.Name, StringComparer.Ordinal)
            .ToList();
        var wanted = new List<(string Ip, AddressFamily Family, int HealthPort, string Path)>();
        foreach (var svc in _services.Store.Snapshot().Where(s => s.Spec?.Type == "LoadBalancer"))
        {
            var local = svc.Spec.ExternalTrafficPolicy == "Local" && svc.Spec.HealthCheckNodePort is > 0;
            foreach (var ingress in svc.Status?.LoadBalancer?.Ingress ?? [])
            {
                if (IPAddress.TryParse(ingress.Ip, out var ip))
                {
                    wanted.Add((ip.ToString(), ip.AddressFamily, local ? svc.Spec.HealthCheckNodePort!.Value : ProxyHealthPort, local ? "/" : "/healthz"));
                }
            }
        }
        // Probe every distinct (node IP, port, path) concurrently.
        var probes = new Dictionary<(string, int, string), Task<bool>>();
        foreach (var (_, family, port, path) in wanted)
        {
            foreach (var nodeIp in nodes.Select(n => NodeIp(n, family)).OfType<string>())
            {
                var key = (nodeIp, port, path);
                if (!probes.ContainsKey(key))
                {
                    probes[key] = SafeProbe(new IPEndPoint(IPAddress.Parse(nodeIp), port), path, ct);
                }
            }
        }
        await Task.WhenAll(probes.Values).ConfigureAwait(false);
        var desired = new Dictionary<string, LoadBalancerRoute>(StringComparer.Ordinal);
        foreach (var (ip, family, port, path) in wanted)
        {
            var hops = nodes.Select(n => NodeIp(n, family)).OfType<string>().Where(h => probes[(h, port, path)].Result).ToList();
            if (hops.Count > 0 && !desired.ContainsKey(ip))
            {
                desired[ip] = new LoadBalancerRoute(ip, hops);
            }
        }
        return desired;
    }

    private async Task<bool> SafeProbe(IPEndPoint endpoint, string path, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            return await _probe(endpoint, path, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private static string? NodeIp(V1Node node, AddressFamily family) =>
        node.Status?.Addresses?.Where(a => a.Type == "InternalIP" && IPAddress.TryParse(a.Address, out var ip) && ip.AddressFamily == family).Select(a => a.Address).FirstOrDefault();

    private async Task ApplyAsync(Dictionary<string, LoadBalancerRoute> desired, CancellationToken ct)
    {
        List<LoadBalancerRoute> current;
        lock (_programmed)
        {
            current = [.. _programmed.Values];
        }
        foreach (var route in current.Where(r => !desired.ContainsKey(r.Ip)))
        {
            var r = await IpAsync(route.Ip, ["route", "del", Host(route.Ip), "proto", RouteProtocol], ct).ConfigureAwait(false);
            if (r.Ok || r.Stderr.Contains("No such process", StringComparison.Ordinal))
            {
                lock (_programmed)
                {
                    _programmed.Remove(route.Ip);
                }
                Log.Removed(_logger, route.Ip);
            }
        }
        foreach (var route in desired.Values)
        {
            lock (_programmed)
            {
                if (_programmed.TryGetValue(route.Ip, out var have) && have.Same(route))
                {
                    continue;
                }
            }
            List<string> args = ["route", "replace", Host(route.Ip), "proto", RouteProtocol];
            if (route.NextHops.Count == 1)
            {
                args.AddRange(["via", route.NextHops[0]]);
            }
            else
            {
                foreach (var hop in route.NextHops)
                {
                    args.AddRange(["nexthop", "via", hop]);
                }
            }
            var r = await IpAsync(route.Ip, args, ct).ConfigureAwait(false);
            if (r.Ok)
            {
                lock (_programmed)
                {
                    _programmed[route.Ip] = route;
                }
                Log.Routed(_logger, route.Ip, route.NextHops);
            }
            else
            {
                Log.Failed(_logger, route.Ip, r.Stderr);
            }
        }
    }

    private async Task SweepAsync(CancellationToken ct)
    {
        foreach (var v6 in (bool[])[false, true])
        {
            List<string> args = ["-n", _underlay];
            if (v6)
            {
                args.Add("-6");
            }
            args.AddRange(["-j", "route", "show", "proto", RouteProtocol]);
            var list = await _runner.RunAsync("ip", args, ct).ConfigureAwait(false);
            if (!list.Ok)
            {
                continue;
            }
            foreach (var dst in Routing.PodCidrRouteSyncer.ParseDestinations(list.Stdout))
            {
                await IpAsync(dst, ["route", "del", dst.Contains('/', StringComparison.Ordinal) ? dst : Host(dst), "proto", RouteProtocol], ct).ConfigureAwait(false);
            }
        }
    }

    private static string Host(string ip) => ip + (ip.Contains(':', StringComparison.Ordinal) ? "/128" : "/32");

    private Task<CommandResult> IpAsync(string ip, IReadOnlyList<string> args, CancellationToken ct)
    {
        List<string> all = ["-n", _underlay];
        if (ip.Contains(':', StringComparison.Ordinal))
        {
            all.Add("-6");
        }
        all.AddRange(args);
        return _runner.RunAsync("ip", all, ct);
    }

    /// <summary>The default probe: HTTP GET from sockets made in the underlay.</summary>
    public static Func<IPEndPoint, string, CancellationToken, Task<bool>> HttpProbe(Func<IPEndPoint, CancellationToken, Task<Socket>> connect)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
            ConnectCallback = async (context, ct) =>
            {
                var endpoint = new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host.Trim('[', ']')), context.DnsEndPoint.Port);
                return new NetworkStream(await connect(endpoint, ct).ConfigureAwait(false), ownsSocket: true);
            },
        };
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        return async (endpoint, path, ct) =>
        {
            var host = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + endpoint.Address + "]" : endpoint.Address.ToString();
            using var response = await http.GetAsync(new Uri("http://" + host + ":" + endpoint.Port.ToString(CultureInfo.InvariantCulture) + path), ct).ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK;
        };
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "load balancer IP {Ip} via {NextHops}")]
        public static partial void Routed(ILogger logger, string ip, IReadOnlyList<string> nextHops);

        [LoggerMessage(Level = LogLevel.Information, Message = "load balancer IP {Ip} has no healthy node; route removed")]
        public static partial void Removed(ILogger logger, string ip);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot route load balancer IP {Ip}: {Error}")]
        public static partial void Failed(ILogger logger, string ip, string error);
    }
}
