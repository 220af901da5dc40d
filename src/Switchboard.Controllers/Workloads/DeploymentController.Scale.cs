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

/// <summary>The Deployment controller: pause conditions, scaling events, proportional scaling and history cleanup (upstream sync.go).</summary>
internal sealed partial class DeploymentController
{
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
}
