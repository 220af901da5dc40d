using Switchboard.Node.Topology;

namespace Switchboard.Node.Runtime;

/// <summary>
/// Removes every Pod an agent data dir records, without the API: SIGKILL to each recorded container process group
/// (only while pid + start time still match), unmount of the namespace files, deletion of the Pod network
/// namespaces and /etc/netns dirs, the pods dir and host-local state. For <c>switchboard up</c>'s shutdown and
/// crash cleanup: container processes outlive their agent by design, so whoever removes a node removes them.
/// Unrecorded <c>&lt;prefix&gt;-p*</c> namespaces are removed too: with a prefix shared by several nodes (<c>up</c>),
/// call it only once all of their agents are stopped.
/// </summary>
internal static class PodCleanup
{
    public static async Task RemoveAllAsync(string agentDataDir, string netnsPrefix, IProcessLauncher launcher, ISandboxManager sandboxes, CancellationToken ct)
    {
        var podsDir = Path.Combine(agentDataDir, "pods");
        var netnsSeen = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(podsDir))
        {
            foreach (var dir in Directory.EnumerateDirectories(podsDir))
            {
                var record = PodRecord.Load(dir);
                if (record is null)
                {
                    continue;
                }
                foreach (var c in record.Containers.Values)
                {
                    if (c.Process is { } p)
                    {
                        launcher.Signal(p, Signals.SigKill);
                        for (var i = 0; i < 50 && launcher.Poll(p) is null; i++)
                        {
                            await Task.Delay(20, ct).ConfigureAwait(false);
                        }
                    }
                }
                netnsSeen.Add(record.Netns);
                await sandboxes.RemoveAsync(new SandboxSpec { PodDir = dir, Netns = record.Netns, Hostname = record.Name, HostNetwork = record.HostNetwork }, ct).ConfigureAwait(false);
            }
        }
        foreach (var netns in sandboxes.ListNetns(netnsPrefix + "-p").Where(n => !netnsSeen.Contains(n)))
        {
            await sandboxes.RemoveAsync(new SandboxSpec { PodDir = Path.Combine(podsDir, ".orphan"), Netns = netns, Hostname = "" }, ct).ConfigureAwait(false);
        }
        foreach (var dir in new[] { podsDir, Path.Combine(agentDataDir, "cni") })
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>The real effects, for callers outside the runtime (the embedded cluster).</summary>
    public static Task RemoveAllAsync(string agentDataDir, string netnsPrefix, CancellationToken ct) =>
        RemoveAllAsync(agentDataDir, netnsPrefix, new PosixSpawnLauncher(), new SandboxManager(new ProcessCommandRunner()), ct);
}
