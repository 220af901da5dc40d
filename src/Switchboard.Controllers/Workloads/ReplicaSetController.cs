using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Selectors;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;

namespace Switchboard.Controllers.Workloads;

/// <summary>
/// Upstream's ReplicaSet controller (pkg/controller/replicaset, v1.33): keeps <c>spec.replicas</c> active pods
/// (not terminal, not terminating) selected and controlled by each ReplicaSet. Creates pods from the template
/// (<c>generateName: &lt;rs&gt;-</c>, controller owner reference) in slow-start batches of 1, 2, 4 …, at most
/// <see cref="BurstReplicas"/> per sync; deletes surplus pods in <see cref="PodRanking"/> order; adopts and
/// releases by selector; waits for its own creations and deletions to be observed (expectations) before acting
/// again; writes status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration,
/// ReplicaFailure condition).
/// </summary>
internal sealed partial class ReplicaSetController : IDisposable
{
    public const int BurstReplicas = 500;
    public const string ControllerUidIndex = "workloads-controller-uid";

    private readonly Kubernetes _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SharedInformer<V1ReplicaSet> _replicaSets;
    private readonly SharedInformer<V1Pod> _pods;
    private readonly RateLimitingQueue<string> _queue;
    private readonly ControllerExpectations _expectations;
    private readonly EventRecorder _recorder;
    private readonly List<IDisposable> _registrations = [];
    private readonly int _workers;

