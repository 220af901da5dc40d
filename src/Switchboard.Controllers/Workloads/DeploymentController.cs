using System.Globalization;
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
/// Upstream's Deployment controller (pkg/controller/deployment, v1.33): one ReplicaSet per pod template, named
/// <c>&lt;deployment&gt;-&lt;pod-template-hash&gt;</c>, with revision / desired-replicas / max-replicas annotations;
/// RollingUpdate within maxSurge/maxUnavailable, Recreate, proportional scaling, pause, progress deadline with the
/// Progressing/Available conditions, revision history cleanup and the status <c>kubectl rollout status</c> reads.
/// Rollback is client-side (kubectl patches the template back), so it is an ordinary template change here.
/// </summary>
internal sealed partial class DeploymentController : IDisposable
{
    private readonly Kubernetes _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SharedInformer<V1Deployment> _deployments;
    private readonly SharedInformer<V1ReplicaSet> _replicaSets;
    private readonly SharedInformer<V1Pod> _pods;
    private readonly RateLimitingQueue<string> _queue;
    private readonly EventRecorder _recorder;
    private readonly List<IDisposable> _registrations = [];
    private readonly int _workers;

    public DeploymentController(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time, int workers = 5)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _time = time;
        _workers = workers;
        _logger = loggers.CreateLogger<DeploymentController>();
        _queue = new RateLimitingQueue<string>(time);
        _recorder = new EventRecorder(client, "deployment-controller", _logger, time);
        _deployments = informers.Informer<V1Deployment>();
        _replicaSets = informers.Informer<V1ReplicaSet>();
        _replicaSets.AddIndex(ReplicaSetController.ControllerUidIndex, ReplicaSetController.IndexByControllerUid);
        _pods = informers.Informer<V1Pod>();
        _pods.AddIndex(ReplicaSetController.ControllerUidIndex, ReplicaSetController.IndexByControllerUid);
        _registrations.Add(_deployments.AddEventHandler(new ResourceEventHandler<V1Deployment>(
            d => _queue.Add(PodUtil.Key(d)), (_, d) => _queue.Add(PodUtil.Key(d)), d => _queue.Add(PodUtil.Key(d)))));
        _registrations.Add(_replicaSets.AddEventHandler(new ResourceEventHandler<V1ReplicaSet>(OnReplicaSet, OnReplicaSetUpdate, OnReplicaSet)));
        _registrations.Add(_pods.AddEventHandler(new ResourceEventHandler<V1Pod>(onDelete: OnPodDelete)));
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await Task.WhenAll(_deployments.WaitForSyncAsync(ct), _replicaSets.WaitForSyncAsync(ct), _pods.WaitForSyncAsync(ct)).ConfigureAwait(false);
            Log.Started(_logger, _workers);
            var workers = new List<Task>();
            for (var i = 0; i < _workers; i++)
            {
                workers.Add(Task.Run(() => WorkAsync(ct), ct));
            }
            await Task.WhenAll(workers).ConfigureAwait(false);
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

