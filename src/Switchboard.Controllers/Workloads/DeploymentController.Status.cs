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

/// <summary>The Deployment controller: status and the Progressing/Available conditions (upstream sync.go, progress.go).</summary>
internal sealed partial class DeploymentController
{
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
}
