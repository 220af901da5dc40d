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

/// <summary>The Deployment controller: RollingUpdate and Recreate (upstream rolling.go, recreate.go).</summary>
internal sealed partial class DeploymentController
{
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
}
