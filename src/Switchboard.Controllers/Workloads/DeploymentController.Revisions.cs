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

/// <summary>The Deployment controller: finding or creating the new ReplicaSet and keeping revisions (upstream sync.go getAllReplicaSetsAndSyncRevision).</summary>
internal sealed partial class DeploymentController
{
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
}
