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
    private readonly List<(NodePlan Node, Process Process, Task Drain)> _agents = [];

    private EmbeddedCluster(RunLock runLock, ClusterTopology topology, string dataDir, ILogger logger)
    {
        _lock = runLock;
        _topology = topology;
        _dataDir = dataDir;
        _logger = logger;
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

    /// <summary>Starts `switchboard agent` in the node's namespace; its output goes to logs/&lt;node&gt;.log.</summary>
    public void StartAgent(NodePlan node, string kubeconfig, string clusterDns, string clusterDomain, string clusterCidr)
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
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the agent for " + node.Name);
        _topology.Owned.AddProcess(new OwnedProcess(process.Id, ProcessKiller.StartTime(process.Id) ?? 0, "agent " + node.Name));
        process.StandardInput.Close();
        var log = Path.Combine(_dataDir, "logs", node.Name + ".log");
        _agents.Add((node, process, DrainAsync(process, log)));
        Log.AgentStarted(_logger, node.Name, process.Id);
    }

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
            foreach (var (node, process, _) in _agents)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the agent of {node.Name} exited with {process.ExitCode}; see {Path.Combine(_dataDir, "logs", node.Name + ".log")}");
                }
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
        // SIGTERM first so agents stop cleanly; whatever is left after the grace period is killed by RemoveAsync.
        foreach (var (_, process, _) in _agents)
        {
            if (!process.HasExited)
            {
                _ = SendSignal(process.Id, 15);
            }
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        foreach (var (node, process, drain) in _agents)
        {
            try
            {
                await process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
                _topology.Owned.RemoveProcess(process.Id);
            }
            catch (OperationCanceledException)
            {
                Log.AgentSlow(_logger, node.Name);
            }
        }
        await _topology.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
        UnmountUnder(_dataDir, _logger);
        foreach (var (_, process, drain) in _agents)
        {
            await drain.ConfigureAwait(false);
            process.Dispose();
        }
        _lock.Dispose();
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

    private static async Task DrainAsync(Process process, string logPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var file = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        await using (file.ConfigureAwait(false))
        {
            var gate = new SemaphoreSlim(1, 1);
            using (gate)
            {
                await Task.WhenAll(Copy(process.StandardOutput.BaseStream), Copy(process.StandardError.BaseStream)).ConfigureAwait(false);
            }

            async Task Copy(Stream source)
            {
                var buffer = new byte[4096];
                int n;
                while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    await gate.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        await file.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                        await file.FlushAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "started the agent of {Node} (pid {Pid})")]
        public static partial void AgentStarted(ILogger logger, string node, int pid);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot unmount {Path} (errno {Errno})")]
        public static partial void UnmountFailed(ILogger logger, string path, int errno);

        [LoggerMessage(Level = LogLevel.Warning, Message = "the agent of {Node} did not stop within 5 s; killing it")]
        public static partial void AgentSlow(ILogger logger, string node);
    }
}
