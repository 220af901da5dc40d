using System.Text;
using System.Text.Json.Nodes;
using Switchboard.ApiServer.Tests.Functional;

namespace Switchboard.ApiServer.Tests.Apply;

/// <summary>Server-side apply over HTTP against the in-process server: managedFields, conflicts, force, pruning.</summary>
public sealed class ServerSideApplyTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const string ApplyType = "application/apply-patch+yaml";
    private const string TargetPort = """.spec.ports[port=80,protocol="TCP"].targetPort""";

    private HttpClient Http => fixture.Server.Http;

    private static string ServiceYaml(string ns, int targetPort, string labels = "app: web") => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: {ns}
          labels:
            {labels}
        spec:
          selector:
            app: web
          ports:
          - port: 80
            targetPort: {targetPort}
        """;

    private static string ServicePath(string ns, string query) => $"/api/v1/namespaces/{ns}/services/web?{query}";

    private Task<(int Code, JsonNode? Body)> ApplyAsync(string ns, string yaml, string query) =>
        Http.SendJsonAsync(HttpMethod.Patch, ServicePath(ns, query), yaml, ApplyType);

    private async Task<string> NamespaceAsync()
    {
        var ns = ApiServerFixture.UniqueName("ssa");
        await Http.CreateNamespaceAsync(ns);
        return ns;
    }

    private static JsonObject Entry(JsonNode? obj, string manager, string operation = "Apply") =>
        obj?["metadata"]?["managedFields"]?.AsArray().Select(e => e!.AsObject())
            .SingleOrDefault(e => (string?)e["manager"] == manager && (string?)e["operation"] == operation)
        ?? throw new Xunit.Sdk.XunitException($"no {operation} entry of {manager}: {obj?.ToJsonString()}");

    private static bool OwnsTargetPort(JsonObject entry) =>
        entry["fieldsV1"]?["f:spec"]?["f:ports"]?["k:{\"port\":80,\"protocol\":\"TCP\"}"]?["f:targetPort"] is not null;

    [Fact]
    public async Task Apply_NewService_CreatedWithUpstreamManagedFields()
    {
        var ns = await NamespaceAsync();

        var (code, created) = await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=tester");

        Assert.True(code == 201, $"{code} {created}");
        var entry = Assert.Single(created!["metadata"]!["managedFields"]!.AsArray())!.AsObject();
        Assert.Equal("tester", (string?)entry["manager"]);
        Assert.Equal("Apply", (string?)entry["operation"]);
        Assert.Equal("v1", (string?)entry["apiVersion"]);
        Assert.Equal("FieldsV1", (string?)entry["fieldsType"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string?)entry["time"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"f:metadata":{"f:labels":{"f:app":{}}},
             "f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}}},"f:selector":{}}}
            """), entry["fieldsV1"]), entry.ToJsonString());
        // Defaults and allocations are the server's: nobody owns them.
        Assert.Equal("ClusterIP", (string?)created["spec"]!["type"]);

        var (_, got) = await Http.GetJsonAsync(ServicePath(ns, ""));
        Assert.True(JsonNode.DeepEquals(created["metadata"]!["managedFields"], got!["metadata"]!["managedFields"]));
    }

    [Fact]
    public async Task Apply_SameConfigurationTwice_SecondIsANoOp()
    {
        var ns = await NamespaceAsync();
        var (_, first) = await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=tester");

        var (code, second) = await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=tester");

        Assert.Equal(200, code);
        Assert.Equal(first.Rv(), second.Rv());
    }

    [Fact]
    public async Task Apply_SecondManagerChangesValue_409ConflictStatusThenForceWins()
    {
        var ns = await NamespaceAsync();
        await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=a");

        var (code, status) = await ApplyAsync(ns, ServiceYaml(ns, 9090), "fieldManager=b");

        Assert.Equal(409, code);
        Assert.Equal("Status", (string?)status!["kind"]);
        Assert.Equal("Failure", (string?)status["status"]);
        Assert.Equal("Conflict", (string?)status["reason"]);
        Assert.Equal(409, (int?)status["code"]);
        Assert.Equal($"Apply failed with 1 conflict: conflict with \"a\": {TargetPort}", (string?)status["message"]);
        var cause = Assert.Single(status["details"]!["causes"]!.AsArray())!;
        Assert.Equal("FieldManagerConflict", (string?)cause["reason"]);
        Assert.Equal("conflict with \"a\"", (string?)cause["message"]);
        Assert.Equal(TargetPort, (string?)cause["field"]);

        var (forced, obj) = await ApplyAsync(ns, ServiceYaml(ns, 9090), "fieldManager=b&force=true");

        Assert.Equal(200, forced);
        Assert.Equal(9090, (int?)obj!["spec"]!["ports"]![0]!["targetPort"]);
        Assert.True(OwnsTargetPort(Entry(obj, "b")));
        Assert.False(OwnsTargetPort(Entry(obj, "a")));
    }

    [Fact]
    public async Task Apply_FieldOwnedByAnUpdater_ConflictNamesItsVersion()
    {
        var ns = await NamespaceAsync();
        var json = $$$"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"{{{ns}}}"},
             "spec":{"ports":[{"port":80,"targetPort":8080}]}}
            """;
        var (created, _) = await Http.SendJsonAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services?fieldManager=other", json);
        Assert.Equal(201, created);

        var (code, status) = await ApplyAsync(ns, ServiceYaml(ns, 9090), "fieldManager=mine");

        Assert.Equal(409, code);
        Assert.Equal($"Apply failed with 1 conflict: conflict with \"other\" using v1: {TargetPort}", (string?)status!["message"]);
        Assert.Equal("conflict with \"other\" using v1", (string?)status["details"]!["causes"]![0]!["message"]);
    }

    [Fact]
    public async Task Apply_LabelDroppedFromConfiguration_Disappears()
    {
        var ns = await NamespaceAsync();
        await ApplyAsync(ns, ServiceYaml(ns, 8080, labels: "{app: web, tier: front}"), "fieldManager=a");

        var (code, obj) = await ApplyAsync(ns, ServiceYaml(ns, 8080, labels: "{app: web}"), "fieldManager=a");

        Assert.Equal(200, code);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"app":"web"}"""), obj!["metadata"]!["labels"]), obj.ToJsonString());
        var (_, got) = await Http.GetJsonAsync(ServicePath(ns, ""));
        Assert.Null(got!["metadata"]!["labels"]!["tier"]);
    }

    [Fact]
    public async Task Update_WithoutFieldManager_OwnedByUserAgentPrefix()
    {
        var ns = await NamespaceAsync();
        await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=a");
        using var req = new HttpRequestMessage(HttpMethod.Patch, ServicePath(ns, ""))
        {
            Content = new StringContent("""{"spec":{"ports":[{"port":80,"targetPort":7070}]}}""", Encoding.UTF8, "application/strategic-merge-patch+json"),
        };
        req.Headers.TryAddWithoutValidation("User-Agent", "my-controller/v1.2.3 (linux/amd64)");

        using var resp = await Http.SendAsync(req);

        Assert.Equal(200, (int)resp.StatusCode);
        var obj = JsonNode.Parse(await resp.Content.ReadAsStringAsync());
        var entry = Entry(obj, "my-controller", "Update");
        Assert.Equal("""{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{"f:targetPort":{}}}}}""",
            entry["fieldsV1"]!.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        Assert.False(OwnsTargetPort(Entry(obj, "a")));
    }

    [Fact]
    public async Task Apply_DryRun_AnswersWithoutStoring()
    {
        var ns = await NamespaceAsync();

        var (code, obj) = await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=a&dryRun=All");

        Assert.Equal(201, code);
        Assert.Equal("a", (string?)Entry(obj, "a")["manager"]);
        var (get, _) = await Http.GetJsonAsync(ServicePath(ns, ""));
        Assert.Equal(404, get);
    }

    [Fact]
    public async Task Apply_StatusSubresource_RecordedWithSubresourceAndSpecUntouched()
    {
        var ns = await NamespaceAsync();
        // Only LoadBalancer Services may carry status.loadBalancer (upstream validation).
        await ApplyAsync(ns, ServiceYaml(ns, 8080).Replace("spec:\n", "spec:\n  type: LoadBalancer\n", StringComparison.Ordinal), "fieldManager=a");
        var status = $"""
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: {ns}
            status:
              loadBalancer:
                ingress:
                - ip: 192.0.2.10
            """;

        var (code, obj) = await Http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/services/web/status?fieldManager=lb", status, ApplyType);

        Assert.True(code == 200, $"{code} {obj}");
        Assert.Equal("192.0.2.10", (string?)obj!["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]);
        var entry = Entry(obj, "lb");
        Assert.Equal("status", (string?)entry["subresource"]);
        Assert.NotNull(entry["fieldsV1"]!["f:status"]);
        Assert.Null(entry["fieldsV1"]!["f:spec"]);
    }

    [Fact]
    public async Task Apply_ManagedFieldsInBody_400()
    {
        var ns = await NamespaceAsync();
        var yaml = ServiceYaml(ns, 8080).Replace("  labels:", "  managedFields: []\n  labels:", StringComparison.Ordinal);

        var (code, status) = await ApplyAsync(ns, yaml, "fieldManager=a");

        Assert.Equal(400, code);
        Assert.Equal("metadata.managedFields must be nil", (string?)status!["message"]);
    }

    [Fact]
    public async Task Apply_ObjectWhoseManagedFieldsWereCleared_BeforeFirstApplyOwnsIt()
    {
        var ns = await NamespaceAsync();
        await ApplyAsync(ns, ServiceYaml(ns, 8080), "fieldManager=a");
        var (cleared, obj) = await Http.SendJsonAsync(HttpMethod.Patch, ServicePath(ns, ""), """{"metadata":{"managedFields":[{}]}}""", "application/merge-patch+json");
        Assert.Equal(200, cleared);
        Assert.Null(obj!["metadata"]!["managedFields"]);

        var (code, status) = await ApplyAsync(ns, ServiceYaml(ns, 9090), "fieldManager=b");

        Assert.Equal(409, code);
        Assert.Equal($"Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: {TargetPort}", (string?)status!["message"]);
    }
}
