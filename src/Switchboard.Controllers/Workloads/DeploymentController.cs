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
