using System.Collections.Concurrent;
using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Runtime.Cni;

namespace Switchboard.Node.Runtime;

/// <summary>
/// The Pods of this node: one <see cref="PodWorker"/> per Pod UID, records re-adopted from the pods dir at start,
/// orphans (Pods deleted while the agent was down, stray namespaces with this node's prefix) cleaned up once the
/// Pod list is known. Serves <see cref="IContainerLocator"/> from the workers' published snapshots. API-free: the
/// agent feeds it Pods from an informer (<see cref="PodRuntimeHost"/>); real tests feed it directly.
/// </summary>
internal sealed partial class PodRuntime(RuntimeServices services) : IContainerLocator
{
    private readonly ConcurrentDictionary<string, PodWorker> _workers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private CancellationToken _stopping;
    private volatile bool _started;

    public RuntimeServices Services => services;

    /// <summary>Writes the node's conflist for its Pod CIDRs and makes the CNI network usable.</summary>
    public void SetPodCidrs(IReadOnlyList<string> podCidrs, ICniExec? exec = null)
    {
        var conflist = CniConfig.Build(podCidrs, services.Options.CniDataDir);
        Directory.CreateDirectory(Path.GetDirectoryName(services.Options.CniConfigPath)!);
        File.WriteAllText(services.Options.CniConfigPath, conflist.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        services.Cni = new CniInvoker(conflist, services.Options.CniBinDir, exec ?? new ProcessCniExec(services.Options.NodeNetns));
    }

    /// <summary>Loads every pod dir's state.json into a worker that waits for <see cref="Start"/>.</summary>
    public int AdoptFromDisk()
    {
        if (!Directory.Exists(services.Options.PodsDir))
        {
            return 0;
        }
        var adopted = 0;
        foreach (var dir in Directory.EnumerateDirectories(services.Options.PodsDir))
        {
            var record = PodRecord.Load(dir);
            if (record is null || PodNames.ParsePodDir(Path.GetFileName(dir)) is null)
            {
                continue;
            }
            if (_workers.TryAdd(record.Uid, new PodWorker(services, record, null)))
            {
                adopted++;
            }
        }
        return adopted;
    }

    /// <summary>
    /// Starts the workers with the current Pods of this node: adopted records whose Pod is gone are torn down, and
    /// network namespaces with this node's prefix that no record owns are deleted.
    /// </summary>
    public async Task StartAsync(IEnumerable<V1Pod> pods, CancellationToken stopping)
    {
        _stopping = stopping;
        var live = pods.ToList();
        foreach (var pod in live)
        {
            Upsert(pod, start: false);
        }
        var liveUids = live.Select(p => p.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
        foreach (var (uid, worker) in _workers)
        {
            if (!liveUids.Contains(uid))
            {
                worker.GoneFromApi();
            }
        }
        var owned = _workers.Values.Select(w => w.Record.Netns).ToHashSet(StringComparer.Ordinal);
        // Records are written before anything is created, so they are the ledger; a prefix scan is safe only when
        // no other node shares the prefix.
        var unrecorded = services.Options.ExclusivePrefix ? services.Sandboxes.ListNetns(services.Options.NetnsPrefix + "-p") : [];
        foreach (var netns in unrecorded)
        {
            if (!owned.Contains(netns))
            {
                Log.OrphanNetns(services.Logger, netns);
                await services.Sandboxes.RemoveAsync(new SandboxSpec { PodDir = Path.Combine(services.Options.PodsDir, ".orphan"), Netns = netns, Hostname = "" }, stopping).ConfigureAwait(false);
            }
        }
        _started = true;
        foreach (var worker in _workers.Values)
        {
            StartWorker(worker);
        }
    }

    /// <summary>A Pod of this node was added or changed.</summary>
    public void Upsert(V1Pod pod) => Upsert(pod, start: true);

    /// <summary>A Pod left the API (a graceful deletion already ran in its worker; this covers grace 0 and force).</summary>
    public void Delete(V1Pod pod)
    {
        if (_workers.TryGetValue(pod.Metadata.Uid, out var worker))
        {
            worker.GoneFromApi();
        }
    }

    /// <summary>The argv an exec session runs after the container's ExecPrefix: <c>/agnhost …</c> becomes switchboard-agnhost.</summary>
    public IReadOnlyList<string> ExecCommand(IList<string> command) => ContainerCommand.RewriteAgnhost(command, services.Agnhost);

    public PodWorker? Worker(string uid) => _workers.GetValueOrDefault(uid);

    /// <summary>Completes when every worker has stopped (after cancellation of the start token, or when all finished).</summary>
    public Task WhenStoppedAsync() => Task.WhenAll(_running.Values);

    public ContainerView? Find(string podNamespace, string podName, string container)
    {
        ContainerView? terminating = null;
        foreach (var worker in _workers.Values)
        {
            var r = worker.Record;
            if (r.Namespace == podNamespace && r.Name == podName && !worker.Finished && worker.Views.TryGetValue(container, out var view))
            {
                // A Pod recreated under the same name wins over the old one still shutting down.
                if (worker.Pod?.Metadata.DeletionTimestamp is null)
                {
                    return view;
                }
                terminating = view;
            }
        }
        return terminating;
    }

    private void Upsert(V1Pod pod, bool start)
    {
        var uid = pod.Metadata.Uid;
        if (string.IsNullOrEmpty(uid))
        {
            return;
        }
        var worker = _workers.GetOrAdd(uid, _ => new PodWorker(services, new PodRecord
        {
            Namespace = pod.Metadata.NamespaceProperty ?? "default",
            Name = pod.Metadata.Name,
            Uid = uid,
            Netns = UnusedNetns(uid),
            HostNetwork = pod.Spec?.HostNetwork == true,
        }, pod));
        worker.Update(pod);
        if (start && _started)
        {
            StartWorker(worker);
        }
    }

    /// <summary>The Pod's namespace name; on a hash collision with a live Pod, the next candidate (the name is recorded, so it stays stable).</summary>
    private string UnusedNetns(string uid)
    {
        var taken = _workers.Values.Select(w => w.Record.Netns).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; ; i++)
        {
            var name = PodNames.Netns(services.Options.NetnsPrefix, i == 0 ? uid : uid + "/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!taken.Contains(name))
            {
                return name;
            }
        }
    }

    private void StartWorker(PodWorker worker)
    {
        var uid = worker.Record.Uid;
        if (_running.ContainsKey(uid))
        {
            return;
        }
        var task = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    await worker.RunAsync(_stopping).ConfigureAwait(false);
                    break;
                }
#pragma warning disable CA1031 // A bug in one Pod's pass must not leave the Pod unmanaged: log it and run the loop again.
                catch (Exception e) when (!_stopping.IsCancellationRequested)
#pragma warning restore CA1031
                {
                    Log.WorkerCrashed(services.Logger, e, worker.Record.Namespace, worker.Record.Name);
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(1), services.Time, _stopping).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            if (worker.Finished)
            {
                _workers.TryRemove(uid, out _);
                _running.TryRemove(uid, out _);
            }
        }, CancellationToken.None);
        _running.TryAdd(uid, task);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "pod {Namespace}/{Name}: worker failed; restarting it")]
        public static partial void WorkerCrashed(ILogger logger, Exception exception, string @namespace, string name);

        [LoggerMessage(Level = LogLevel.Warning, Message = "removing network namespace {Netns}: no Pod of this node owns it")]
        public static partial void OrphanNetns(ILogger logger, string netns);
    }
}
