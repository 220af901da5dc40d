using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Switchboard.Api.Apply;
using Switchboard.Api.Patch;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Registry;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Http;

internal sealed partial class ApiHandler
{
    private async Task<string> PatchAsync(HttpContext ctx, ResourceStorage storage, RequestInfo ri, RequestQuery q)
    {
        var type = MediaTypes.BareType(ctx.Request.ContentType);
        if (type is not (MediaTypes.JsonPatch or MediaTypes.MergePatch or MediaTypes.StrategicMergePatch or MediaTypes.ApplyPatch))
        {
            throw new ApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {MediaTypes.JsonPatch}, {MediaTypes.MergePatch}, {MediaTypes.ApplyPatch}, {MediaTypes.StrategicMergePatch}");
        }
        var apply = type == MediaTypes.ApplyPatch;
        if (apply && string.IsNullOrEmpty(q.FieldManager))
        {
            throw new ApiException(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
            {
                DetailKind = "PatchOptions",
                DetailGroup = "meta.k8s.io",
                Causes = [("FieldValueRequired", "Required value: is required for apply patch", "fieldManager")],
            };
        }
        var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
        if (apply)
        {
            body = YamlToJson(body);
            if (ri.Subresource is null or "status")
            {
                return await ApplyAsync(ctx, storage, ri, q, body).ConfigureAwait(false);
            }
        }
        JsonNode patch;
        try
        {
            patch = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 128 }) ?? throw ApiException.BadRequest("the patch is empty");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("error decoding patch: " + e.Message);
        }
        var target = ri.Subresource switch
        {
            "status" => UpdateTarget.Status,
            _ => UpdateTarget.Main,
        };
        var warnings = new List<string>();
        var write = new WriteOptions(q.DryRun, FieldManagerOf(ctx, q), ri.Subresource == "scale" ? "scale" : null);
        var ct = ctx.RequestAborted;

        if (ri.Subresource == "scale")
        {
            var replicas = patch["spec"]?["replicas"]?.GetValue<int>() ?? throw ApiException.BadRequest("Scale.spec.replicas is required");
            var scaled = await storage.UpdateAsync(ri.Namespace, ri.Name!, UpdateTarget.Main, (live, _) => SetReplicas(live, replicas), write, ct).ConfigureAwait(false);
            await WriteJsonAsync(ctx, 200, ScaleOf(storage, scaled.Bytes)).ConfigureAwait(false);
            return "PATCH";
        }

