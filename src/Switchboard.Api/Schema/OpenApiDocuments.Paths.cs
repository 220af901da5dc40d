using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using k8s.Models;
using Switchboard.Api.Resources;

namespace Switchboard.Api.Schema;

/// <summary>Paths and operations per resource, laid out as kube-apiserver publishes them.</summary>
public sealed partial class OpenApiDocuments
{
    private enum Body
    {
        None,
        Object,
        Patch,
        DeleteOptions,
    }

    private sealed record Operation(
        string Method,
        string Description,
        string OperationId,
        string Action,
        (string Group, string Version, string Kind) Gvk,
        string[] Query,
        Body Body,
        string? BodySchema,
        (int Code, string Schema)[] Responses,
        bool Stream = false);

    private sealed record PathItem(string Path, string Tag, string[] PathParameters, List<Operation> Operations);

    private static readonly string[] ListQuery =
    [
        "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
        "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch",
    ];
    private static readonly string[] WriteQuery = ["dryRun", "fieldManager", "fieldValidation"];
    private static readonly string[] PatchQuery = ["dryRun", "fieldManager", "fieldValidation", "force"];
    private static readonly string[] DeleteQuery = ["dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"];
    private static readonly string[] DeleteCollectionQuery = [.. DeleteQuery, .. ListQuery];

