using System.Globalization;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Switchboard.Api.Serialization;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Http;

internal sealed partial class ApiHandler
{
    /// <summary>
    /// <c>POST /api/v1/namespaces/{ns}/pods/{name}/binding</c> (upstream BindingREST): a v1 Binding assigns the pod
    /// to <c>target.name</c>. Sets spec.nodeName, merges the Binding's annotations and sets PodScheduled=True; 409
    /// when the pod is already assigned, is being deleted or has scheduling gates; the Binding's uid and
    /// resourceVersion act as preconditions. Answers 201 with a Success Status, as upstream.
    /// </summary>
    private async Task BindPodAsync(HttpContext ctx, ResourceStorage storage, string ns, string name, RequestQuery q)
    {
        var json = await ReadBodyJsonAsync(ctx).ConfigureAwait(false);
        V1Binding binding;
        try
        {
            binding = KubeJson.Deserialize<V1Binding>(json) ?? throw ApiException.BadRequest("Binding in version \"v1\" cannot be handled as a Binding: empty body");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("Binding in version \"v1\" cannot be handled as a Binding: " + DescribeJsonError(e));
        }
        if (!string.IsNullOrEmpty(binding.ApiVersion) && binding.ApiVersion != "v1")
        {
            throw ApiException.BadRequest($"the API version in the data ({binding.ApiVersion}) does not match the expected API version (v1)");
        }
        if (!string.IsNullOrEmpty(binding.Kind) && binding.Kind != "Binding")
        {
            throw ApiException.BadRequest($"the kind in the data ({binding.Kind}) does not match the expected kind (Binding)");
        }
        binding.Metadata ??= new V1ObjectMeta();
        if (binding.Metadata.Name != name)
        {
            throw ApiException.BadRequest("name in URL does not match name in Binding object");
        }
        if (!string.IsNullOrEmpty(binding.Metadata.NamespaceProperty) && binding.Metadata.NamespaceProperty != ns)
        {
            throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        var errors = new List<FieldError>();
        if (!string.IsNullOrEmpty(binding.Target?.Kind) && binding.Target.Kind != "Node")
        {
            errors.Add(FieldError.NotSupported("target.kind", binding.Target.Kind, ["Node", "<empty>"]));
        }
        if (string.IsNullOrEmpty(binding.Target?.Name))
        {
            errors.Add(FieldError.Required("target.name"));
        }
        if (errors.Count > 0)
        {
            var text = errors.Count == 1 ? errors[0].ToString() : "[" + string.Join(", ", errors.Select(e => e.ToString())) + "]";
            throw new ApiException(422, "Invalid", $"Binding \"{name}\" is invalid: {text}")
            {
                DetailName = name,
                DetailKind = "Binding",
                Causes = [.. errors.Select(e => (e.Reason, e.Message, (string?)e.Field))],
            };
        }

        var node = binding.Target!.Name;
        var now = _time.GetUtcNow().UtcDateTime;
        await storage.UpdateAsync(ns, name, UpdateTarget.Binding, (live, _) =>
        {
            var pod = (V1Pod)live;
            if (pod.Metadata.DeletionTimestamp is not null)
            {
                throw BindingConflict(name, $"pod {name} is being deleted, cannot be assigned to a host");
            }
            if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
            {
                throw BindingConflict(name, $"pod {name} is already assigned to node \"{pod.Spec.NodeName}\"");
            }
            if (pod.Spec?.SchedulingGates is { Count: > 0 })
            {
                throw BindingConflict(name, $"pod {name} has non-empty .spec.schedulingGates");
            }
            // The Binding's uid and resourceVersion are the write's preconditions (checked by the storage).
            pod.Metadata.ResourceVersion = string.IsNullOrEmpty(binding.Metadata.ResourceVersion) ? null : binding.Metadata.ResourceVersion;
            if (!string.IsNullOrEmpty(binding.Metadata.Uid))
            {
                pod.Metadata.Uid = binding.Metadata.Uid;
            }
            pod.Spec ??= new V1PodSpec();
            pod.Spec.NodeName = node;
            if (binding.Metadata.Annotations is { Count: > 0 } annotations)
            {
                pod.Metadata.Annotations ??= new Dictionary<string, string>();
                foreach (var (k, v) in annotations)
                {
                    pod.Metadata.Annotations[k] = v;
                }
            }
            pod.Status ??= new V1PodStatus();
            pod.Status.Conditions ??= [];
            var scheduled = pod.Status.Conditions.FirstOrDefault(c => c.Type == "PodScheduled");
            if (scheduled is null)
            {
                pod.Status.Conditions.Add(new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = now });
            }
            else if (scheduled.Status != "True")
            {
                // podutil.UpdatePodCondition: a status change moves lastTransitionTime; the old reason/message go.
                scheduled.Status = "True";
                scheduled.Reason = null;
                scheduled.Message = null;
                scheduled.LastProbeTime = null;
                scheduled.LastTransitionTime = now;
            }
            return pod;
        }, new WriteOptions(q.DryRun, FieldManagerOf(ctx, q), "binding"), ctx.RequestAborted).ConfigureAwait(false);

        // Written by hand: the client library's V1Status converter cannot serialize.
        var status = new System.Text.Json.Nodes.JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject(),
            ["status"] = "Success",
            ["code"] = 201,
        };
        await WriteJsonAsync(ctx, 201, System.Text.Encoding.UTF8.GetBytes(status.ToJsonString())).ConfigureAwait(false);
    }

    private static ApiException BindingConflict(string name, string why) =>
        new(409, "Conflict", string.Create(CultureInfo.InvariantCulture, $"Operation cannot be fulfilled on pods/binding \"{name}\": {why}"))
        {
            DetailName = name,
            DetailKind = "pods/binding",
        };
}
