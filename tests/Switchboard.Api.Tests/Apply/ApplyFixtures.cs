using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using Switchboard.Api.Apply;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Apply;

/// <summary>Field managers for a few kinds, fixed clocks and JSON helpers shared by the apply tests.</summary>
internal static class ApplyFixtures
{
    private static readonly SchemaCatalog Schemas = new(ResourceCatalog.Default);

    public static readonly FieldManager ConfigMaps = new(Schemas, typeof(V1ConfigMap), statusIsSubresource: false);
    public static readonly FieldManager Services = new(Schemas, typeof(V1Service), statusIsSubresource: true);
    public static readonly FieldManager Deployments = new(Schemas, typeof(V1Deployment), statusIsSubresource: true);
    public static readonly FieldManager Pods = new(Schemas, typeof(V1Pod), statusIsSubresource: true);

    public static readonly DateTimeOffset T1 = new(2019, 3, 30, 15, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset T2 = new(2019, 3, 30, 16, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset T3 = new(2019, 3, 30, 17, 0, 0, TimeSpan.Zero);

    public static JsonObject J(string json) => JsonNode.Parse(json)!.AsObject();

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Compact JSON with quotes escaped as upstream writes them (\" rather than \u0022).</summary>
    public static string Text(JsonNode node) => node.ToJsonString(Relaxed);

    /// <summary>Structural equality: member order ignored, array order not.</summary>
    public static void Json(string expected, JsonNode? actual)
    {
        var want = JsonNode.Parse(expected);
        Assert.True(JsonNode.DeepEquals(want, actual), $"expected {want?.ToJsonString()}\n  actual {actual?.ToJsonString() ?? "null"}");
    }

    /// <summary>The managedFields entry of a manager and operation, or null.</summary>
    public static JsonObject? Entry(JsonNode? obj, string manager, string operation = "Apply") =>
        obj?["metadata"]?["managedFields"]?.AsArray()
            .Select(e => e!.AsObject())
            .SingleOrDefault(e => (string?)e["manager"] == manager && (string?)e["operation"] == operation);

    public static JsonObject Fields(JsonNode? obj, string manager, string operation = "Apply") =>
        Entry(obj, manager, operation)?["fieldsV1"]?.AsObject() ?? throw new Xunit.Sdk.XunitException($"no {operation} entry for {manager} in {obj?.ToJsonString()}");

    public static string[] Managers(JsonNode? obj) =>
        obj?["metadata"]?["managedFields"]?.AsArray().Select(e => $"{e!["manager"]}/{e["operation"]}").ToArray() ?? [];

    /// <summary>A live object after a write: the managedFields put back as the server stores them.</summary>
    public static JsonObject WithManagedFields(JsonObject obj, JsonArray managedFields)
    {
        var copy = obj.DeepClone().AsObject();
        copy["metadata"]!["managedFields"] = managedFields;
        return copy;
    }

    public static JsonObject Service(string ports, string extraMetadata = "") => J($$$"""
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"{{{extraMetadata}}}},
         "spec":{"ports":{{{ports}}}}}
        """);
}
