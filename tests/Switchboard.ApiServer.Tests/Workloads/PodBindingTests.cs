using System.Text.Json.Nodes;
using Switchboard.ApiServer.Tests.Functional;

namespace Switchboard.ApiServer.Tests.Workloads;

/// <summary>pods/binding and the pod admission defaults and update rules, over HTTP against the real server.</summary>
public sealed class PodBindingTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    private async Task<string> NamespaceWithPodAsync(string pod, string? extraSpec = null)
    {
        var ns = ApiServerFixture.UniqueName("bind");
        await Http.CreateNamespaceAsync(ns);
        var spec = extraSpec is null ? "" : "," + extraSpec;
        var (code, body) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods",
            $$$"""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{pod}}}"},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]{{{spec}}}}}""");
        Assert.True(code == 201, body?.ToJsonString());
        return ns;
    }

    private static string Binding(string pod, string node, string? kind = "Node") =>
        $$$"""{"apiVersion":"v1","kind":"Binding","metadata":{"name":"{{{pod}}}"},"target":{"kind":"{{{kind}}}","name":"{{{node}}}"}}""";

    [Fact]
    public async Task Bind_UnboundPod_SetsNodeNameAndPodScheduledAndAnswers201Success()
    {
        var ns = await NamespaceWithPodAsync("p");

        var (code, body) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("p", "node-a"));

        Assert.True(code == 201, body?.ToJsonString());
        Assert.Equal("Status", (string?)body!["kind"]);
        Assert.Equal("Success", (string?)body["status"]);
        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal("node-a", (string?)pod!["spec"]!["nodeName"]);
        var scheduled = pod["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "PodScheduled")!;
        Assert.Equal("True", (string?)scheduled["status"]);
        Assert.NotNull(scheduled["lastTransitionTime"]);
    }

    [Fact]
    public async Task Bind_AlreadyBoundPod_Is409ConflictNamingTheNode()
    {
        var ns = await NamespaceWithPodAsync("p");
        Assert.Equal(201, (await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("p", "node-a"))).Code);

        var (code, body) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("p", "node-b"));

        Assert.Equal(409, code);
        Assert.Equal("Conflict", (string?)body!["reason"]);
        Assert.Equal("Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"node-a\"", (string?)body["message"]);
        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal("node-a", (string?)pod!["spec"]!["nodeName"]);
    }

    [Fact]
    public async Task Bind_BadBindings_AreRejectedWithClearErrors()
    {
        var ns = await NamespaceWithPodAsync("p");

        var (mismatch, mismatchBody) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("other", "node-a"));
        var (noTarget, noTargetBody) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("p", ""));
        var (badKind, badKindBody) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding", Binding("p", "n", "Pod"));
        var (missing, _) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/nope/binding", Binding("nope", "node-a"));
        var (get, _) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding");

        Assert.Equal(400, mismatch);
        Assert.Equal("name in URL does not match name in Binding object", (string?)mismatchBody!["message"]);
        Assert.Equal(422, noTarget);
        Assert.Contains("target.name: Required value", (string?)noTargetBody!["message"], StringComparison.Ordinal);
        Assert.Equal(422, badKind);
        Assert.Contains("target.kind: Unsupported value: \"Pod\"", (string?)badKindBody!["message"], StringComparison.Ordinal);
        Assert.Equal(404, missing);
        Assert.Equal(405, get);
        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        Assert.Null(pod!["spec"]!["nodeName"]);
    }

    [Fact]
    public async Task Bind_WithStaleUid_Is409()
    {
        var ns = await NamespaceWithPodAsync("p");
        var (code, _) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods/p/binding",
            """{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p","uid":"00000000-0000-0000-0000-000000000000"},"target":{"name":"node-a"}}""");
        Assert.Equal(409, code);
    }

    [Fact]
    public async Task Discovery_ListsPodsBindingWithCreate()
    {
        var (_, body) = await Http.GetJsonAsync("/api/v1");
        var binding = body!["resources"]!.AsArray().Single(r => (string?)r!["name"] == "pods/binding")!;
        Assert.Equal("Binding", (string?)binding["kind"]);
        Assert.Equal(["create"], binding["verbs"]!.AsArray().Select(v => (string?)v));
    }

    [Fact]
    public async Task Create_Pod_GetsAdmissionDefaults()
    {
        var ns = await NamespaceWithPodAsync("p", "\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":10}]");

        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");

        var spec = pod!["spec"]!;
        Assert.Equal("default", (string?)spec["serviceAccountName"]);
        Assert.Equal(0, (int?)spec["priority"]);
        Assert.Equal("PreemptLowerPriority", (string?)spec["preemptionPolicy"]);
        Assert.True((bool?)spec["enableServiceLinks"]);
        Assert.Equal("default-scheduler", (string?)spec["schedulerName"]);
        var tolerations = spec["tolerations"]!.AsArray().Select(t => ((string?)t!["key"], (long?)t["tolerationSeconds"])).ToList();
        // The user's unreachable toleration is kept as given; not-ready gets the 300 s default.
        Assert.Equal([("node.kubernetes.io/unreachable", 10L), ("node.kubernetes.io/not-ready", 300L)], tolerations);
        Assert.Equal("Pending", (string?)pod["status"]!["phase"]);
        Assert.Equal("BestEffort", (string?)pod["status"]!["qosClass"]);
    }

    [Fact]
    public async Task Create_DeploymentTemplate_GetsPodSpecDefaultsButNotPodAdmissionOnes()
    {
        var ns = ApiServerFixture.UniqueName("tmpl");
        await Http.CreateNamespaceAsync(ns);
        var (code, d) = await Http.PostJsonAsync($"/apis/apps/v1/namespaces/{ns}/deployments",
            """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"i:1"}]}}}}""");
        Assert.True(code == 201, d?.ToJsonString());
        var spec = d!["spec"]!["template"]!["spec"]!.AsObject();
        Assert.Equal("ClusterFirst", (string?)spec["dnsPolicy"]);
        Assert.Equal("default-scheduler", (string?)spec["schedulerName"]);
        foreach (var podOnly in new[] { "serviceAccountName", "serviceAccount", "enableServiceLinks", "priority", "tolerations" })
        {
            Assert.False(spec.ContainsKey(podOnly), podOnly);
        }
    }

    [Fact]
    public async Task Create_PodWithLimits_IsGuaranteedWithRequestsDefaultedFromLimits()
    {
        var ns = ApiServerFixture.UniqueName("qos");
        await Http.CreateNamespaceAsync(ns);
        var (code, pod) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"g"},"spec":{"containers":[{"name":"c","image":"i:1","resources":{"limits":{"cpu":"500m","memory":"64Mi"}}}]}}""");
        Assert.Equal(201, code);
        Assert.Equal("Guaranteed", (string?)pod!["status"]!["qosClass"]);
        Assert.Equal("500m", (string?)pod["spec"]!["containers"]![0]!["resources"]!["requests"]!["cpu"]);
    }

    [Fact]
    public async Task Update_Pod_AllowsImageAndTolerationAdditionsButNotOtherSpecFields()
    {
        var ns = await NamespaceWithPodAsync("p");
        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");

        pod!["spec"]!["containers"]![0]!["image"] = "registry.k8s.io/pause:3.9";
        // Priority is kept from create whatever the update says, as the Priority admission plugin does.
        pod["spec"]!["priority"] = null;
        pod["spec"]!["tolerations"]!.AsArray().Add(new JsonObject { ["key"] = "x", ["operator"] = "Exists" });
        var (ok, updated) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p", pod.ToJsonString());
        Assert.True(ok == 200, updated?.ToJsonString());
        Assert.Equal(0, (int?)updated!["spec"]!["priority"]);
        Assert.Equal("registry.k8s.io/pause:3.9", (string?)updated["spec"]!["containers"]![0]!["image"]);

        updated!["spec"]!["containers"]![0]!["name"] = "renamed";
        var (rename, renameBody) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p", updated.ToJsonString());
        Assert.Equal(422, rename);
        Assert.Contains("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`", (string?)renameBody!["message"], StringComparison.Ordinal);

        var (_, fresh) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        fresh!["spec"]!["nodeName"] = "node-a";
        var (bind, _) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p", fresh.ToJsonString());
        Assert.Equal(422, bind);

        fresh["spec"]!["nodeName"] = null;
        fresh["spec"]!["tolerations"] = new JsonArray();
        var (remove, _) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p", fresh.ToJsonString());
        Assert.Equal(422, remove);
    }

    [Fact]
    public async Task Update_PodStatusThroughMainResource_IsIgnored()
    {
        var ns = await NamespaceWithPodAsync("p");
        var (_, pod) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        pod!["status"]!["phase"] = "Running";
        pod["metadata"]!["labels"] = new JsonObject { ["a"] = "b" };

        var (code, updated) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p", pod.ToJsonString());

        Assert.Equal(200, code);
        Assert.Equal("Pending", (string?)updated!["status"]!["phase"]);
        Assert.Equal("b", (string?)updated["metadata"]!["labels"]!["a"]);
    }
}