        var updated = await storage.UpdateAsync(ri.Namespace, ri.Name!, target, (_, liveBytes) =>
        {
            var liveNode = JsonNode.Parse(liveBytes.Span)!;
            var liveRv = liveNode["metadata"]?["resourceVersion"]?.GetValue<string>();
            JsonNode patched;
            try
            {
                patched = type switch
                {
                    MediaTypes.JsonPatch => JsonPatch.Apply(liveNode, patch),
                    MediaTypes.MergePatch => MergePatch.Apply(liveNode, patch),
                    _ => StrategicMergePatch.Apply(liveNode, patch, storage.PatchMeta),
                };
            }
            catch (PatchException e)
            {
                throw new ApiException(e.StatusCode, e.Reason, e.StatusMessage);
            }
            var obj = DecodeObject(storage, Encoding.UTF8.GetBytes(patched.ToJsonString()), q, warnings);
            // Only a resourceVersion the patch itself set is a precondition; otherwise races are retried.
            if (obj.Metadata.ResourceVersion == liveRv)
            {
                obj.Metadata.ResourceVersion = null;
            }
            return obj;
        }, write, ct).ConfigureAwait(false);
        AddWarnings(ctx, warnings);
        await WriteObjectAsync(ctx, 200, storage, updated.Bytes).ConfigureAwait(false);
        return "PATCH";
    }

    /// <summary>
    /// The field manager of a non-apply write: the fieldManager parameter, else what precedes the first '/' of the
    /// User-Agent with unprintable characters dropped, at most 128 bytes (upstream managerOrUserAgent), so
    /// kubectl's writes are owned by "kubectl" and a client without either by "unknown".
    /// </summary>
    private static string FieldManagerOf(HttpContext ctx, RequestQuery q)
    {
        if (!string.IsNullOrEmpty(q.FieldManager))
        {
            return q.FieldManager;
        }
        var agent = ctx.Request.Headers.UserAgent.ToString();
        var slash = agent.IndexOf('/', StringComparison.Ordinal);
        var prefix = slash < 0 ? agent : agent[..slash];
        var sb = new StringBuilder();
        var bytes = 0;
        foreach (var rune in prefix.EnumerateRunes())
        {
            if (Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) is System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.OtherNotAssigned)
            {
                continue;
            }
            if (bytes + rune.Utf8SequenceLength > 128)
            {
                break;
            }
            bytes += rune.Utf8SequenceLength;
            sb.Append(rune.ToString());
        }
        return sb.ToString();
    }

    /// <summary>
    /// Server-side apply (PATCH with application/apply-patch+yaml) of the main resource or its status: the field
    /// manager merges the configuration into the live object (or into nothing, creating it) and records ownership;
    /// storage then writes it like any update, so dryRun, preconditions and the status/spec split still hold.
    /// </summary>
    private async Task<string> ApplyAsync(HttpContext ctx, ResourceStorage storage, RequestInfo ri, RequestQuery q, byte[] json)
    {
        JsonObject applied;
        try
        {
            applied = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 128 }) as JsonObject
                ?? throw ApiException.BadRequest("error decoding YAML: the apply configuration must be an object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("error decoding YAML: " + e.Message);
        }
        var fields = storage.FieldManager;
        var manager = q.FieldManager!;
        var apiVersion = storage.Info.GroupVersion;
        var warnings = new List<string>();
        var ct = ctx.RequestAborted;
        var write = new WriteOptions(q.DryRun, manager, ri.Subresource, Applied: true);
        try
        {
            fields.ValidateApplyRequest(applied, apiVersion);
            // Field validation (fieldValidation=Strict|Warn) and decodability of the configuration itself.
            _ = DecodeObject(storage, json, q, warnings);

            if (ri.Subresource is null && await storage.TryGetAsync(ri.Namespace, ri.Name!, ct).ConfigureAwait(false) is null)
            {
                var obj = DecodeApplied(storage, fields.Apply(null, applied, manager, q.Force, apiVersion, _time.GetUtcNow()));
                obj.Metadata.Name ??= ri.Name;
                if (obj.Metadata.Name != ri.Name)
                {
                    throw ApiException.BadRequest($"the name of the object ({obj.Metadata.Name}) does not match the name on the URL ({ri.Name})");
                }
                try
                {
                    var created = await storage.CreateAsync(ri.Namespace, obj, write, ct).ConfigureAwait(false);
                    AddWarnings(ctx, warnings);
                    await WriteObjectAsync(ctx, 201, storage, created.Bytes).ConfigureAwait(false);
                    return "APPLY";
                }
                catch (ApiException e) when (e.Reason == "AlreadyExists")
                {
                    // Created meanwhile by someone else: apply to that object instead.
                }
            }

            var target = ri.Subresource == "status" ? UpdateTarget.Status : UpdateTarget.Main;
            var updated = await storage.UpdateAsync(ri.Namespace, ri.Name!, target, (_, liveBytes) =>
            {
                var live = JsonNode.Parse(liveBytes.Span)!.AsObject();
                var liveRv = live["metadata"]?["resourceVersion"]?.GetValue<string>();
                var obj = DecodeApplied(storage, fields.Apply(live, applied, manager, q.Force, apiVersion, _time.GetUtcNow(), ri.Subresource));
                // Only a resourceVersion the configuration itself carries is a precondition.
                if (obj.Metadata.ResourceVersion == liveRv)
                {
                    obj.Metadata.ResourceVersion = null;
                }
                return obj;
            }, write, ct).ConfigureAwait(false);
            AddWarnings(ctx, warnings);
            await WriteObjectAsync(ctx, 200, storage, updated.Bytes).ConfigureAwait(false);
            return "APPLY";
        }
        catch (ApplyConflictException e)
        {
            // Upstream NewApplyConflict: 409 Conflict, details carrying only the causes.
            throw new ApiException(409, "Conflict", e.Message)
            {
                Causes = [.. e.Conflicts.Select(c => ("FieldManagerConflict", c.Message, (string?)c.Field))],
            };
        }
        catch (ApplyRequestException e)
        {
            throw new ApiException(e.StatusCode, e.Reason, e.Message);
        }
    }

    /// <summary>The merged object as the kind's model; fields the configuration had but the model lacks are dropped.</summary>
    private static IKubernetesObject<V1ObjectMeta> DecodeApplied(ResourceStorage storage, JsonObject merged)
    {
        var info = storage.Info;
        try
        {
            var obj = storage.Decode(Encoding.UTF8.GetBytes(merged.ToJsonString()));
            obj.Metadata ??= new V1ObjectMeta();
            return obj;
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: {DescribeJsonError(e)}");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: {e.Message}");
        }
    }

    private async Task CreateTokenAsync(HttpContext ctx, ResourceStorage storage, string ns, string name, RequestQuery q)
    {
        var sa = KubeJson.Deserialize<V1ServiceAccount>((await storage.GetAsync(ns, name, ctx.RequestAborted).ConfigureAwait(false)).Value.Span)!;
        var json = await ReadBodyJsonAsync(ctx).ConfigureAwait(false);
        Authenticationv1TokenRequest request;
        try
        {
            request = KubeJson.Deserialize<Authenticationv1TokenRequest>(json) ?? new Authenticationv1TokenRequest();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: " + DescribeJsonError(e));
        }
        request.Spec ??= new V1TokenRequestSpec();
        var seconds = request.Spec.ExpirationSeconds ?? 3600;
        if (seconds < 600)
        {
            throw new ApiException(422, "Invalid", "TokenRequest.authentication.k8s.io \"" + name + "\" is invalid: spec.expirationSeconds: Invalid value: " + seconds + ": may not specify a duration less than 10 minutes")
            {
                DetailName = name,
                DetailGroup = "authentication.k8s.io",
                DetailKind = "TokenRequest",
                Causes = [("FieldValueInvalid", "Invalid value: " + seconds + ": may not specify a duration less than 10 minutes", "spec.expirationSeconds")],
            };
        }
        var bound = request.Spec.BoundObjectRef;
        var (token, expires) = _tokens.Issue(ns, name, sa.Metadata.Uid, request.Spec.Audiences?.ToList(), seconds,
            bound is null ? null : new BoundObjectReference(bound.Kind, bound.Name, bound.Uid));
        request.ApiVersion = "authentication.k8s.io/v1";
        request.Kind = "TokenRequest";
        request.Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, CreationTimestamp = _time.GetUtcNow().UtcDateTime };
        request.Spec.ExpirationSeconds = seconds;
        request.Spec.Audiences ??= [];
        request.Status = new V1TokenRequestStatus { Token = token, ExpirationTimestamp = expires.UtcDateTime };
        _ = q;
        await WriteJsonAsync(ctx, 201, KubeJson.Serialize(request, typeof(Authenticationv1TokenRequest))).ConfigureAwait(false);
    }
}