    /// <summary>Query and path parameters: (in, schema type, description). Wording is ours, semantics upstream's.</summary>
    private static readonly FrozenDictionary<string, (string In, string Type, string Description)> Parameters =
        new Dictionary<string, (string, string, string)>(StringComparer.Ordinal)
        {
            ["name"] = ("path", "string", "name of the object"),
            ["namespace"] = ("path", "string", "object name and auth scope, such as for teams and projects"),
            ["pretty"] = ("query", "string", "If 'true', the output is pretty printed."),
            ["dryRun"] = ("query", "string", "When present, modifications are not persisted. Valid value: All (run every stage without storing)."),
            ["fieldManager"] = ("query", "string", "Name of the actor making the change, recorded in managedFields. Required for apply patches."),
            ["fieldValidation"] = ("query", "string", "How to treat unknown or duplicate fields in the body: Ignore (drop silently), Warn (drop and return a Warning header per field, the default) or Strict (reject the request with BadRequest listing every such field)."),
            ["force"] = ("query", "boolean", "Force an apply request to take ownership of conflicting fields. Must be unset for non-apply patches."),
            ["gracePeriodSeconds"] = ("query", "integer", "Seconds before the object should be deleted; zero deletes immediately."),
            ["orphanDependents"] = ("query", "boolean", "Deprecated: use propagationPolicy. Whether dependents are orphaned."),
            ["propagationPolicy"] = ("query", "string", "Garbage collection of dependents: Orphan, Background or Foreground."),
            ["allowWatchBookmarks"] = ("query", "boolean", "Ask for BOOKMARK events on a watch. Ignored when not watching."),
            ["continue"] = ("query", "string", "Continue token from a previous paginated list with the same query."),
            ["fieldSelector"] = ("query", "string", "Restrict the returned objects by their fields. Defaults to everything."),
            ["labelSelector"] = ("query", "string", "Restrict the returned objects by their labels. Defaults to everything."),
            ["limit"] = ("query", "integer", "Maximum number of items to return; the list metadata then carries a continue token when more exist."),
            ["resourceVersion"] = ("query", "string", "Constrains which resource versions a read may be served from; for a watch, where it starts."),
            ["resourceVersionMatch"] = ("query", "string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
            ["sendInitialEvents"] = ("query", "boolean", "With watch=true, start the stream with synthetic ADDED events for the current state, then a bookmark annotated k8s.io/initial-events-end."),
            ["timeoutSeconds"] = ("query", "integer", "Timeout for the list/watch call."),
            ["watch"] = ("query", "boolean", "Watch for changes and return them as a stream of add, update and remove events."),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly string[] PatchContentTypes =
    [
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];

    private IEnumerable<PathItem> PathItems(string group, string version, IEnumerable<ResourceInfo> resources)
    {
        var prefix = group.Length == 0 ? "/api/" + version : "/apis/" + group + "/" + version;
        var gv = GroupCamel(group) + char.ToUpperInvariant(version[0]) + version[1..];
        var tag = Tag(group, version);
        foreach (var r in resources)
        {
            if (!_schemas.TryGetName(r.ModelType, out var kindSchema))
            {
                continue;
            }
            var listType = SchemaCatalog.ListTypeOf(r.ModelType);
            var listSchema = listType is not null && _schemas.TryGetName(listType, out var ls) ? ls : kindSchema;
            var gvk = (r.Group, r.Version, r.Kind);
            var scope = r.Namespaced ? "Namespaced" : "";
            var collection = r.Namespaced ? prefix + "/namespaces/{namespace}/" + r.Plural : prefix + "/" + r.Plural;
            string[] collectionParams = r.Namespaced ? ["namespace", "pretty"] : ["pretty"];
            string[] itemParams = r.Namespaced ? ["name", "namespace", "pretty"] : ["name", "pretty"];
            var article = Article(r.Kind);

            yield return new PathItem(collection, tag, collectionParams,
            [
                new("get", "list or watch objects of kind " + r.Kind, "list" + gv + scope + r.Kind, "list", gvk,
                    ListQuery, Body.None, null, [(200, listSchema)], Stream: true),
                new("post", "create " + article + " " + r.Kind, "create" + gv + scope + r.Kind, "post", gvk,
                    WriteQuery, Body.Object, kindSchema, [(200, kindSchema), (201, kindSchema), (202, kindSchema)]),
                new("delete", "delete collection of " + r.Kind, "delete" + gv + "Collection" + scope + r.Kind, "deletecollection", gvk,
                    DeleteCollectionQuery, Body.DeleteOptions, null, [(200, SchemaNaming.Status)]),
            ]);

            yield return new PathItem(collection + "/{name}", tag, itemParams,
            [
                new("get", "read the specified " + r.Kind, "read" + gv + scope + r.Kind, "get", gvk,
                    [], Body.None, null, [(200, kindSchema)]),
                new("put", "replace the specified " + r.Kind, "replace" + gv + scope + r.Kind, "put", gvk,
                    WriteQuery, Body.Object, kindSchema, [(200, kindSchema), (201, kindSchema)]),
                new("patch", "partially update the specified " + r.Kind, "patch" + gv + scope + r.Kind, "patch", gvk,
                    PatchQuery, Body.Patch, null, [(200, kindSchema), (201, kindSchema)]),
                new("delete", "delete " + article + " " + r.Kind, "delete" + gv + scope + r.Kind, "delete", gvk,
                    DeleteQuery, Body.DeleteOptions, null, [(200, SchemaNaming.Status), (202, SchemaNaming.Status)]),
            ]);

            if (r.Namespaced)
            {
                yield return new PathItem(prefix + "/" + r.Plural, tag, ["pretty"],
                [
                    new("get", "list or watch objects of kind " + r.Kind, "list" + gv + r.Kind + "ForAllNamespaces", "list", gvk,
                        ListQuery, Body.None, null, [(200, listSchema)], Stream: true),
                ]);
            }

            foreach (var sub in r.Subresources)
            {
                if (Subresource(r, sub, collection + "/{name}/" + sub, tag, itemParams, gv + scope + r.Kind, kindSchema) is { } item)
                {
                    yield return item;
                }
            }
        }
    }

    private PathItem? Subresource(ResourceInfo r, string sub, string path, string tag, string[] itemParams, string idStem, string kindSchema)
    {
        var body = SchemaCatalog.SubresourceBody(r, sub);
        if (body is null || !_schemas.TryGetName(body, out var bodySchema))
        {
            return null;
        }
        var entity = body.GetCustomAttribute<KubernetesEntityAttribute>();
        var gvk = body == r.ModelType || entity is null ? (r.Group, r.Version, r.Kind) : (entity.Group ?? "", entity.ApiVersion, entity.Kind);
        var suffix = char.ToUpperInvariant(sub[0]) + sub[1..];
        return sub switch
        {
            "status" or "scale" => new PathItem(path, tag, itemParams,
            [
                new("get", "read " + sub + " of the specified " + r.Kind, "read" + idStem + suffix, "get", gvk,
                    [], Body.None, null, [(200, bodySchema)]),
                new("put", "replace " + sub + " of the specified " + r.Kind, "replace" + idStem + suffix, "put", gvk,
                    WriteQuery, Body.Object, bodySchema, [(200, bodySchema), (201, bodySchema)]),
                new("patch", "partially update " + sub + " of the specified " + r.Kind, "patch" + idStem + suffix, "patch", gvk,
                    PatchQuery, Body.Patch, null, [(200, bodySchema), (201, bodySchema)]),
            ]),
            "finalize" => new PathItem(path, tag, itemParams,
            [
                new("put", "replace finalize of the specified " + r.Kind, "replace" + idStem + suffix, "put", gvk,
                    WriteQuery, Body.Object, kindSchema, [(200, kindSchema), (201, kindSchema)]),
            ]),
            "token" => new PathItem(path, tag, itemParams,
            [
                new("post", "create token of " + Article(r.Kind) + " " + r.Kind, "create" + idStem + suffix, "post", gvk,
                    WriteQuery, Body.Object, bodySchema, [(200, bodySchema), (201, bodySchema), (202, bodySchema)]),
            ]),
            _ => null,
        };
    }

    private static void WritePathItem(Utf8JsonWriter writer, PathItem item)
    {
        writer.WriteStartObject(item.Path);
        // Operation keys and "parameters" interleave in sorted order, as upstream prints them.
        var members = item.Operations.Select(o => (Key: o.Method, Op: (Operation?)o))
            .Append(("parameters", null))
            .OrderBy(m => m.Key, StringComparer.Ordinal);
        foreach (var (key, op) in members)
        {
            if (op is null)
            {
                writer.WriteStartArray("parameters"u8);
                foreach (var name in item.PathParameters)
                {
                    WriteParameter(writer, name);
                }
                writer.WriteEndArray();
            }
            else
            {
                WriteOperation(writer, op, item.Tag);
            }
        }
        writer.WriteEndObject();
    }

    private static void WriteOperation(Utf8JsonWriter writer, Operation op, string tag)
    {
        writer.WriteStartObject(op.Method);
        writer.WriteString("description"u8, op.Description);
        writer.WriteString("operationId"u8, op.OperationId);
        if (op.Query.Length > 0)
        {
            writer.WriteStartArray("parameters"u8);
            foreach (var name in op.Query)
            {
                WriteParameter(writer, name);
            }
            writer.WriteEndArray();
        }
        switch (op.Body)
        {
            case Body.Object:
                WriteRequestBody(writer, ["*/*"], op.BodySchema!, required: true);
                break;
            case Body.Patch:
                WriteRequestBody(writer, PatchContentTypes, SchemaNaming.Patch, required: true);
                break;
            case Body.DeleteOptions:
                WriteRequestBody(writer, ["*/*"], SchemaNaming.DeleteOptions, required: false);
                break;
        }

        writer.WriteStartObject("responses"u8);
        foreach (var (code, schema) in op.Responses)
        {
            writer.WriteStartObject(code.ToString(CultureInfo.InvariantCulture));
            writer.WriteStartObject("content"u8);
            WriteMedia(writer, "application/json", schema);
            if (op.Stream)
            {
                WriteMedia(writer, "application/json;stream=watch", schema);
            }
            writer.WriteEndObject();
            writer.WriteString("description"u8, code switch { 201 => "Created", 202 => "Accepted", _ => "OK" });
            writer.WriteEndObject();
        }
        writer.WriteStartObject("401"u8);
        writer.WriteString("description"u8, "Unauthorized"u8);
        writer.WriteEndObject();
        writer.WriteEndObject();

        writer.WriteStartArray("tags"u8);
        writer.WriteStringValue(tag);
        writer.WriteEndArray();
        writer.WriteString("x-kubernetes-action"u8, op.Action);
        writer.WritePropertyName("x-kubernetes-group-version-kind"u8);
        SchemaCatalog.WriteGroupVersionKind(writer, op.Gvk.Group, op.Gvk.Version, op.Gvk.Kind);
        writer.WriteEndObject();
    }

    private static void WriteRequestBody(Utf8JsonWriter writer, string[] contentTypes, string schema, bool required)
    {
        writer.WriteStartObject("requestBody"u8);
        writer.WriteStartObject("content"u8);
        foreach (var contentType in contentTypes)
        {
            WriteMedia(writer, contentType, schema);
        }
        writer.WriteEndObject();
        if (required)
        {
            writer.WriteBoolean("required"u8, true);
        }
        writer.WriteEndObject();
    }

    private static void WriteMedia(Utf8JsonWriter writer, string contentType, string schema)
    {
        writer.WriteStartObject(contentType);
        writer.WriteStartObject("schema"u8);
        writer.WriteString("$ref"u8, "#/components/schemas/" + schema);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteParameter(Utf8JsonWriter writer, string name)
    {
        var (location, type, description) = Parameters[name];
        writer.WriteStartObject();
        writer.WriteString("description"u8, description);
        writer.WriteString("in"u8, location);
        writer.WriteString("name"u8, name);
        if (location == "path")
        {
            writer.WriteBoolean("required"u8, true);
        }
        writer.WriteStartObject("schema"u8);
        writer.WriteString("type"u8, type);
        writer.WriteBoolean("uniqueItems"u8, true);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>"" → Core, "networking.k8s.io" → Networking, "rbac.authorization.k8s.io" → RbacAuthorization.</summary>
    internal static string GroupCamel(string group)
    {
        if (group.Length == 0)
        {
            return "Core";
        }
        var trimmed = group.EndsWith(".k8s.io", StringComparison.Ordinal) ? group[..^".k8s.io".Length] : group;
        return string.Concat(trimmed.Split('.').Where(s => s.Length > 0).Select(s => char.ToUpperInvariant(s[0]) + s[1..]));
    }

    /// <summary>Operation tag as upstream: core_v1, apps_v1, networking_v1.</summary>
    private static string Tag(string group, string version)
    {
        var camel = GroupCamel(group);
        return char.ToLowerInvariant(camel[0]) + camel[1..] + "_" + version;
    }

    private static string Article(string kind) => "AEIOU".Contains(kind[0], StringComparison.Ordinal) ? "an" : "a";
}
