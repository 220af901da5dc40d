using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Scheduling;

/// <summary>
/// kube-scheduler's role for Switchboard clusters: pods with no <c>spec.nodeName</c> whose <c>schedulerName</c>
/// is <c>default-scheduler</c> are placed, one at a time, by <see cref="SchedulingAlgorithm"/> and bound through
/// <c>POST pods/{name}/binding</c> (Event <c>Scheduled</c>). A pod that fits nowhere gets
/// <c>PodScheduled=False/Unschedulable</c> with upstream's "0/N nodes are available: …" message and a
/// <c>FailedScheduling</c> Event, and is retried whenever a Node changes or a pod goes away (and every
/// 5 minutes, as upstream's unschedulable queue flush). Bound pods are assumed on their node until the informer
/// shows the binding, so a burst of replicas spreads even though the watch lags.
/// </summary>
internal sealed partial class Scheduler : IDisposable
{
    public const string SchedulerName = "default-scheduler";
    public const string NodeNameIndex = "scheduling-node-name";
    public static readonly TimeSpan UnschedulableFlush = TimeSpan.FromMinutes(5);

    private readonly Kubernetes _client;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly SharedInformer<V1Pod> _pods;
    private readonly SharedInformer<V1Node> _nodes;
    private readonly RateLimitingQueue<string> _queue;
    private readonly EventRecorder _recorder;
    private readonly List<IDisposable> _registrations = [];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Node, V1Pod Pod)> _assumed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unschedulable = new(StringComparer.Ordinal);

    public Scheduler(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _time = time;
        _random = random ?? new Random();
        _logger = loggers.CreateLogger<Scheduler>();
        _queue = new RateLimitingQueue<string>(time, new ItemExponentialRateLimiter<string>(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)));
        _recorder = new EventRecorder(client, SchedulerName, _logger, time);
        _pods = informers.Informer<V1Pod>();
        _pods.AddIndex(NodeNameIndex, IndexByNodeName);
        _nodes = informers.Informer<V1Node>();
        _registrations.Add(_pods.AddEventHandler(new ResourceEventHandler<V1Pod>(OnPodAdd, (_, p) => OnPodUpdate(p), OnPodDelete)));
        _registrations.Add(_nodes.AddEventHandler(new ResourceEventHandler<V1Node>(
            _ => RetryUnschedulable(),
            (old, node) =>
            {
                if (SchedulingRelevantChange(old, node))
                {
                    RetryUnschedulable();
                }
            },
            _ => RetryUnschedulable())));
    }

    private static void IndexByNodeName(V1Pod pod, ICollection<string> values)
    {
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            values.Add(pod.Spec.NodeName);
        }
    }

    /// <summary>
    /// Whether a Node update can make an unschedulable pod fit (upstream's queueing hints, simplified): labels,
    /// taints, unschedulable, allocatable or the Ready status — not the heartbeat every kubelet posts every 10 s.
    /// </summary>
    internal static bool SchedulingRelevantChange(V1Node old, V1Node node)
    {
        static string? Ready(V1Node n) => n.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status;
        static string Json(object? o) => o is null ? "" : KubernetesJson.Serialize(o);
        return Ready(old) != Ready(node)
            || old.Spec?.Unschedulable != node.Spec?.Unschedulable
            || Json(old.Metadata.Labels) != Json(node.Metadata.Labels)
            || Json(old.Spec?.Taints) != Json(node.Spec?.Taints)
            || Json(old.Status?.Allocatable) != Json(node.Status?.Allocatable);
    }

    /// <summary>True for pods this scheduler is responsible for placing.</summary>
    public static bool NeedsScheduling(V1Pod pod) =>
        string.IsNullOrEmpty(pod.Spec?.NodeName)
        && (pod.Spec?.SchedulerName ?? SchedulerName) == SchedulerName
        && pod.Metadata.DeletionTimestamp is null
        && !PodUtil.IsTerminal(pod)
        && (pod.Spec?.SchedulingGates?.Count ?? 0) == 0;

    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await Task.WhenAll(_pods.WaitForSyncAsync(ct), _nodes.WaitForSyncAsync(ct)).ConfigureAwait(false);
            Log.Started(_logger);
            // One pod at a time, as upstream's scheduling cycle: each decision sees the previous one.
            await _queue.RunWorkersAsync(1, ScheduleOneAsync, Retry, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.ShutDown();
            await events.ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
        _queue.Dispose();
    }

    private bool Retry(string key, Exception e)
    {
        Log.Retrying(_logger, key, e.Message);
        return true;
    }

    internal async Task ScheduleOneAsync(string key, CancellationToken ct)
    {
        var (ns, name) = PodUtil.SplitKey(key);
        if (!_pods.Store.TryGet(ns, name, out var pod) || !NeedsScheduling(pod))
        {
            return;
        }
        lock (_lock)
        {
            if (_assumed.ContainsKey(key))
            {
                return; // bound already; the informer has not caught up
            }
        }
        var nodes = Snapshot();
        var result = SchedulingAlgorithm.Schedule(pod, nodes, _random);
        var reference = EventRecorder.Reference(pod, "v1", "Pod");
        if (result.Node is null)
        {
            lock (_lock)
            {
                _unschedulable.Add(key);
            }
            _queue.AddAfter(key, UnschedulableFlush);
            _recorder.Record(reference, "Warning", "FailedScheduling", result.Message!);
            await MarkUnschedulableAsync(pod, result.Message!, ct).ConfigureAwait(false);
            Log.Unschedulable(_logger, key, result.Message!);
            return;
        }

        lock (_lock)
        {
            _unschedulable.Remove(key);
            _assumed[key] = (result.Node, pod);
        }
        try
        {
            await _client.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding
            {
                ApiVersion = "v1",
                Kind = "Binding",
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Uid = pod.Metadata.Uid },
                Target = new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = result.Node },
            }, name, ns, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            // Bound by someone else, or gone: nothing left to do for this pod.
            Forget(key);
            return;
        }
        catch
        {
            Forget(key);
            throw;
        }
        _recorder.Record(reference, "Normal", "Scheduled", $"Successfully assigned {ns}/{name} to {result.Node}");
        Log.Bound(_logger, key, result.Node);
    }

    private void Forget(string key)
    {
        lock (_lock)
        {
            _assumed.Remove(key);
        }
    }

    /// <summary>Nodes with the pods on them, including pods bound by us that the informer does not show yet.</summary>
    private List<NodeInfo> Snapshot()
    {
        Dictionary<string, List<V1Pod>> assumed;
        lock (_lock)
        {
            assumed = _assumed.Values.GroupBy(a => a.Node, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(a => a.Pod).ToList(), StringComparer.Ordinal);
        }
        var nodes = new List<NodeInfo>();
        foreach (var node in _nodes.Store.Snapshot().OrderBy(n => n.Metadata.Name, StringComparer.Ordinal))
        {
            var pods = _pods.Lister.ByIndex(NodeNameIndex, node.Metadata.Name).Where(p => !PodUtil.IsTerminal(p)).ToList();
            if (assumed.TryGetValue(node.Metadata.Name, out var extra))
            {
                pods.AddRange(extra.Where(a => !pods.Any(p => p.Metadata.Uid == a.Metadata.Uid)));
            }
            nodes.Add(new NodeInfo(node, pods));
        }
        return nodes;
    }

    private async Task MarkUnschedulableAsync(V1Pod pod, string message, CancellationToken ct)
    {
        var current = PodUtil.Condition(pod, "PodScheduled");
        if (current is { Status: "False", Reason: "Unschedulable" } && current.Message == message)
        {
            return;
        }
        var now = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var condition = new JsonObject
        {
            ["type"] = "PodScheduled",
            ["status"] = "False",
            ["reason"] = "Unschedulable",
            ["message"] = message,
            ["lastProbeTime"] = null,
            ["lastTransitionTime"] = current?.Status == "False" && current.LastTransitionTime is { } t ? t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : now,
        };
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["uid"] = pod.Metadata.Uid },
            ["status"] = new JsonObject { ["conditions"] = new JsonArray(condition) },
        };
        try
        {
            await _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch), pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
        }
    }

    // ---- events ----

    private void OnPodAdd(V1Pod pod)
    {
        if (NeedsScheduling(pod))
        {
            _queue.Add(PodUtil.Key(pod));
        }
    }

    private void OnPodUpdate(V1Pod pod)
    {
        var key = PodUtil.Key(pod);
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            // The binding reached the informer: the pod now counts from the cache.
            Forget(key);
            lock (_lock)
            {
                _unschedulable.Remove(key);
            }
        }
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            RetryUnschedulable();
        }
        if (NeedsScheduling(pod))
        {
            lock (_lock)
            {
                if (_unschedulable.Contains(key))
                {
                    return; // our own status write; wait for a cluster change
                }
            }
            _queue.Add(key);
        }
    }

    private void OnPodDelete(V1Pod pod)
    {
        var key = PodUtil.Key(pod);
        Forget(key);
        lock (_lock)
        {
            _unschedulable.Remove(key);
        }
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            RetryUnschedulable();
        }
    }

    /// <summary>A cluster change may make room: every unschedulable pod gets another attempt.</summary>
    private void RetryUnschedulable()
    {
        List<string> keys;
        lock (_lock)
        {
            keys = [.. _unschedulable];
        }
        foreach (var key in keys)
        {
            _queue.Add(key);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Scheduler started")]
        public static partial void Started(ILogger logger);

        [LoggerMessage(2, LogLevel.Information, "Error scheduling pod {Key}, retrying: {Error}")]
        public static partial void Retrying(ILogger logger, string key, string error);

        [LoggerMessage(3, LogLevel.Information, "Unable to schedule pod {Key}: {Message}")]
        public static partial void Unschedulable(ILogger logger, string key, string message);

        [LoggerMessage(4, LogLevel.Debug, "Bound pod {Key} to {Node}")]
        public static partial void Bound(ILogger logger, string key, string node);
    }
}
