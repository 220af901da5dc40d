using System.Text.Json;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Schema;

public sealed class OpenApiDocumentsTests(SchemaFixture fixture) : IClassFixture<SchemaFixture>
{
    [Fact]
    public void Index_ListsEveryGroupVersionWithItsHash()
    {
        using var index = JsonDocument.Parse(fixture.Documents.Index);
        var paths = index.RootElement.GetProperty("paths");
        Assert.Equal(
            ["api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/discovery.k8s.io/v1", "apis/networking.k8s.io/v1"],
            paths.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        foreach (var entry in paths.EnumerateObject())
        {
            Assert.True(fixture.Documents.TryGet(entry.Name, out _, out var hash));
            Assert.Matches("^[0-9A-F]{128}$", hash);
            Assert.Equal($"/openapi/v3/{entry.Name}?hash={hash}", entry.Value.GetProperty("serverRelativeURL").GetString());
        }
    }

    [Fact]
    public void TryGet_UnknownGroupVersion_IsFalse()
    {
        Assert.False(fixture.Documents.TryGet("apis/batch/v1", out var doc, out var hash));
        Assert.True(doc.IsEmpty);
        Assert.Equal("", hash);
        Assert.True(fixture.Documents.TryGet("/api/v1", out _, out _));
    }

    [Fact]
    public void Document_ServiceCreate_HasFieldValidationParameterAndGroupVersionKind()
    {
        using var doc = fixture.Document("api/v1");
        Assert.Equal("3.0.0", doc.RootElement.GetProperty("openapi").GetString());
        var post = doc.RootElement.GetProperty("paths").GetProperty("/api/v1/namespaces/{namespace}/services").GetProperty("post");

        Assert.Equal("createCoreV1NamespacedService", post.GetProperty("operationId").GetString());
        Assert.Equal("post", post.GetProperty("x-kubernetes-action").GetString());
        var gvk = post.GetProperty("x-kubernetes-group-version-kind");
        Assert.Equal(("", "v1", "Service"), (gvk.GetProperty("group").GetString(), gvk.GetProperty("version").GetString(), gvk.GetProperty("kind").GetString()));
        var parameters = post.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("fieldValidation", parameters);
        Assert.Contains("fieldManager", parameters);
        Assert.Contains("dryRun", parameters);
        Assert.Equal("#/components/schemas/io.k8s.api.core.v1.Service",
            post.GetProperty("requestBody").GetProperty("content").GetProperty("*/*").GetProperty("schema").GetProperty("$ref").GetString());
    }

    [Fact]
    public void Document_EveryServedKind_HasSchemaAndWriteOperationsWithFieldValidation()
    {
        foreach (var resource in ResourceCatalog.Default.All)
        {
            var path = resource.Group.Length == 0 ? "api/v1" : $"apis/{resource.Group}/{resource.Version}";
            using var doc = fixture.Document(path);
            Assert.True(fixture.Catalog.TryGetName(resource.ModelType, out var name));
            var schema = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(name);
            Assert.Equal(resource.Kind, schema.GetProperty("x-kubernetes-group-version-kind")[0].GetProperty("kind").GetString());

            var prefix = resource.Group.Length == 0 ? "/api/v1" : $"/apis/{resource.Group}/{resource.Version}";
            var collection = resource.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{resource.Plural}" : $"{prefix}/{resource.Plural}";
            var paths = doc.RootElement.GetProperty("paths");
            foreach (var (p, method) in new[] { (collection, "post"), (collection + "/{name}", "put"), (collection + "/{name}", "patch") })
            {
                var op = paths.GetProperty(p).GetProperty(method);
                Assert.Contains(op.GetProperty("parameters").EnumerateArray(), e => e.GetProperty("name").GetString() == "fieldValidation");
                Assert.Equal(resource.Kind, op.GetProperty("x-kubernetes-group-version-kind").GetProperty("kind").GetString());
            }
            Assert.Equal("list", paths.GetProperty(collection).GetProperty("get").GetProperty("x-kubernetes-action").GetString());
            if (resource.HasStatusSubresource)
            {
                Assert.True(paths.GetProperty(collection + "/{name}/status").TryGetProperty("patch", out _));
            }
        }
    }

    [Fact]
    public void Document_ListsSubresourcesAndScopes_AsUpstream()
    {
        using var core = fixture.Document("api/v1");
        var paths = core.RootElement.GetProperty("paths");
        Assert.Equal("listCoreV1ServiceForAllNamespaces", paths.GetProperty("/api/v1/services").GetProperty("get").GetProperty("operationId").GetString());
        Assert.Equal("readCoreV1Namespace", paths.GetProperty("/api/v1/namespaces/{name}").GetProperty("get").GetProperty("operationId").GetString());
        Assert.Equal("replaceCoreV1NamespaceFinalize", paths.GetProperty("/api/v1/namespaces/{name}/finalize").GetProperty("put").GetProperty("operationId").GetString());
        Assert.Equal("patchCoreV1NamespacedServiceStatus", paths.GetProperty("/api/v1/namespaces/{namespace}/services/{name}/status").GetProperty("patch").GetProperty("operationId").GetString());
        var list = paths.GetProperty("/api/v1/namespaces/{namespace}/services").GetProperty("get");
        var listParameters = list.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "allowWatchBookmarks", "timeoutSeconds", "sendInitialEvents", "resourceVersionMatch" }, listParameters);
        Assert.Equal("#/components/schemas/io.k8s.api.core.v1.ServiceList",
            list.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        var patch = paths.GetProperty("/api/v1/namespaces/{namespace}/services/{name}").GetProperty("patch");
        Assert.Contains(patch.GetProperty("parameters").EnumerateArray(), e => e.GetProperty("name").GetString() == "force");
        Assert.True(patch.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/strategic-merge-patch+json", out _));

        using var apps = fixture.Document("apis/apps/v1");
        var scale = apps.RootElement.GetProperty("paths").GetProperty("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale").GetProperty("put");
        Assert.Equal("replaceAppsV1NamespacedDeploymentScale", scale.GetProperty("operationId").GetString());
        Assert.Equal("autoscaling", scale.GetProperty("x-kubernetes-group-version-kind").GetProperty("group").GetString());
        Assert.Equal(["apps_v1"], scale.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

        using var networking = fixture.Document("apis/networking.k8s.io/v1");
        Assert.Equal("listNetworkingV1IngressClass",
            networking.RootElement.GetProperty("paths").GetProperty("/apis/networking.k8s.io/v1/ingressclasses").GetProperty("get").GetProperty("operationId").GetString());
    }

    [Theory]
    [InlineData("api/v1")]
    [InlineData("apis/apps/v1")]
    [InlineData("apis/coordination.k8s.io/v1")]
    [InlineData("apis/discovery.k8s.io/v1")]
    [InlineData("apis/networking.k8s.io/v1")]
    public void Document_EveryRef_ResolvesWithinTheDocument(string groupVersionPath)
    {
        using var doc = fixture.Document(groupVersionPath);
        var schemas = doc.RootElement.GetProperty("components").GetProperty("schemas");
        var refs = new List<string>();
        CollectRefs(doc.RootElement, refs);
        Assert.NotEmpty(refs);
        foreach (var reference in refs.Distinct())
        {
            Assert.StartsWith("#/components/schemas/", reference, StringComparison.Ordinal);
            Assert.True(schemas.TryGetProperty(reference["#/components/schemas/".Length..], out _), reference);
        }
    }

    [Fact]
    public void Build_TwoInstances_GiveIdenticalBytesAndHashes()
    {
        var other = new OpenApiDocuments(new SchemaCatalog(ResourceCatalog.Default));
        Assert.True(fixture.Documents.Index.Span.SequenceEqual(other.Index.Span));
        Assert.True(other.TryGet("api/v1", out var a, out var hashA));
        Assert.True(fixture.Documents.TryGet("api/v1", out var b, out var hashB));
        Assert.Equal(hashA, hashB);
        Assert.True(a.Span.SequenceEqual(b.Span));
    }

    private static void CollectRefs(JsonElement element, List<string> refs)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "$ref")
                    {
                        refs.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        CollectRefs(property.Value, refs);
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CollectRefs(item, refs);
                }
                break;
        }
    }
}
