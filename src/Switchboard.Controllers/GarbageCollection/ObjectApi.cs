using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Client;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>How a conditional write ended.</summary>
internal enum WriteResult
{
    /// <summary>The server applied it.</summary>
    Applied,

    /// <summary>The object is gone (404): nothing left to do.</summary>
    Gone,

    /// <summary>A precondition or patch test failed (409/422): the object changed; look again later.</summary>
    Conflict,
}

/// <summary>
/// The collector's few API calls, by path through <see cref="RawApi"/> so one code path serves every kind. Every
/// write is conditional on what the collector last read (uid precondition, JSON-patch tests), so a decision
/// taken on stale data fails instead of clobbering a newer object.
/// </summary>
internal sealed class ObjectApi(Kubernetes client)
{
    private const string JsonPatch = "application/json-patch+json";

    /// <summary>Reads an object's metadata; null when it does not exist.</summary>
    public async Task<V1ObjectMeta?> GetAsync(ResourceInfo resource, string? @namespace, string name, CancellationToken ct)
    {
        var path = ObjectPath(resource, @namespace, name);
        var response = await RawApi.SendAsync(client, HttpMethod.Get, path, cancellationToken: ct).ConfigureAwait(false);
        if (response.StatusCode == 404)
        {
            return null;
        }
        Ensure(response, "GET", path);
        return KubernetesJson.Deserialize<PartialObjectMetadata>(response.Body).Metadata;
    }

    /// <summary>Deletes exactly this incarnation (uid precondition) with the given propagation policy.</summary>
    public async Task<WriteResult> DeleteAsync(ObjectIdentity target, string propagationPolicy, CancellationToken ct)
    {
        var path = ObjectPath(target);
        var body = new JsonObject
        {
            ["kind"] = "DeleteOptions",
            ["apiVersion"] = "v1",
            ["propagationPolicy"] = propagationPolicy,
            ["preconditions"] = new JsonObject { ["uid"] = target.Uid },
        };
        var response = await RawApi.SendAsync(client, HttpMethod.Delete, path, body.ToJsonString(), cancellationToken: ct).ConfigureAwait(false);
        return Result(response, "DELETE", path);
    }

    /// <summary>Applies a JSON patch; its test operations are the preconditions.</summary>
    public async Task<WriteResult> PatchAsync(ObjectIdentity target, JsonArray operations, CancellationToken ct)
    {
        var path = ObjectPath(target);
        var response = await RawApi.SendAsync(client, HttpMethod.Patch, path, operations.ToJsonString(), JsonPatch, ct).ConfigureAwait(false);
        return Result(response, "PATCH", path);
    }

    private static WriteResult Result(RawResponse response, string verb, string path)
    {
        switch (response.StatusCode)
        {
            case 404:
                return WriteResult.Gone;
            case 409 or 422:
                return WriteResult.Conflict;
            default:
                Ensure(response, verb, path);
                return WriteResult.Applied;
        }
    }

    private static void Ensure(RawResponse response, string verb, string path)
    {
        if (!response.IsSuccess)
        {
            var body = response.Body.Length > 300 ? response.Body[..300] : response.Body;
            throw new HttpRequestException($"{verb} {path}: HTTP {response.StatusCode}: {body}", null, (HttpStatusCode)response.StatusCode);
        }
    }

    private static string ObjectPath(ObjectIdentity target) =>
        ObjectPath(target.Resource ?? throw new InvalidOperationException($"{target} is of a kind this server does not serve"), target.Namespace, target.Name);

    internal static string ObjectPath(ResourceInfo resource, string? @namespace, string name)
    {
        var prefix = resource.Group.Length == 0 ? "api/" : "apis/" + resource.Group + "/";
        var scope = resource.Namespaced ? "namespaces/" + Uri.EscapeDataString(@namespace ?? "") + "/" : "";
        return prefix + resource.Version + "/" + scope + resource.Plural + "/" + Uri.EscapeDataString(name);
    }
}
