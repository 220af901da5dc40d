using Microsoft.Extensions.Logging;
using Switchboard.Node.Linux;

namespace Switchboard.Node.Topology;

/// <summary>
/// Builds and removes the kernel objects of a <see cref="TopologyPlan"/>, recording each in
/// <see cref="OwnedState"/> before making it. Removal is idempotent and best effort: it runs at start (a crashed
/// run's leftovers), on a failed build and on Ctrl-C/SIGTERM.
/// </summary>
internal sealed partial class ClusterTopology(TopologyPlan plan, ICommandRunner runner, OwnedState owned, ILogger logger)
{
    public TopologyPlan Plan => plan;

    public OwnedState Owned => owned;

    /// <summary>Creates everything; on failure removes what was made and throws with iproute2's message.</summary>
    public async Task CreateAsync(CancellationToken ct)
    {
        try
        {
            foreach (var step in plan.CreateSteps())
            {
                if (step.Creates is { } ns)
                {
                    owned.AddNamespace(ns);
                }
                var result = await runner.RunAsync(step.Program, step.Args, ct).ConfigureAwait(false);
                if (!result.Ok)
                {
                    throw new InvalidOperationException($"'{step}' failed (exit {result.ExitCode}): {result.Stderr}");
                }
            }
        }
        catch
        {
            await RemoveAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stops recorded processes (matched by pid and start time), then deletes recorded namespaces and any other
    /// namespace named with this cluster's prefix. Deleting a namespace destroys its links and addresses.
    /// </summary>
    public async Task RemoveAsync(CancellationToken ct)
    {
        foreach (var p in owned.Processes)
        {
            ProcessKiller.Kill(p, logger);
            owned.RemoveProcess(p.Pid);
        }
        var names = new HashSet<string>(owned.Namespaces, StringComparer.Ordinal);
        // /run/netns is the truth for what exists; the recorded list covers namespaces whose file a crash left half made.
        if (Directory.Exists("/run/netns"))
        {
            foreach (var file in Directory.EnumerateFiles("/run/netns"))
            {
                var name = Path.GetFileName(file);
                if (plan.Owns(name))
                {
                    names.Add(name);
                }
            }
        }
        // Containers are host processes in Pod (or, with hostNetwork, node) namespaces that outlive their agent:
        // stop them before their namespaces go, SIGTERM then SIGKILL, as a node shutdown would.
        await StopProcessesInAsync(names, ct).ConfigureAwait(false);
        // Node namespaces first, the underlay last, so veth peers go with their node.
        foreach (var ns in names.OrderBy(n => n == plan.Underlay ? 1 : 0).ThenBy(n => n, StringComparer.Ordinal))
        {
            var result = await runner.RunAsync("ip", ["netns", "delete", ns], ct).ConfigureAwait(false);
            if (!result.Ok && !result.Stderr.Contains("No such file", StringComparison.Ordinal))
            {
                Log.DeleteFailed(logger, ns, result.Stderr);
                continue;
            }
            owned.RemoveNamespace(ns);
        }
        // /etc/netns/<name> directories of this cluster (nodes' and Pods'), also of namespaces already gone.
        if (Directory.Exists(EtcNetns))
        {
            foreach (var dir in Directory.EnumerateDirectories(EtcNetns))
            {
                if (plan.Owns(Path.GetFileName(dir)))
                {
                    try
                    {
                        Directory.Delete(dir, recursive: true);
                    }
                    catch (IOException e)
                    {
                        Log.DeleteFailed(logger, dir, e.Message);
                    }
                }
            }
        }
    }

    /// <summary>Where `ip netns exec` finds per-namespace files; a parameter so unit tests never touch the real one.</summary>
    public string EtcNetns { get; init; } = "/etc/netns";

    /// <summary>How long processes in the cluster's namespaces get between SIGTERM and SIGKILL.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(3);

    private async Task StopProcessesInAsync(IEnumerable<string> namespaces, CancellationToken ct)
    {
        var pids = await PidsInAsync(namespaces, ct).ConfigureAwait(false);
        if (pids.Count == 0)
        {
            return;
        }
        Log.Stopping(logger, pids.Count);
        await runner.RunAsync("kill", ["-TERM", .. pids], ct).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + StopGrace;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, ct).ConfigureAwait(false);
            pids = await PidsInAsync(namespaces, ct).ConfigureAwait(false);
            if (pids.Count == 0)
            {
                return;
            }
        }
        await runner.RunAsync("kill", ["-KILL", .. pids], ct).ConfigureAwait(false);
    }

    private async Task<List<string>> PidsInAsync(IEnumerable<string> namespaces, CancellationToken ct)
    {
        var pids = new List<string>();
        foreach (var ns in namespaces)
        {
            var r = await runner.RunAsync("ip", ["netns", "pids", ns], ct).ConfigureAwait(false);
            if (r.Ok)
            {
                pids.AddRange(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(p => p.All(char.IsAsciiDigit) && p != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        return pids;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "stopping {Count} process(es) left in the cluster's namespaces")]
        public static partial void Stopping(ILogger logger, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot delete network namespace {Namespace}: {Error}")]
        public static partial void DeleteFailed(ILogger logger, string @namespace, string error);
    }
}
