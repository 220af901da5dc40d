using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;
using Switchboard.ApiServer.Security;
using Switchboard.Cli.AddOns;
using Switchboard.Cli.Logging;
using Switchboard.Controllers.Hosting;
using Switchboard.Node.Embedded;
using Switchboard.Node.Linux;
using Switchboard.Node.Routing;
using Switchboard.Proxy.Userspace;
using Switchboard.Node.Topology;

namespace Switchboard.Cli;

/// <summary>
/// `switchboard up` (ARCHITECTURE.md §2): the node topology, the control plane (also listening on the underlay
/// gateway), one agent per node; prints the ready line once every Node is Ready and removes everything on
/// Ctrl-C/SIGTERM.
/// </summary>
internal static partial class UpRunner
{
    /// <summary>The LB pool of `up` when --lb-pool is not given (ARCHITECTURE.md §2).</summary>
    public const string DefaultLbPool = "172.18.255.0/24,fd00:172:18:ff::/112";

    public static async Task<int> RunAsync(ApiServerOptions options, UpOptions up, CancellationToken ct)
    {
        var nodes = up.Nodes;
        var zones = up.Zones;
        options.LbPool ??= DefaultLbPool;
        if (GetEuid() != 0)
        {
            await Console.Error.WriteLineAsync("switchboard up: kernel mode needs root (network namespaces); run: sudo switchboard up ...").ConfigureAwait(false);
            return 1;
        }
        var missing = Prerequisites.Missing(Environment.GetEnvironmentVariable("PATH"), "/usr/lib/cni", Prerequisites.IsExecutable);
        if (missing.Count > 0)
        {
            await Console.Error.WriteLineAsync("switchboard up: " + Prerequisites.Describe(missing)).ConfigureAwait(false);
            return 1;
        }
        Directory.CreateDirectory(Path.Combine(options.DataDir, "logs"));
        using var loggerFactory = LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Information);
            b.AddFilter("Microsoft", LogLevel.Warning);
            b.AddProvider(new FileLoggerProvider(Path.Combine(options.DataDir, "logs", "up.log")));
            b.AddProvider(new StderrLoggerProvider(LogLevel.Warning));
        });
        var logger = loggerFactory.CreateLogger("Switchboard.Up");

        // Ctrl-C arrives as ct; SIGTERM is turned into the same stop.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            // The handler runs on its own thread: a late or repeated SIGTERM can race the shutdown that disposes stop.
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        });

        var timeline = new StartupTimeline(logger, TimeProvider.System);
        options.ExtraSans = [.. options.ExtraSans, TopologyPlan.GatewayIpv4, TopologyPlan.GatewayIpv6];
        // Pods reach the API at the kubernetes Service (10.96.0.1:443), whose EndpointSlice lists the advertised underlay gateway.
        if (options.AdvertiseAddresses.Count == 0)
        {
            options.AdvertiseAddresses = [TopologyPlan.GatewayIpv4, TopologyPlan.GatewayIpv6];
        }
        // The PKI (RSA keys on a first start: CPU) is made while the topology's ip commands run; agents need only its
        // CA and token, so they can start before the API server does. The server loads the same files again.
        Pki? pki = null;
        var (cluster, holder) = await EmbeddedCluster.StartAsync(options.DataDir, nodes, zones, new ProcessCommandRunner(), logger, CancellationToken.None,
            () =>
            {
                pki = Pki.LoadOrCreate(Path.Combine(options.DataDir, "pki"), new PkiOptions
                {
                    ClusterDomain = options.ClusterDomain,
                    ServiceCidrs = options.ServiceCidrs,
                    AdvertiseAddresses = options.AdvertiseAddresses,
                    ExtraSans = options.ExtraSans,
                }, TimeProvider.System);
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        if (cluster is null)
        {
            await Console.Error.WriteLineAsync($"switchboard up: already running (pid {holder}) on {options.DataDir}; stop it first or pass another --data-dir").ConfigureAwait(false);
            return 1;
        }
        timeline.Reached("topology");
        await using (cluster.ConfigureAwait(false))
        {
            await Console.Error.WriteLineAsync($"switchboard up: cluster {cluster.Plan.Id}, {nodes} node(s), data dir {options.DataDir}").ConfigureAwait(false);
            // Node IPs live in the underlay: the API server reaches kubelet APIs (exec, logs) from sockets made there.
            using var underlaySockets = new NetnsSocketFactory(cluster.Plan.Underlay);
            options.KubeletDialer = async (endpoint, dialCt) => new System.Net.Sockets.NetworkStream(await underlaySockets.ConnectAsync(endpoint, dialCt).ConfigureAwait(false), ownsSocket: true);
            // The in-cluster API sockets listen from here on (backlog 512): agents started now connect and wait in
            // the backlog until the server accepts, so their own start-up (the longest phase) overlaps the server's.
            options.ExtraListenHandles = cluster.BindApiSockets();
            var agentsStarted = TimeProvider.System.GetUtcNow().UtcDateTime;
            using (pki)
            {
                foreach (var node in cluster.Plan.Nodes)
                {
                    // Admin credentials for now: per-node identities (the Node authorizer) come with the kubelet API work.
                    var kubeconfig = Path.Combine(options.DataDir, "nodes", node.Name, "kubeconfig");
                    Directory.CreateDirectory(Path.GetDirectoryName(kubeconfig)!);
                    Kubeconfig.WriteForNode(kubeconfig, pki!.CaPem, EmbeddedCluster.InClusterServer, pki.AdminToken, node.Name);
                    cluster.StartAgent(node, kubeconfig, up.ClusterDns.ToString(), up.ClusterDomain, options.ClusterCidr, stop.Token);
                }
            }
            timeline.Reached("agents-spawned");
            ApiServerHost host;
            try
            {
                host = await ApiServerHost.StartAsync(options, loggerFactory, TimeProvider.System, stop.Token).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"switchboard up: cannot start the API server on {options.Bind}:{options.Port}: {e.Message}. Stop whatever uses the port or pass --api-port 0.").ConfigureAwait(false);
                return 1;
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync("switchboard up: " + e.Message).ConfigureAwait(false);
                return CliApp.UsageError;
            }
            timeline.Reached("api-ready");
            await using (host.ConfigureAwait(false))
            {
                var controllers = ControllerManager.Start(host.KubeconfigPath, loggerFactory, TimeProvider.System, options.ClusterCidr, options.LbPool);
                await using var controllersScope = controllers.ConfigureAwait(false);
                // The underlay routes each node's Pod CIDRs via that node (host-gw), like every node does for the others.
                using var routesClient = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(host.KubeconfigPath));
                using var underlayRoutes = new PodCidrRouteController(routesClient, new ProcessCommandRunner(), cluster.Plan.Underlay, null, loggerFactory, TimeProvider.System);
                using var routesStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                var routesTask = underlayRoutes.RunAsync(routesStop.Token);
                // LoadBalancer Services: ECMP routes over healthy nodes in the underlay, published on the host loopback.
                using var lbRoutes = new LoadBalancerRoutes(routesClient, new ProcessCommandRunner(), cluster.Plan.Underlay, LoadBalancerRoutes.HttpProbe(underlaySockets.ConnectAsync), loggerFactory, TimeProvider.System);
                var lbRoutesTask = lbRoutes.RunAsync(routesStop.Token);
                var publisher = new HostPublisher(routesClient, new NetnsDialer(underlaySockets), up.LbHostAddress, System.Net.IPAddress.IPv6Loopback, loggerFactory, TimeProvider.System);
                await using var publisherScope = publisher.ConfigureAwait(false);
                var publisherTask = publisher.RunAsync(routesStop.Token);
                try
                {
                    using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(host.KubeconfigPath));
                    // The ready line waits for three independent things; they are awaited together, not one after another.
                    var nodesReady = NodesAndProxiesReadyAsync(cluster, client, agentsStarted, LoadBalancerRoutes.HttpProbe(underlaySockets.ConnectAsync), timeline, stop.Token);
                    // The bundled add-on: cluster DNS behind kube-dns, answering through the Service proxy. Applied as soon
                    // as the API answers, so the scheduler places its Pod the moment a node registers.
                    var dnsReady = Task.CompletedTask;
                    if (cluster.Plan.Nodes.Count > 0)
                    {
                        await ClusterDnsAddOn.ApplyAsync(client, up, stop.Token).ConfigureAwait(false);
                        timeline.Reached("dns-applied");
                        dnsReady = WaitDnsAsync(client, up, cluster.Plan.Nodes[0].Namespace, timeline, stop.Token);
                    }
                    await Task.WhenAll(nodesReady, dnsReady).ConfigureAwait(false);
                    timeline.Reached("ready");
                    Console.Out.WriteLine($"ready: {nodes} nodes, api {host.Url.GetLeftPart(UriPartial.Authority)}, export KUBECONFIG={host.KubeconfigPath}");
                    Console.Out.Flush();
                    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (InvalidOperationException e)
                {
                    await Console.Error.WriteLineAsync("switchboard up: " + e.Message).ConfigureAwait(false);
                    return 1;
                }
                finally
                {
                    await Console.Error.WriteLineAsync("switchboard up: stopping and removing the cluster network").ConfigureAwait(false);
                    await routesStop.CancelAsync().ConfigureAwait(false);
                    await Task.WhenAll(routesTask, lbRoutesTask, publisherTask).ConfigureAwait(false);
                }
            }
        }
        return 0;
    }

    /// <summary>Every Node Ready with a heartbeat of this run, then each agent's proxy /healthz 200 (its first sync).</summary>
    private static async Task NodesAndProxiesReadyAsync(EmbeddedCluster cluster, Kubernetes client, DateTime agentsStarted,
        Func<System.Net.IPEndPoint, string, CancellationToken, Task<bool>> probe, StartupTimeline timeline, CancellationToken ct)
    {
        await cluster.WaitForNodesReadyAsync(client, agentsStarted, ct).ConfigureAwait(false);
        timeline.Reached("nodes-ready");
        // Each agent's proxy answers /healthz 200 once its first sync programmed the node (kube-proxy's readiness).
        await Task.WhenAll(cluster.Plan.Nodes.Select(async node =>
        {
            var healthz = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(node.Ipv4), LoadBalancerRoutes.ProxyHealthPort);
            while (!await TryProbeAsync(probe, healthz, ct).ConfigureAwait(false))
            {
                await Task.Delay(50, ct).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
        timeline.Reached("proxies-synced");
    }

    private static async Task WaitDnsAsync(Kubernetes client, UpOptions up, string nodeNamespace, StartupTimeline timeline, CancellationToken ct)
    {
        await ClusterDnsAddOn.WaitAvailableAsync(client, up, nodeNamespace, ct).ConfigureAwait(false);
        timeline.Reached("dns-answers");
    }

    private static async Task<bool> TryProbeAsync(Func<System.Net.IPEndPoint, string, CancellationToken, Task<bool>> probe, System.Net.IPEndPoint endpoint, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            return await probe(endpoint, "/healthz", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>The publisher's dialer: sockets made in the underlay, where LB IPs are routed.</summary>
    private sealed class NetnsDialer(NetnsSocketFactory sockets) : IBackendDialer
    {
        public Task<System.Net.Sockets.Socket> ConnectTcpAsync(System.Net.IPEndPoint backend, CancellationToken ct) => sockets.ConnectAsync(backend, ct);

        public async Task<System.Net.Sockets.Socket> ConnectUdpAsync(System.Net.IPEndPoint backend, CancellationToken ct)
        {
            var socket = await sockets.CreateAsync(backend.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp).ConfigureAwait(false);
            try
            {
                await socket.ConnectAsync(backend, ct).ConfigureAwait(false);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
