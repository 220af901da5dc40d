using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Switchboard.Api.Selectors;

namespace Switchboard.Controllers.Workloads;

/// <summary>
/// Upstream ControllerRefManager (ClaimPods / ClaimReplicaSets): of the candidate objects in the owner's
/// namespace, keeps those it controls and that match its selector, adopts matching orphans (only while the owner,
/// re-read from the API, still exists with the same UID and is not being deleted), and releases the ones it
/// controls that no longer match. Writes are JSON patches guarded by <c>test</c> operations on the UID (and on the
/// resourceVersion for adoption), so a concurrent change makes the patch fail instead of clobbering it.
/// </summary>
internal sealed class ControllerRefManager<T>(
    IKubernetesObject<V1ObjectMeta> owner,
    string ownerApiVersion,
    string ownerKind,
    LabelSelector selector,
    Func<CancellationToken, Task<bool>> canAdopt,
    Func<string, string, string, CancellationToken, Task> patch)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private bool? _canAdopt;

    public async Task<List<T>> ClaimAsync(IEnumerable<T> candidates, CancellationToken ct)
    {
        var claimed = new List<T>();
        foreach (var obj in candidates)
        {
            var controller = PodUtil.ControllerOf(obj);
            var matches = selector.Matches(obj.Metadata.Labels);
            if (controller is not null)
            {
                if (controller.Uid != owner.Metadata.Uid)
                {
                    continue;
                }
                if (matches)
                {
                    claimed.Add(obj);
                    continue;
                }
                // Ours but no longer selected: release it, unless we are going away anyway.
                if (owner.Metadata.DeletionTimestamp is null && obj.Metadata.DeletionTimestamp is null)
                {
                    await ReleaseAsync(obj, ct).ConfigureAwait(false);
                }
                continue;
            }
            if (!matches || owner.Metadata.DeletionTimestamp is not null || obj.Metadata.DeletionTimestamp is not null)
            {
                continue;
            }
            _canAdopt ??= await canAdopt(ct).ConfigureAwait(false);
            if (!_canAdopt.Value)
            {
                continue;
            }
            if (await AdoptAsync(obj, ct).ConfigureAwait(false))
            {
                claimed.Add(obj);
            }
        }
        return claimed;
    }

    private async Task<bool> AdoptAsync(T obj, CancellationToken ct)
    {
        var reference = PodUtil.ControllerRef(owner, ownerApiVersion, ownerKind);
        var refs = new JsonArray();
        foreach (var r in obj.Metadata.OwnerReferences ?? [])
        {
            refs.Add(JsonNode.Parse(KubernetesJson.Serialize(r)));
        }
        refs.Add(JsonNode.Parse(KubernetesJson.Serialize(reference)));
        var ops = new JsonArray(
            new JsonObject { ["op"] = "test", ["path"] = "/metadata/uid", ["value"] = obj.Metadata.Uid },
            new JsonObject { ["op"] = "test", ["path"] = "/metadata/resourceVersion", ["value"] = obj.Metadata.ResourceVersion },
            new JsonObject { ["op"] = "add", ["path"] = "/metadata/ownerReferences", ["value"] = refs });
        try
        {
            await patch(obj.Metadata.NamespaceProperty, obj.Metadata.Name, ops.ToJsonString(), ct).ConfigureAwait(false);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity)
        {
            // Gone or changed meanwhile: the informer event that follows brings it back to us if it still matters.
            return false;
        }
    }

    private async Task ReleaseAsync(T obj, CancellationToken ct)
    {
        var refs = obj.Metadata.OwnerReferences!;
        var index = refs.ToList().FindIndex(r => r.Uid == owner.Metadata.Uid);
        var ops = new JsonArray(
            new JsonObject { ["op"] = "test", ["path"] = "/metadata/uid", ["value"] = obj.Metadata.Uid },
            new JsonObject { ["op"] = "test", ["path"] = $"/metadata/ownerReferences/{index}/uid", ["value"] = owner.Metadata.Uid },
            new JsonObject { ["op"] = "remove", ["path"] = $"/metadata/ownerReferences/{index}" });
        try
        {
            await patch(obj.Metadata.NamespaceProperty, obj.Metadata.Name, ops.ToJsonString(), ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity)
        {
            // As upstream: a release that finds the object gone or changed is not an error.
        }
    }
}