    private async Task WorkAsync(CancellationToken ct)
    {
        while (true)
        {
            var (ok, key) = await _queue.TryTakeAsync(ct).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }
            try
            {
                await SyncAsync(key, ct).ConfigureAwait(false);
                _queue.Forget(key);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Log.Retrying(_logger, key, e.Message);
                _queue.AddRateLimited(key);
            }
            finally
            {
                _queue.Done(key);
            }
        }
    }

    private static T Copy<T>(T obj) => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(obj));

    internal async Task SyncAsync(string key, CancellationToken ct)
    {
        var (ns, name) = PodUtil.SplitKey(key);
        if (!_deployments.Store.TryGet(ns, name, out var cached))
        {
            return;
        }
        var d = Copy(cached);
        d.Status ??= new V1DeploymentStatus();
        var reference = EventRecorder.Reference(d, "apps/v1", "Deployment");
        var sel = d.Spec.Selector;
        if (sel is null || ((sel.MatchLabels?.Count ?? 0) + (sel.MatchExpressions?.Count ?? 0)) == 0)
        {
            _recorder.Record(reference, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
            if ((d.Status.ObservedGeneration ?? 0) < (d.Metadata.Generation ?? 0))
            {
                d.Status.ObservedGeneration = d.Metadata.Generation;
                await WriteStatusAsync(d, ct).ConfigureAwait(false);
            }
            return;
        }
        LabelSelector selector;
        try
        {
            selector = LabelSelector.FromLabelSelector(sel);
        }
        catch (SelectorException e)
        {
            Log.BadSelector(_logger, key, e.Message);
            return;
        }

        var manager = new ControllerRefManager<V1ReplicaSet>(d, "apps/v1", "Deployment", selector,
            c => CanAdoptAsync(d, c),
            (rns, rname, body, c) => _client.AppsV1.PatchNamespacedReplicaSetAsync(new V1Patch(body, V1Patch.PatchType.JsonPatch), rname, rns, cancellationToken: c));
        var rsList = await manager.ClaimAsync(_replicaSets.Lister.List(ns), ct).ConfigureAwait(false);
        rsList = [.. rsList.Select(Copy)];

        var state = new SyncState(d, reference);
        if (d.Metadata.DeletionTimestamp is not null)
        {
            var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, false, ct).ConfigureAwait(false);
            await SyncDeploymentStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
            return;
        }
        await CheckPausedConditionsAsync(state, ct).ConfigureAwait(false);
        if (state.D.Spec.Paused == true)
        {
            await SyncScaleAsync(state, rsList, ct).ConfigureAwait(false);
            return;
        }
        if (await IsScalingEventAsync(state, rsList, ct).ConfigureAwait(false))
        {
            await SyncScaleAsync(state, rsList, ct).ConfigureAwait(false);
            return;
        }
        if (state.D.Spec.Strategy?.Type == "Recreate")
        {
            await RolloutRecreateAsync(state, rsList, ct).ConfigureAwait(false);
        }
        else
        {
            await RolloutRollingAsync(state, rsList, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The Deployment as last written by this sync (each write returns the newer object) and its event reference.</summary>
    private sealed class SyncState(V1Deployment d, V1ObjectReference reference)
    {
        public V1Deployment D { get; set; } = d;

        public V1ObjectReference Reference { get; } = reference;
    }

    private static IEnumerable<V1ReplicaSet> Opt(V1ReplicaSet? rs) => rs is null ? [] : [rs];

    private async Task<bool> CanAdoptAsync(V1Deployment d, CancellationToken ct)
    {
        try
        {
            var fresh = await _client.AppsV1.ReadNamespacedDeploymentAsync(d.Metadata.Name, d.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            return fresh.Metadata.Uid == d.Metadata.Uid && fresh.Metadata.DeletionTimestamp is null;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    // ---- writes ----

    private async Task WriteStatusAsync(SyncState state, CancellationToken ct) => state.D = await WriteStatusAsync(state.D, ct).ConfigureAwait(false);

    private async Task<V1Deployment> WriteStatusAsync(V1Deployment d, CancellationToken ct)
    {
        var updated = await _client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(d, d.Metadata.Name, d.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        updated.Status ??= new V1DeploymentStatus();
        return updated;
    }

    /// <summary>
    /// SetDeploymentRevision. Upstream writes the annotation with the status update (its status strategy keeps
    /// annotations); Switchboard's status subresource resets metadata as most kinds do, so it is a merge patch.
    /// </summary>
    private async Task SetRevisionAsync(SyncState state, string revision, CancellationToken ct)
    {
        if (state.D.Metadata.Annotations?.TryGetValue(DeploymentUtil.RevisionAnnotation, out var current) == true && current == revision)
        {
            return;
        }
        var patch = new System.Text.Json.Nodes.JsonObject
        {
            ["metadata"] = new System.Text.Json.Nodes.JsonObject
            {
                ["annotations"] = new System.Text.Json.Nodes.JsonObject { [DeploymentUtil.RevisionAnnotation] = revision },
            },
        };
        var status = state.D.Status;
        var updated = await _client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), state.D.Metadata.Name, state.D.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        // Keep the status this sync is building; the patch only moved metadata and the resourceVersion.
        updated.Status = status;
        state.D = updated;
    }

    private async Task<V1ReplicaSet> ScaleReplicaSetAsync(SyncState state, V1ReplicaSet rs, int size, string? operation, CancellationToken ct)
    {
        var d = state.D;
        var sizeChanged = DeploymentUtil.SpecReplicas(rs) != size;
        var annotationsChanged = DeploymentUtil.ReplicasAnnotationsNeedUpdate(rs, DeploymentUtil.Replicas(d), DeploymentUtil.Replicas(d) + DeploymentUtil.MaxSurge(d));
        if (!sizeChanged && !annotationsChanged)
        {
            return rs;
        }
        var old = DeploymentUtil.SpecReplicas(rs);
        var copy = Copy(rs);
        copy.Spec.Replicas = size;
        DeploymentUtil.SetReplicasAnnotations(copy, DeploymentUtil.Replicas(d), DeploymentUtil.Replicas(d) + DeploymentUtil.MaxSurge(d));
        var updated = await _client.AppsV1.ReplaceNamespacedReplicaSetAsync(copy, rs.Metadata.Name, rs.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        if (sizeChanged)
        {
            operation ??= size > old ? "up" : "down";
            _recorder.Record(state.Reference, "Normal", "ScalingReplicaSet", $"Scaled {operation} replica set {rs.Metadata.Name} from {old} to {size}");
        }
        return updated;
    }

    // ---- new ReplicaSet and revisions (getAllReplicaSetsAndSyncRevision / getNewReplicaSet) ----

    private async Task<(V1ReplicaSet? New, List<V1ReplicaSet> Old)> GetAllReplicaSetsAndSyncRevisionAsync(SyncState state, List<V1ReplicaSet> rsList, bool create, CancellationToken ct)
    {
        var d = state.D;
        var existing = DeploymentUtil.FindNew(d, rsList);
        var old = rsList.Where(rs => !ReferenceEquals(rs, existing)).ToList();
        var newRevision = (DeploymentUtil.MaxRevision(old) + 1).ToString(CultureInfo.InvariantCulture);
        var now = _time.GetUtcNow();
        if (existing is not null)
        {
            var copy = Copy(existing);
            var annotationsChanged = DeploymentUtil.SetNewReplicaSetAnnotations(d, copy, newRevision, true);
            var minReadyChanged = (copy.Spec.MinReadySeconds ?? 0) != (d.Spec.MinReadySeconds ?? 0);
            if (annotationsChanged || minReadyChanged)
            {
                copy.Spec.MinReadySeconds = d.Spec.MinReadySeconds;
                var updated = await _client.AppsV1.ReplaceNamespacedReplicaSetAsync(copy, copy.Metadata.Name, copy.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
                return (updated, old);
            }
            await SetRevisionAsync(state, copy.Metadata.Annotations![DeploymentUtil.RevisionAnnotation], ct).ConfigureAwait(false);
            if (DeploymentUtil.HasProgressDeadline(state.D) && DeploymentUtil.GetCondition(state.D.Status, DeploymentUtil.Progressing) is null)
            {
                DeploymentUtil.SetCondition(state.D.Status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "True", DeploymentUtil.FoundNewRSReason, $"Found new replica set \"{copy.Metadata.Name}\"", now));
                await WriteStatusAsync(state, ct).ConfigureAwait(false);
            }
            return (copy, old);
        }
        if (!create)
        {
            return (null, old);
        }

        var template = Copy(d.Spec.Template);
        var hash = DeploymentUtil.ComputeHash(template, d.Status?.CollisionCount);
        template.Metadata ??= new V1ObjectMeta();
        template.Metadata.Labels = new Dictionary<string, string>(template.Metadata.Labels ?? new Dictionary<string, string>()) { [DeploymentUtil.PodTemplateHashLabel] = hash };
        var selector = Copy(d.Spec.Selector);
        selector.MatchLabels = new Dictionary<string, string>(selector.MatchLabels ?? new Dictionary<string, string>()) { [DeploymentUtil.PodTemplateHashLabel] = hash };
        var newRS = new V1ReplicaSet
        {
            ApiVersion = "apps/v1",
            Kind = "ReplicaSet",
            Metadata = new V1ObjectMeta
            {
                Name = d.Metadata.Name + "-" + hash,
                NamespaceProperty = d.Metadata.NamespaceProperty,
                OwnerReferences = [PodUtil.ControllerRef(d, "apps/v1", "Deployment")],
                Labels = new Dictionary<string, string>(template.Metadata.Labels),
            },
            Spec = new V1ReplicaSetSpec { Replicas = 0, MinReadySeconds = d.Spec.MinReadySeconds, Selector = selector, Template = template },
        };
        var count = DeploymentUtil.NewRSNewReplicas(d, [.. old, newRS], newRS);
        newRS.Spec.Replicas = count;
        DeploymentUtil.SetNewReplicaSetAnnotations(d, newRS, newRevision, false);

        V1ReplicaSet created;
        var alreadyExists = false;
        try
        {
            created = await _client.AppsV1.CreateNamespacedReplicaSetAsync(newRS, d.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // AlreadyExists: ours with an equal template (a slow cache), or a hash collision.
            alreadyExists = true;
            var found = await _client.AppsV1.ReadNamespacedReplicaSetAsync(newRS.Metadata.Name, d.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            if (PodUtil.ControllerOf(found)?.Uid == d.Metadata.Uid && DeploymentUtil.EqualIgnoreHash(d.Spec.Template, found.Spec.Template))
            {
                created = found;
            }
            else
            {
                state.D.Status.CollisionCount = (state.D.Status.CollisionCount ?? 0) + 1;
                await WriteStatusAsync(state, ct).ConfigureAwait(false);
                Log.Collision(_logger, PodUtil.Key(d), state.D.Status.CollisionCount.Value);
                throw;
            }
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden && e.Response.Content?.Contains("NamespaceTerminating", StringComparison.Ordinal) == true)
        {
            throw;
        }
        catch (HttpOperationException e)
        {
            var msg = $"Failed to create new replica set \"{newRS.Metadata.Name}\": {ReplicaSetController.ApiMessage(e)}";
            if (DeploymentUtil.HasProgressDeadline(d))
            {
                DeploymentUtil.SetCondition(state.D.Status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "False", DeploymentUtil.FailedRSCreateReason, msg, now));
                try
                {
                    await WriteStatusAsync(state, ct).ConfigureAwait(false);
                }
                catch (HttpOperationException)
                {
                }
            }
            _recorder.Record(state.Reference, "Warning", DeploymentUtil.FailedRSCreateReason, msg);
            throw;
        }
        if (!alreadyExists && count > 0)
        {
            _recorder.Record(state.Reference, "Normal", "ScalingReplicaSet", $"Scaled up replica set {created.Metadata.Name} from 0 to {count}");
        }
        await SetRevisionAsync(state, newRevision, ct).ConfigureAwait(false);
        if (!alreadyExists && DeploymentUtil.HasProgressDeadline(state.D))
        {
            DeploymentUtil.SetCondition(state.D.Status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "True", DeploymentUtil.NewReplicaSetReason, $"Created new replica set \"{created.Metadata.Name}\"", now));
            await WriteStatusAsync(state, ct).ConfigureAwait(false);
        }
        return (created, old);
    }

    // ---- pause, scale (sync.go) ----

    private async Task CheckPausedConditionsAsync(SyncState state, CancellationToken ct)
    {
        var d = state.D;
        if (!DeploymentUtil.HasProgressDeadline(d))
        {
            return;
        }
        var cond = DeploymentUtil.GetCondition(d.Status, DeploymentUtil.Progressing);
        if (cond?.Reason == DeploymentUtil.TimedOutReason)
        {
            return;
        }
        var pausedCondExists = cond?.Reason == DeploymentUtil.PausedDeployReason;
        var now = _time.GetUtcNow();
        if (d.Spec.Paused == true && !pausedCondExists)
        {
            DeploymentUtil.SetCondition(d.Status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "Unknown", DeploymentUtil.PausedDeployReason, "Deployment is paused", now));
        }
        else if (d.Spec.Paused != true && pausedCondExists)
        {
            DeploymentUtil.SetCondition(d.Status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "Unknown", DeploymentUtil.ResumedDeployReason, "Deployment is resumed", now));
        }
        else
        {
            return;
        }
        await WriteStatusAsync(state, ct).ConfigureAwait(false);
    }

    private async Task<bool> IsScalingEventAsync(SyncState state, List<V1ReplicaSet> rsList, CancellationToken ct)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, false, ct).ConfigureAwait(false);
        foreach (var rs in DeploymentUtil.Active([.. oldRSs, newRS]))
        {
            if (DeploymentUtil.TryGetIntAnnotation(rs, DeploymentUtil.DesiredReplicasAnnotation, out var desired) && desired != DeploymentUtil.Replicas(state.D))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>upstream sync(): scale only, then status (paused Deployments and scaling events).</summary>
    private async Task SyncScaleAsync(SyncState state, List<V1ReplicaSet> rsList, CancellationToken ct)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, false, ct).ConfigureAwait(false);
        (newRS, oldRSs) = await ScaleAsync(state, newRS, oldRSs, ct).ConfigureAwait(false);
        if (state.D.Spec.Paused == true)
        {
            await CleanupAsync(state, oldRSs, ct).ConfigureAwait(false);
        }
        await SyncDeploymentStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
    }

    private async Task<(V1ReplicaSet? New, List<V1ReplicaSet> Old)> ScaleAsync(SyncState state, V1ReplicaSet? newRS, List<V1ReplicaSet> oldRSs, CancellationToken ct)
    {
        var d = state.D;
        var replicas = DeploymentUtil.Replicas(d);
        var all = oldRSs.Concat(Opt(newRS)).ToList();
        var active = DeploymentUtil.Active(all);
        V1ReplicaSet? target = null;
        if (active.Count == 1)
        {
            target = active[0];
        }
        else if (active.Count == 0 && all.Count > 0)
        {
            target = newRS ?? oldRSs.OrderByDescending(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue).First();
        }
        if (target is not null)
        {
            if (DeploymentUtil.SpecReplicas(target) == replicas)
            {
                return (newRS, oldRSs);
            }
            var scaled = await ScaleReplicaSetAsync(state, target, replicas, null, ct).ConfigureAwait(false);
            return Replace(newRS, oldRSs, scaled);
        }
        if (all.Count == 0)
        {
            return (newRS, oldRSs);
        }
        // Saturated: the new ReplicaSet alone serves the desired replicas, so the old ones go.
        if (newRS is not null && DeploymentUtil.TryGetIntAnnotation(newRS, DeploymentUtil.DesiredReplicasAnnotation, out var desired) && desired == replicas && (newRS.Status?.AvailableReplicas ?? 0) == replicas)
        {
            foreach (var old in DeploymentUtil.Active(oldRSs))
            {
                var scaled = await ScaleReplicaSetAsync(state, old, 0, null, ct).ConfigureAwait(false);
                (newRS, oldRSs) = Replace(newRS, oldRSs, scaled);
            }
            return (newRS, oldRSs);
        }
        if (DeploymentUtil.IsRollingUpdate(d))
        {
            var sizes = DeploymentUtil.ProportionalSizes(d, active);
            var operation = DeploymentUtil.ReplicaCount(active) < sizes.Values.Sum() ? "up" : "down";
            foreach (var rs in active)
            {
                var scaled = await ScaleReplicaSetAsync(state, rs, sizes[rs.Metadata.Name], operation, ct).ConfigureAwait(false);
                (newRS, oldRSs) = Replace(newRS, oldRSs, scaled);
            }
        }
        return (newRS, oldRSs);
    }

    private static (V1ReplicaSet? New, List<V1ReplicaSet> Old) Replace(V1ReplicaSet? newRS, List<V1ReplicaSet> oldRSs, V1ReplicaSet updated)
    {
        if (newRS is not null && newRS.Metadata.Uid == updated.Metadata.Uid)
        {
            return (updated, oldRSs);
        }
        return (newRS, [.. oldRSs.Select(r => r.Metadata.Uid == updated.Metadata.Uid ? updated : r)]);
    }

    /// <summary>cleanupDeployment: delete the oldest idle ReplicaSets beyond revisionHistoryLimit.</summary>
    private async Task CleanupAsync(SyncState state, List<V1ReplicaSet> oldRSs, CancellationToken ct)
    {
        var d = state.D;
        if (!DeploymentUtil.HasRevisionHistoryLimit(d))
        {
            return;
        }
        var cleanable = oldRSs.Where(rs => rs.Metadata.DeletionTimestamp is null).ToList();
        var diff = cleanable.Count - d.Spec.RevisionHistoryLimit!.Value;
        if (diff <= 0)
        {
            return;
        }
        var ordered = cleanable.OrderBy(DeploymentUtil.Revision).ThenBy(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal).ToList();
        for (var i = 0; i < diff; i++)
        {
            var rs = ordered[i];
            if ((rs.Status?.Replicas ?? 0) != 0 || DeploymentUtil.SpecReplicas(rs) != 0 || (rs.Metadata.Generation ?? 0) > (rs.Status?.ObservedGeneration ?? 0) || rs.Metadata.DeletionTimestamp is not null)
            {
                continue;
            }
            try
            {
                await _client.AppsV1.DeleteNamespacedReplicaSetAsync(rs.Metadata.Name, rs.Metadata.NamespaceProperty,
                    new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = rs.Metadata.Uid } }, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            {
            }
        }
    }

    // ---- status (sync.go syncDeploymentStatus, progress.go syncRolloutStatus) ----

    private async Task SyncDeploymentStatusAsync(SyncState state, List<V1ReplicaSet> all, V1ReplicaSet? newRS, CancellationToken ct)
    {
        var status = DeploymentUtil.CalculateStatus(all, newRS, state.D, _time.GetUtcNow());
        if (SameStatus(state.D.Status, status))
        {
            return;
        }
        state.D.Status = status;
        await WriteStatusAsync(state, ct).ConfigureAwait(false);
    }

    private async Task SyncRolloutStatusAsync(SyncState state, List<V1ReplicaSet> all, V1ReplicaSet? newRS, CancellationToken ct)
    {
        var d = state.D;
        var now = _time.GetUtcNow();
        var status = DeploymentUtil.CalculateStatus(all, newRS, d, now);
        if (!DeploymentUtil.HasProgressDeadline(d))
        {
            DeploymentUtil.RemoveCondition(status, DeploymentUtil.Progressing);
        }
        var current = DeploymentUtil.GetCondition(d.Status, DeploymentUtil.Progressing);
        var isComplete = status.Replicas == status.UpdatedReplicas && current?.Reason == DeploymentUtil.NewRSAvailableReason;
        if (DeploymentUtil.HasProgressDeadline(d) && !isComplete)
        {
            if (DeploymentUtil.IsComplete(d, status))
            {
                var msg = newRS is null ? $"Deployment \"{d.Metadata.Name}\" has successfully progressed." : $"ReplicaSet \"{newRS.Metadata.Name}\" has successfully progressed.";
                DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "True", DeploymentUtil.NewRSAvailableReason, msg, now));
            }
            else if (DeploymentUtil.IsProgressing(d, status))
            {
                var msg = newRS is null ? $"Deployment \"{d.Metadata.Name}\" is progressing." : $"ReplicaSet \"{newRS.Metadata.Name}\" is progressing.";
                var condition = DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "True", DeploymentUtil.ReplicaSetUpdatedReason, msg, now);
                // Progress refreshes lastUpdateTime even with the same reason; lastTransitionTime stays while True.
                if (current is not null)
                {
                    if (current.Status == "True")
                    {
                        condition.LastTransitionTime = current.LastTransitionTime;
                    }
                    DeploymentUtil.RemoveCondition(status, DeploymentUtil.Progressing);
                }
                DeploymentUtil.SetCondition(status, condition);
            }
            else if (DeploymentUtil.IsTimedOut(d, status, now))
            {
                var msg = newRS is null ? $"Deployment \"{d.Metadata.Name}\" has timed out progressing." : $"ReplicaSet \"{newRS.Metadata.Name}\" has timed out progressing.";
                DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition(DeploymentUtil.Progressing, "False", DeploymentUtil.TimedOutReason, msg, now));
            }
        }
        // The first ReplicaFailure of the ReplicaSets (new first) becomes the Deployment's.
        var failure = Opt(newRS).Concat(all.Where(r => !ReferenceEquals(r, newRS)))
            .SelectMany(r => r.Status?.Conditions?.Where(c => c.Type == "ReplicaFailure" && c.Status == "True") ?? [])
            .FirstOrDefault();
        if (failure is not null)
        {
            DeploymentUtil.SetCondition(status, new V1DeploymentCondition
            {
                Type = DeploymentUtil.ReplicaFailure,
                Status = failure.Status,
                Reason = failure.Reason,
                Message = failure.Message,
                LastTransitionTime = failure.LastTransitionTime,
                LastUpdateTime = failure.LastTransitionTime,
            });
        }
        else
        {
            DeploymentUtil.RemoveCondition(status, DeploymentUtil.ReplicaFailure);
        }

        if (SameStatus(d.Status, status))
        {
            RequeueStuck(state.D, status, now);
            return;
        }
        state.D.Status = status;
        await WriteStatusAsync(state, ct).ConfigureAwait(false);
        RequeueStuck(state.D, status, now);
    }

    /// <summary>requeueStuckDeployment: look again when the progress deadline would pass.</summary>
    private void RequeueStuck(V1Deployment d, V1DeploymentStatus status, DateTimeOffset now)
    {
        var current = DeploymentUtil.GetCondition(status, DeploymentUtil.Progressing);
        if (!DeploymentUtil.HasProgressDeadline(d) || current is null || current.Reason is DeploymentUtil.NewRSAvailableReason or DeploymentUtil.TimedOutReason || DeploymentUtil.IsComplete(d, status))
        {
            return;
        }
        var updated = current.LastUpdateTime is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : now;
        var after = updated.AddSeconds(d.Spec.ProgressDeadlineSeconds!.Value) - now;
        _queue.AddAfter(PodUtil.Key(d), after < TimeSpan.FromSeconds(1) ? TimeSpan.Zero : after + TimeSpan.FromSeconds(1));
    }

    private static bool SameStatus(V1DeploymentStatus? a, V1DeploymentStatus b) =>
        a is not null && KubernetesJson.Serialize(a) == KubernetesJson.Serialize(b);

    // ---- rollouts (rolling.go, recreate.go) ----

    private async Task RolloutRollingAsync(SyncState state, List<V1ReplicaSet> rsList, CancellationToken ct)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, true, ct).ConfigureAwait(false);
        var d = state.D;
        // reconcileNewReplicaSet
        var replicas = DeploymentUtil.Replicas(d);
        if (newRS is not null && DeploymentUtil.SpecReplicas(newRS) != replicas)
        {
            var target = DeploymentUtil.SpecReplicas(newRS) > replicas ? replicas : DeploymentUtil.NewRSNewReplicas(d, [.. oldRSs, newRS], newRS);
            if (target != DeploymentUtil.SpecReplicas(newRS))
            {
                newRS = await ScaleReplicaSetAsync(state, newRS, target, null, ct).ConfigureAwait(false);
                await SyncRolloutStatusAsync(state, [.. oldRSs, newRS], newRS, ct).ConfigureAwait(false);
                return;
            }
        }
        // reconcileOldReplicaSets
        var (scaledDown, olds) = await ReconcileOldReplicaSetsAsync(state, oldRSs, newRS, ct).ConfigureAwait(false);
        oldRSs = olds;
        if (scaledDown)
        {
            await SyncRolloutStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
            return;
        }
        if (DeploymentUtil.IsComplete(state.D, state.D.Status))
        {
            await CleanupAsync(state, oldRSs, ct).ConfigureAwait(false);
        }
        await SyncRolloutStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
    }

    private async Task<(bool ScaledDown, List<V1ReplicaSet> Old)> ReconcileOldReplicaSetsAsync(SyncState state, List<V1ReplicaSet> oldRSs, V1ReplicaSet? newRS, CancellationToken ct)
    {
        var d = state.D;
        var activeOld = DeploymentUtil.Active(oldRSs);
        var oldPods = DeploymentUtil.ReplicaCount(activeOld);
        if (oldPods == 0)
        {
            return (false, oldRSs);
        }
        var all = activeOld.Concat(Opt(newRS)).ToList();
        var plan = RollingPlan.OldScaleDown(d, all.Select(Snapshot).ToList(), activeOld.Select(Snapshot).ToList(), newRS is null ? null : Snapshot(newRS));
        var changed = false;
        foreach (var (name, size) in plan)
        {
            var rs = oldRSs.First(r => r.Metadata.Name == name);
            var scaled = await ScaleReplicaSetAsync(state, rs, size, null, ct).ConfigureAwait(false);
            oldRSs = [.. oldRSs.Select(r => r.Metadata.Uid == scaled.Metadata.Uid ? scaled : r)];
            changed = true;
        }
        return (changed, oldRSs);
    }

    private static RollingPlan.Set Snapshot(V1ReplicaSet rs) =>
        new(rs.Metadata.Name, DeploymentUtil.SpecReplicas(rs), rs.Status?.AvailableReplicas ?? 0, rs.Metadata.CreationTimestamp ?? DateTime.MinValue);

    private async Task RolloutRecreateAsync(SyncState state, List<V1ReplicaSet> rsList, CancellationToken ct)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, false, ct).ConfigureAwait(false);
        var scaledDown = false;
        foreach (var old in DeploymentUtil.Active(oldRSs))
        {
            var scaled = await ScaleReplicaSetAsync(state, old, 0, null, ct).ConfigureAwait(false);
            oldRSs = [.. oldRSs.Select(r => r.Metadata.Uid == scaled.Metadata.Uid ? scaled : r)];
            scaledDown = true;
        }
        if (scaledDown)
        {
            await SyncRolloutStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
            return;
        }
        // Recreate waits until no pod of an old ReplicaSet runs (terminating ones included).
        if (OldPodsRunning(newRS, oldRSs))
        {
            await SyncRolloutStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
            return;
        }
        if (newRS is null)
        {
            (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(state, rsList, true, ct).ConfigureAwait(false);
        }
        if (newRS is not null && DeploymentUtil.SpecReplicas(newRS) != DeploymentUtil.Replicas(state.D))
        {
            newRS = await ScaleReplicaSetAsync(state, newRS, DeploymentUtil.Replicas(state.D), null, ct).ConfigureAwait(false);
        }
        if (DeploymentUtil.IsComplete(state.D, state.D.Status))
        {
            await CleanupAsync(state, oldRSs, ct).ConfigureAwait(false);
        }
        await SyncRolloutStatusAsync(state, [.. oldRSs, .. Opt(newRS)], newRS, ct).ConfigureAwait(false);
    }

    private bool OldPodsRunning(V1ReplicaSet? newRS, List<V1ReplicaSet> oldRSs)
    {
        if (oldRSs.Any(r => (r.Status?.Replicas ?? 0) > 0))
        {
            return true;
        }
        foreach (var rs in oldRSs)
        {
            if (newRS is not null && rs.Metadata.Uid == newRS.Metadata.Uid)
            {
                continue;
            }
            foreach (var pod in _pods.Lister.ByIndex(ReplicaSetController.ControllerUidIndex, rs.Metadata.Uid))
            {
                if (!PodUtil.IsTerminal(pod))
                {
                    return true;
                }
            }
        }
        return false;
    }

    // ---- events ----

    private V1Deployment? ResolveController(string? ns, V1OwnerReference? reference)
    {
        if (reference is null || reference.Kind != "Deployment" || !_deployments.Store.TryGet(ns, reference.Name, out var d) || d.Metadata.Uid != reference.Uid)
        {
            return null;
        }
        return d;
    }

    private void OnReplicaSet(V1ReplicaSet rs)
    {
        if (ResolveController(rs.Metadata.NamespaceProperty, PodUtil.ControllerOf(rs)) is { } d)
        {
            _queue.Add(PodUtil.Key(d));
            return;
        }
        if (PodUtil.ControllerOf(rs) is null)
        {
            EnqueueMatching(rs);
        }
    }

    private void OnReplicaSetUpdate(V1ReplicaSet oldRs, V1ReplicaSet rs)
    {
        var oldRef = PodUtil.ControllerOf(oldRs);
        var newRef = PodUtil.ControllerOf(rs);
        if (oldRef?.Uid != newRef?.Uid && ResolveController(oldRs.Metadata.NamespaceProperty, oldRef) is { } oldD)
        {
            _queue.Add(PodUtil.Key(oldD));
        }
        OnReplicaSet(rs);
    }

    private void EnqueueMatching(V1ReplicaSet rs)
    {
        foreach (var d in _deployments.Lister.List(rs.Metadata.NamespaceProperty))
        {
            try
            {
                var selector = LabelSelector.FromLabelSelector(d.Spec?.Selector);
                if (!selector.IsEmpty && selector.Matches(rs.Metadata.Labels))
                {
                    _queue.Add(PodUtil.Key(d));
                }
            }
            catch (SelectorException)
            {
            }
        }
    }

    /// <summary>Recreate waits for old pods to be gone, so their deletion wakes the Deployment.</summary>
    private void OnPodDelete(V1Pod pod)
    {
        var rsRef = PodUtil.ControllerOf(pod);
        if (rsRef?.Kind != "ReplicaSet" || !_replicaSets.Store.TryGet(pod.Metadata.NamespaceProperty, rsRef.Name, out var rs) || rs.Metadata.Uid != rsRef.Uid)
        {
            return;
        }
        if (ResolveController(rs.Metadata.NamespaceProperty, PodUtil.ControllerOf(rs)) is { } d && d.Spec?.Strategy?.Type == "Recreate")
        {
            _queue.Add(PodUtil.Key(d));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Deployment controller started: {Workers} workers")]
        public static partial void Started(ILogger logger, int workers);

        [LoggerMessage(2, LogLevel.Information, "Error syncing deployment {Key}, retrying: {Error}")]
        public static partial void Retrying(ILogger logger, string key, string error);

        [LoggerMessage(3, LogLevel.Warning, "Deployment {Key} has an invalid selector: {Error}")]
        public static partial void BadSelector(ILogger logger, string key, string error);

        [LoggerMessage(4, LogLevel.Information, "Found a hash collision for deployment {Key}, bumping collisionCount to {Count}")]
        public static partial void Collision(ILogger logger, string key, int count);
    }
}