    public ReplicaSetController(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time, int workers = 5)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _time = time;
        _workers = workers;
        _logger = loggers.CreateLogger<ReplicaSetController>();
        _queue = new RateLimitingQueue<string>(time);
        _expectations = new ControllerExpectations(time);
        _recorder = new EventRecorder(client, "replicaset-controller", _logger, time);
        _replicaSets = informers.Informer<V1ReplicaSet>();
        _replicaSets.AddIndex(ControllerUidIndex, IndexByControllerUid);
        _pods = informers.Informer<V1Pod>();
        _pods.AddIndex(ControllerUidIndex, IndexByControllerUid);
        _registrations.Add(_replicaSets.AddEventHandler(new ResourceEventHandler<V1ReplicaSet>(
            rs => _queue.Add(PodUtil.Key(rs)),
            (_, rs) => _queue.Add(PodUtil.Key(rs)),
            rs =>
            {
                _expectations.Delete(PodUtil.Key(rs));
                _queue.Add(PodUtil.Key(rs));
            })));
        _registrations.Add(_pods.AddEventHandler(new ResourceEventHandler<V1Pod>(OnPodAdd, OnPodUpdate, OnPodDelete)));
    }

    /// <summary>Objects by the UID of their controller owner reference.</summary>
    public static void IndexByControllerUid<T>(T obj, ICollection<string> values)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        if (PodUtil.ControllerOf(obj) is { Uid: { } uid })
        {
            values.Add(uid);
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await Task.WhenAll(_replicaSets.WaitForSyncAsync(ct), _pods.WaitForSyncAsync(ct)).ConfigureAwait(false);
            Log.Started(_logger, _workers);
            await _queue.RunWorkersAsync(_workers, SyncAsync, Retry, ct).ConfigureAwait(false);
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

    internal async Task SyncAsync(string key, CancellationToken ct)
    {
        var (ns, name) = PodUtil.SplitKey(key);
        if (!_replicaSets.Store.TryGet(ns, name, out var rs))
        {
            _expectations.Delete(key);
            return;
        }
        LabelSelector selector;
        try
        {
            selector = LabelSelector.FromLabelSelector(rs.Spec?.Selector);
        }
        catch (SelectorException e)
        {
            Log.BadSelector(_logger, key, e.Message);
            return;
        }
        var needsSync = _expectations.Satisfied(key);
        var active = _pods.Lister.List(ns).Where(PodUtil.IsActive);
        var manager = new ControllerRefManager<V1Pod>(rs, "apps/v1", "ReplicaSet", selector,
            c => CanAdoptAsync(rs, c),
            (pns, pname, body, c) => _client.CoreV1.PatchNamespacedPodAsync(new V1Patch(body, V1Patch.PatchType.JsonPatch), pname, pns, cancellationToken: c));
        var pods = await manager.ClaimAsync(active, ct).ConfigureAwait(false);

        Exception? manageError = null;
        if (needsSync && rs.Metadata.DeletionTimestamp is null)
        {
            try
            {
                await ManageReplicasAsync(key, rs, pods, ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e)
            {
                manageError = e;
            }
        }

        var status = CalculateStatus(rs, pods, manageError, _time.GetUtcNow());
        var updated = await UpdateStatusAsync(rs, status, ct).ConfigureAwait(false);
        var minReady = updated.Spec.MinReadySeconds ?? 0;
        if (manageError is null && minReady > 0 && updated.Status.ReadyReplicas == updated.Spec.Replicas && updated.Status.AvailableReplicas != updated.Spec.Replicas)
        {
            _queue.AddAfter(key, TimeSpan.FromSeconds(minReady));
        }
        if (manageError is not null)
        {
            throw manageError;
        }
    }

    private async Task<bool> CanAdoptAsync(V1ReplicaSet rs, CancellationToken ct)
    {
        try
        {
            var fresh = await _client.AppsV1.ReadNamespacedReplicaSetAsync(rs.Metadata.Name, rs.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            return fresh.Metadata.Uid == rs.Metadata.Uid && fresh.Metadata.DeletionTimestamp is null;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private async Task ManageReplicasAsync(string key, V1ReplicaSet rs, List<V1Pod> pods, CancellationToken ct)
    {
        var desired = rs.Spec.Replicas ?? 1;
        var diff = pods.Count - desired;
        var reference = EventRecorder.Reference(rs, "apps/v1", "ReplicaSet");
        if (diff < 0)
        {
            var want = Math.Min(-diff, BurstReplicas);
            _expectations.ExpectCreations(key, want);
            var created = await SlowStartBatchAsync(want, 1, async c =>
            {
                try
                {
                    var pod = await _client.CoreV1.CreateNamespacedPodAsync(PodFromTemplate(rs), rs.Metadata.NamespaceProperty, cancellationToken: c).ConfigureAwait(false);
                    _recorder.Record(reference, "Normal", "SuccessfulCreate", $"Created pod: {pod.Metadata.Name}");
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden && e.Response.Content?.Contains("NamespaceTerminating", StringComparison.Ordinal) == true)
                {
                    // The namespace is going away: nothing to create, and no error to report.
                    _expectations.CreationObserved(key);
                }
                catch (HttpOperationException e)
                {
                    _recorder.Record(reference, "Warning", "FailedCreate", $"Error creating: {ApiMessage(e)}");
                    throw;
                }
            }, ct).ConfigureAwait(false);
            // Creations never attempted will never be observed.
            for (var i = created.Attempted; i < want; i++)
            {
                _expectations.CreationObserved(key);
            }
            for (var i = 0; i < created.Failed; i++)
            {
                _expectations.CreationObserved(key);
            }
            if (created.Error is not null)
            {
                throw created.Error;
            }
            return;
        }
        if (diff > 0)
        {
            var count = Math.Min(diff, BurstReplicas);
            var toDelete = PodRanking.PodsToDelete(pods, RelatedPods(rs), count, _time.GetUtcNow());
            _expectations.ExpectDeletions(key, toDelete.Select(p => PodUtil.Key(p)));
            HttpOperationException? error = null;
            await Task.WhenAll(toDelete.Select(async pod =>
            {
                try
                {
                    await _client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty,
                        new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid } }, cancellationToken: ct).ConfigureAwait(false);
                    _recorder.Record(reference, "Normal", "SuccessfulDelete", $"Deleted pod: {pod.Metadata.Name}");
                }
                catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
                {
                    // Already gone (or replaced under the same name): nothing more will be observed for it.
                    _expectations.DeletionObserved(key, PodUtil.Key(pod));
                }
                catch (HttpOperationException e)
                {
                    _expectations.DeletionObserved(key, PodUtil.Key(pod));
                    _recorder.Record(reference, "Warning", "FailedDelete", $"Error deleting: {ApiMessage(e)}");
                    error = e;
                }
            })).ConfigureAwait(false);
            if (error is not null)
            {
                throw error;
            }
        }
    }

    /// <summary>Pods of this ReplicaSet and of its siblings under the same controller (upstream getIndirectlyRelatedPods).</summary>
    private List<V1Pod> RelatedPods(V1ReplicaSet rs)
    {
        var owners = new List<string> { rs.Metadata.Uid };
        if (PodUtil.ControllerOf(rs) is { Uid: { } parent })
        {
            owners = [.. _replicaSets.Lister.ByIndex(ControllerUidIndex, parent).Select(s => s.Metadata.Uid)];
        }
        return [.. owners.Distinct(StringComparer.Ordinal).SelectMany(uid => _pods.Lister.ByIndex(ControllerUidIndex, uid))];
    }

    internal readonly record struct BatchResult(int Attempted, int Succeeded, int Failed, Exception? Error);

    /// <summary>
    /// upstream slowStartBatch: calls in batches of initial, 2·initial, 4·initial … (all of one batch at once) and
    /// stops after the first batch with an error, so a failing create (quota, admission) costs one call, not N.
    /// </summary>
    internal static async Task<BatchResult> SlowStartBatchAsync(int count, int initial, Func<CancellationToken, Task> action, CancellationToken ct)
    {
        var remaining = count;
        var attempted = 0;
        var succeeded = 0;
        var failed = 0;
        for (var batch = Math.Min(remaining, initial); batch > 0; batch = Math.Min(2 * batch, remaining))
        {
            var tasks = Enumerable.Range(0, batch).Select(_ => action(ct)).ToArray();
            attempted += batch;
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (HttpOperationException)
            {
            }
            var errors = tasks.Where(t => t.IsFaulted).ToList();
            succeeded += batch - errors.Count;
            failed += errors.Count;
            if (errors.Count > 0)
            {
                return new BatchResult(attempted, succeeded, failed, errors[0].Exception!.InnerException);
            }
            remaining -= batch;
        }
        return new BatchResult(attempted, succeeded, failed, null);
    }

    internal static V1Pod PodFromTemplate(V1ReplicaSet rs)
    {
        var template = rs.Spec.Template ?? new V1PodTemplateSpec();
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(template));
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                GenerateName = rs.Metadata.Name + "-",
                NamespaceProperty = rs.Metadata.NamespaceProperty,
                Labels = copy.Metadata?.Labels,
                Annotations = copy.Metadata?.Annotations,
                Finalizers = copy.Metadata?.Finalizers,
                OwnerReferences = [PodUtil.ControllerRef(rs, "apps/v1", "ReplicaSet")],
            },
            Spec = copy.Spec,
        };
    }

    /// <summary>upstream calculateStatus.</summary>
    internal static V1ReplicaSetStatus CalculateStatus(V1ReplicaSet rs, IReadOnlyList<V1Pod> pods, Exception? manageError, DateTimeOffset now)
    {
        var templateLabels = rs.Spec.Template?.Metadata?.Labels ?? new Dictionary<string, string>();
        var conditions = (rs.Status?.Conditions ?? []).Select(c => c).ToList();
        var failure = conditions.FirstOrDefault(c => c.Type == "ReplicaFailure");
        if (manageError is not null && failure is null)
        {
            var diff = pods.Count - (rs.Spec.Replicas ?? 1);
            conditions.Add(new V1ReplicaSetCondition
            {
                Type = "ReplicaFailure",
                Status = "True",
                Reason = diff < 0 ? "FailedCreate" : diff > 0 ? "FailedDelete" : "",
                Message = manageError is HttpOperationException h ? ApiMessage(h) : manageError.Message,
                LastTransitionTime = now.UtcDateTime,
            });
        }
        else if (manageError is null && failure is not null)
        {
            conditions.Remove(failure);
        }
        return new V1ReplicaSetStatus
        {
            Replicas = pods.Count,
            FullyLabeledReplicas = pods.Count(p => Client.Informers.Indexers.Matches(templateLabels, p.Metadata.Labels)),
            ReadyReplicas = pods.Count(PodUtil.IsReady),
            AvailableReplicas = pods.Count(p => PodUtil.IsAvailable(p, rs.Spec.MinReadySeconds ?? 0, now)),
            ObservedGeneration = rs.Status?.ObservedGeneration,
            Conditions = conditions.Count == 0 ? null : conditions,
        };
    }

    private async Task<V1ReplicaSet> UpdateStatusAsync(V1ReplicaSet rs, V1ReplicaSetStatus status, CancellationToken ct)
    {
        var current = rs.Status ?? new V1ReplicaSetStatus();
        if (current.Replicas == status.Replicas
            && (current.FullyLabeledReplicas ?? 0) == (status.FullyLabeledReplicas ?? 0)
            && (current.ReadyReplicas ?? 0) == (status.ReadyReplicas ?? 0)
            && (current.AvailableReplicas ?? 0) == (status.AvailableReplicas ?? 0)
            && current.ObservedGeneration == rs.Metadata.Generation
            && SameConditions(current.Conditions, status.Conditions))
        {
            return rs;
        }
        status.ObservedGeneration = rs.Metadata.Generation;
        var copy = KubernetesJson.Deserialize<V1ReplicaSet>(KubernetesJson.Serialize(rs));
        copy.Status = status;
        return await _client.AppsV1.ReplaceNamespacedReplicaSetStatusAsync(copy, rs.Metadata.Name, rs.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
    }

    private static bool SameConditions(IList<V1ReplicaSetCondition>? a, IList<V1ReplicaSetCondition>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || a.Zip(b!).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status && p.First.Reason == p.Second.Reason));

    internal static string ApiMessage(HttpOperationException e)
    {
        if (string.IsNullOrEmpty(e.Response?.Content))
        {
            return e.Message;
        }
        try
        {
            var status = KubernetesJson.Deserialize<V1Status>(e.Response.Content);
            if (!string.IsNullOrEmpty(status?.Message))
            {
                return status.Message;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return e.Message;
    }

    // ---- pod events (upstream addPod / updatePod / deletePod) ----

    private V1ReplicaSet? ResolveController(string? ns, V1OwnerReference reference)
    {
        if (reference.Kind != "ReplicaSet" || !_replicaSets.Store.TryGet(ns, reference.Name, out var rs) || rs.Metadata.Uid != reference.Uid)
        {
            return null;
        }
        return rs;
    }

    private IEnumerable<V1ReplicaSet> MatchingReplicaSets(V1Pod pod)
    {
        foreach (var rs in _replicaSets.Lister.List(pod.Metadata.NamespaceProperty))
        {
            LabelSelector selector;
            try
            {
                selector = LabelSelector.FromLabelSelector(rs.Spec?.Selector);
            }
            catch (SelectorException)
            {
                continue;
            }
            if (!selector.IsEmpty && selector.Matches(pod.Metadata.Labels))
            {
                yield return rs;
            }
        }
    }

    private void OnPodAdd(V1Pod pod)
    {
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            OnPodDelete(pod);
            return;
        }
        if (PodUtil.ControllerOf(pod) is { } reference)
        {
            if (ResolveController(pod.Metadata.NamespaceProperty, reference) is { } rs)
            {
                _expectations.CreationObserved(PodUtil.Key(rs));
                _queue.Add(PodUtil.Key(rs));
            }
            return;
        }
        foreach (var rs in MatchingReplicaSets(pod))
        {
            _queue.Add(PodUtil.Key(rs));
        }
    }

    private void OnPodUpdate(V1Pod oldPod, V1Pod pod)
    {
        var labelsChanged = !SameLabels(oldPod.Metadata.Labels, pod.Metadata.Labels);
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            OnPodDelete(pod);
            if (labelsChanged)
            {
                OnPodDelete(oldPod);
            }
            return;
        }
        var oldRef = PodUtil.ControllerOf(oldPod);
        var newRef = PodUtil.ControllerOf(pod);
        var refChanged = oldRef?.Uid != newRef?.Uid;
        if (refChanged && oldRef is not null && ResolveController(oldPod.Metadata.NamespaceProperty, oldRef) is { } oldRs)
        {
            _queue.Add(PodUtil.Key(oldRs));
        }
        if (newRef is not null)
        {
            if (ResolveController(pod.Metadata.NamespaceProperty, newRef) is { } rs)
            {
                _queue.Add(PodUtil.Key(rs));
                // A pod that just turned ready becomes available minReadySeconds later: look again then.
                if (!PodUtil.IsReady(oldPod) && PodUtil.IsReady(pod) && rs.Spec?.MinReadySeconds is > 0 and var minReady)
                {
                    _queue.AddAfter(PodUtil.Key(rs), TimeSpan.FromSeconds(minReady + 1));
                }
            }
            return;
        }
        if (labelsChanged || refChanged)
        {
            foreach (var rs in MatchingReplicaSets(pod))
            {
                _queue.Add(PodUtil.Key(rs));
            }
        }
    }

    private void OnPodDelete(V1Pod pod)
    {
        if (PodUtil.ControllerOf(pod) is { } reference && ResolveController(pod.Metadata.NamespaceProperty, reference) is { } rs)
        {
            var key = PodUtil.Key(rs);
            _expectations.DeletionObserved(key, PodUtil.Key(pod));
            _queue.Add(key);
        }
    }

    private static bool SameLabels(IDictionary<string, string>? a, IDictionary<string, string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || a.All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value));

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "ReplicaSet controller started: {Workers} workers")]
        public static partial void Started(ILogger logger, int workers);

        [LoggerMessage(2, LogLevel.Information, "Error syncing replica set {Key}, retrying: {Error}")]
        public static partial void Retrying(ILogger logger, string key, string error);

        [LoggerMessage(3, LogLevel.Warning, "Replica set {Key} has an invalid selector: {Error}")]
        public static partial void BadSelector(ILogger logger, string key, string error);
    }
}
