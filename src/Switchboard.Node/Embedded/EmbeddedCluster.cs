using System.Diagnostics;
using System.Net;
using System.Reflection;
using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Linux;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Embedded;

/// <summary>
/// The node side of `switchboard up` (ARCHITECTURE.md §2): holds the run lock, removes a crashed run's
/// leftovers, builds the topology, binds the API server's in-cluster sockets in the underlay, starts one agent
/// process per node inside its namespace and removes all of it on dispose. The control plane itself is composed
/// by the CLI, which passes what the agents need.
/// </summary>
internal sealed partial class EmbeddedCluster : IAsyncDisposable
{
    private readonly RunLock _lock;
    private readonly ClusterTopology _topology;
    private readonly string _dataDir;
    private readonly ILogger _logger;
    private readonly AgentSupervisor _agents;

    private EmbeddedCluster(RunLock runLock, ClusterTopology topology, string dataDir, ILogger logger)
    {
        _lock = runLock;
        _topology = topology;
        _dataDir = dataDir;
        _logger = logger;
        _agents = new AgentSupervisor(topology.Owned, TimeProvider.System, logger);
    }

    public TopologyPlan Plan => _topology.Plan;

    /// <summary>
    /// Takes the lock (null + the holder's pid when another `up` runs), cleans up, builds the topology.
    /// <paramref name="whileBuilding"/> (optional) starts once the lock is held and runs alongside the cleanup and
    /// the build: start-up work that needs the data dir but not the network (the PKI) overlaps the ip commands.
    /// </summary>
    public static async Task<(EmbeddedCluster? Cluster, int HolderPid)> StartAsync(string dataDir, int nodes, IReadOnlyList<string> zones, ICommandRunner runner, ILogger logger, CancellationToken ct, Func<Task>? whileBuilding = null)
    {
        var runLock = RunLock.TryAcquire(dataDir, out var holder);
        if (runLock is null)
        {
            return (null, holder);
        }
        try
        {
            var alongside = whileBuilding is null ? Task.CompletedTask : Task.Run(whileBuilding, ct);
            try
            {
                var id = ClusterId.LoadOrCreate(dataDir);
                var plan = new TopologyPlan(id, nodes, zones);
                var topology = new ClusterTopology(plan, runner, OwnedState.Load(dataDir, id), logger);
                await topology.RemoveAsync(ct).ConfigureAwait(false);
                StopRecordedContainers(dataDir, logger);
                UnmountUnder(dataDir, logger);
                await topology.CreateAsync(ct).ConfigureAwait(false);
                await alongside.ConfigureAwait(false);
                return (new EmbeddedCluster(runLock, topology, dataDir, logger), 0);
            }
            catch
            {
                // The lock is released below; whatever ran alongside must not outlive it.
                await alongside.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    /// <summary>Listening sockets for the API server on the underlay gateway, port 6443, both families.</summary>
    public IReadOnlyList<ulong> BindApiSockets() => NetnsListener.Bind(Plan.Underlay,
    [
        new IPEndPoint(IPAddress.Parse(TopologyPlan.GatewayIpv4), TopologyPlan.ApiPort),
        new IPEndPoint(IPAddress.Parse(TopologyPlan.GatewayIpv6), TopologyPlan.ApiPort),
    ]);

    /// <summary>The API server URL agents use: the underlay gateway.</summary>
    public static string InClusterServer => "https://" + TopologyPlan.GatewayIpv4 + ":" + TopologyPlan.ApiPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Starts `switchboard agent` in the node's namespace, restarted by <see cref="AgentSupervisor"/> whenever it
    /// exits until <paramref name="stopping"/> is cancelled; its output goes to logs/&lt;node&gt;.log.
    /// </summary>
    public void StartAgent(NodePlan node, string kubeconfig, string clusterDns, string clusterDomain, string clusterCidr, CancellationToken stopping = default)
    {
        // nsenter --net, not `ip netns exec`: the latter gives the agent a private (slave) mount namespace, so the
        // Pod namespaces it mounts under /run/netns would be invisible to `up` (cleanup) and to a restarted agent
        // (re-adoption). nsenter enters only the network namespace and execs in place.
        var psi = new ProcessStartInfo("nsenter")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        // nsenter execs in place, so the pid recorded is the agent's own.
        foreach (var a in (string[])["--net=/run/netns/" + node.Namespace, "--", .. SelfCommand(), "agent",
            "--kubeconfig", kubeconfig, "--node-name", node.Name, "--node-ip", node.NodeIps,
            "--data-dir", Path.Combine(_dataDir, "nodes", node.Name),
            "--netns-prefix", Plan.Prefix.TrimEnd('-'), "--cluster-dns", clusterDns, "--cluster-domain", clusterDomain, "--cluster-cidr", clusterCidr])
        {
            psi.ArgumentList.Add(a);
        }
        if (node.Zone is { } zone)
        {
            psi.ArgumentList.Add("--zone");
            psi.ArgumentList.Add(zone);
        }
        var log = Path.Combine(_dataDir, "logs", node.Name + ".log");
        _agents.Start(node.Name, () => AgentProcess.Start(psi, log), stopping);
    }

    /// <summary>The pid of the node's current agent (null while it is down and waiting for its restart).</summary>
    public int? AgentPid(string node) => _agents.Pid(node);

    /// <summary>
    /// Waits until every planned Node is Ready with a heartbeat from this run (a resumed store still holds the
    /// last run's Ready); fails early when an agent exits.
    /// </summary>
    public async Task WaitForNodesReadyAsync(IKubernetes client, DateTime since, CancellationToken ct)
    {
        // Heartbeats are stored with second precision.
        since = since.AddSeconds(-1);
        var names = Plan.Nodes.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        while (true)
        {
            // Before ready an exit is a broken set-up, not a crash to ride out: fail with the log to read.
            if (_agents.FirstExit is var (node, code))
            {
                throw new InvalidOperationException($"the agent of {node} exited with {code}; see {Path.Combine(_dataDir, "logs", node + ".log")}");
            }
            if (names.Count == 0)
            {
                return;
            }
            try
            {
                var list = await client.CoreV1.ListNodeAsync(cancellationToken: ct).ConfigureAwait(false);
                var ready = list.Items.Count(n => names.Contains(n.Metadata.Name) && n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True" && c.LastHeartbeatTime >= since) == true);
                if (ready == names.Count)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            // A short poll: the ready line waits on this, and a List of three Nodes is cheap.
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // No restarts from here; SIGTERM first so agents stop cleanly; whatever is left after the grace period is
        // killed by RemoveAsync (the supervisor leaves it recorded in owned.json).
        foreach (var node in await _agents.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false))
        {
            Log.AgentSlow(_logger, node);
        }
        await _topology.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
        StopRecordedContainers(_dataDir, _logger);
        UnmountUnder(_dataDir, _logger);
        await _agents.DisposeAsync().ConfigureAwait(false);
        _lock.Dispose();
    }

    /// <summary>
    /// Kills the container processes the agents recorded (pid + start time in each Pod's state.json). The
    /// namespace scan of the topology misses a container whose network namespace is already gone (deleted by a
    /// crashed run or by hand); the record does not.
    /// </summary>
    internal static void StopRecordedContainers(string dataDir, ILogger logger)
    {
        var nodes = Path.Combine(dataDir, "nodes");
        if (!Directory.Exists(nodes))
        {
            return;
        }
        foreach (var podDir in Directory.EnumerateDirectories(nodes).SelectMany(n => Directory.Exists(Path.Combine(n, "pods")) ? Directory.EnumerateDirectories(Path.Combine(n, "pods")) : []))
        {
            foreach (var (name, container) in Runtime.PodRecord.Load(podDir)?.Containers ?? [])
            {
                if (container is { Pid: { } pid, PidStartTime: { } start })
                {
                    ProcessKiller.Kill(new OwnedProcess(pid, start, "container " + name + " of " + Path.GetFileName(podDir)), logger);
                }
            }
        }
    }

    /// <summary>
    /// Unmounts what the Pod runtime bind-mounted under the data dir (UTS and mount namespace files of Pods): once
    /// the cluster is down nothing may keep those namespaces alive. Deepest first; lazily, so a busy one still goes.
    /// </summary>
    internal static void UnmountUnder(string dataDir, ILogger logger)
    {
        var root = Path.GetFullPath(dataDir).TrimEnd('/') + "/";
        var points = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            // /proc/mounts escapes spaces as \040; data dirs with spaces are not supported here.
            if (fields.Length > 1 && fields[1].StartsWith(root, StringComparison.Ordinal))
            {
                points.Add(fields[1]);
            }
        }
        foreach (var point in points.OrderByDescending(p => p.Length))
        {
            if (Umount2(point, 2 /* MNT_DETACH */) != 0)
            {
                Log.UnmountFailed(logger, point, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    internal static string[] SelfCommand()
    {
        var host = Environment.ProcessPath ?? "dotnet";
        // Under `dotnet switchboard.dll` the host needs the dll; the apphost `switchboard` is self-contained.
        return Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? [host, Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("no entry assembly")]
            : [host];
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot unmount {Path} (errno {Errno})")]
        public static partial void UnmountFailed(ILogger logger, string path, int errno);

        [LoggerMessage(Level = LogLevel.Warning, Message = "the agent of {Node} did not stop within 5 s; killing it")]
        public static partial void AgentSlow(ILogger logger, string node);
    }
}
