using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>Create, get, list, update, patch and delete over HTTP for every served kind.</summary>
public sealed class CrudTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    public static TheoryData<string, string, string> Kinds => new()
    {
        // collection path ({ns} replaced), kind, body without metadata
        { "/api/v1/namespaces/{ns}/configmaps", "ConfigMap", """ "data":{"a":"b"} """ },
        { "/api/v1/namespaces/{ns}/secrets", "Secret", """ "type":"Opaque","data":{"a":"Yg=="} """ },
        { "/api/v1/namespaces/{ns}/serviceaccounts", "ServiceAccount", """ "automountServiceAccountToken":false """ },
        { "/api/v1/namespaces/{ns}/services", "Service", """ "spec":{"selector":{"app":"x"},"ports":[{"port":80}]} """ },
        { "/api/v1/namespaces/{ns}/pods", "Pod", """ "spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]} """ },
        { "/api/v1/namespaces/{ns}/endpoints", "Endpoints", """ "subsets":[{"addresses":[{"ip":"10.244.1.5"}],"ports":[{"port":80}]}] """ },
        { "/api/v1/namespaces/{ns}/events", "Event", """ "involvedObject":{"kind":"Pod","name":"p","namespace":"{ns}"},"reason":"Test","message":"hello","type":"Normal" """ },
        { "/api/v1/nodes", "Node", """ "spec":{"podCIDR":"10.244.9.0/24"} """ },
        { "/apis/apps/v1/namespaces/{ns}/deployments", "Deployment", """ "spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}} """ },
        { "/apis/apps/v1/namespaces/{ns}/replicasets", "ReplicaSet", """ "spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}} """ },
        { "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", "Lease", """ "spec":{"holderIdentity":"me","leaseDurationSeconds":40} """ },
        { "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", "EndpointSlice", """ "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"]}],"ports":[{"port":80,"protocol":"TCP","name":"http"}] """ },
        { "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", "Ingress", """ "spec":{"defaultBackend":{"service":{"name":"web","port":{"number":80}}}} """ },
        { "/apis/networking.k8s.io/v1/ingressclasses", "IngressClass", """ "spec":{"controller":"switchboard.dev/ingress"} """ },
        { "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", "NetworkPolicy", """ "spec":{"podSelector":{},"policyTypes":["Ingress"]} """ },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Crud_EveryKind_CreateGetListUpdatePatchDelete(string collection, string kind, string body)
    {
        var ns = ApiServerFixture.UniqueName("crud");
        await Http.CreateNamespaceAsync(ns);
        var path = collection.Replace("{ns}", ns, StringComparison.Ordinal);
        var apiVersion = path.StartsWith("/api/v1", StringComparison.Ordinal) ? "v1" : string.Join('/', path.Split('/')[2..4]);
        var name = ApiServerFixture.UniqueName("obj");
        var extra = body.Replace("{ns}", ns, StringComparison.Ordinal);
        var json = $$$"""{"apiVersion":"{{{apiVersion}}}","kind":"{{{kind}}}","metadata":{"name":"{{{name}}}","labels":{"t":"crud"}},{{{extra}}} }""";

        var (code, created) = await Http.PostJsonAsync(path, json);
        Assert.True(code == 201, $"{code} {created}");
        Assert.Equal(kind, created!["kind"]!.GetValue<string>());
        Assert.Equal(name, created["metadata"]!["name"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(created["metadata"]!["uid"]?.GetValue<string>()));
        Assert.NotNull(created["metadata"]!["creationTimestamp"]);
        var rv1 = created.Rv();

        var (getCode, got) = await Http.GetJsonAsync(path + "/" + name);
        Assert.Equal(200, getCode);
        Assert.Equal(rv1, got.Rv());

        var (listCode, list) = await Http.GetJsonAsync(path + "?labelSelector=t%3Dcrud");
        Assert.Equal(200, listCode);
        Assert.Equal(kind + "List", list!["kind"]!.GetValue<string>());
        Assert.Contains(list["items"]!.AsArray(), i => i!["metadata"]!["name"]!.GetValue<string>() == name);

        got!["metadata"]!["labels"]!["changed"] = "yes";
        var (putCode, put) = await Http.SendJsonAsync(HttpMethod.Put, path + "/" + name, got.ToJsonString());
        Assert.True(putCode == 200, $"{putCode} {put}");
        Assert.NotEqual(rv1, put.Rv());
        Assert.Equal("yes", put!["metadata"]!["labels"]!["changed"]!.GetValue<string>());

        var (patchCode, patched) = await Http.SendJsonAsync(HttpMethod.Patch, path + "/" + name, """{"metadata":{"annotations":{"note":"patched"}}}""", "application/merge-patch+json");
        Assert.True(patchCode == 200, $"{patchCode} {patched}");
        Assert.Equal("patched", patched!["metadata"]!["annotations"]!["note"]!.GetValue<string>());

        var (delCode, deleted) = await Http.SendJsonAsync(HttpMethod.Delete, path + "/" + name);
        Assert.True(delCode == 200, $"{delCode} {deleted}");
        var (goneCode, gone) = await Http.GetJsonAsync(path + "/" + name);
        if (kind == "Namespace" || kind == "Pod")
        {
            return;
        }
        Assert.Equal(404, goneCode);
        Assert.Equal("NotFound", gone!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_StaleResourceVersion_Conflict()
    {
        var ns = ApiServerFixture.UniqueName("stale");
        await Http.CreateNamespaceAsync(ns);
        var (_, created) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}""");
        var stale = created!.DeepClone();
        created["data"]!["a"] = "2";
        var (ok, _) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/configmaps/c", created.ToJsonString());
        Assert.Equal(200, ok);
        stale["data"]!["a"] = "3";
        var (code, status) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/configmaps/c", stale.ToJsonString());
        Assert.Equal(409, code);
        Assert.Equal("Conflict", status!["reason"]!.GetValue<string>());
        Assert.Contains("the object has been modified", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var (_, now) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Equal("2", now!["data"]!["a"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_GenerateName_GetsUniqueSuffix()
    {
        var ns = ApiServerFixture.UniqueName("gen");
        await Http.CreateNamespaceAsync(ns);
        var names = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var (code, body) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"web-"}}""");
            Assert.Equal(201, code);
            var name = body!["metadata"]!["name"]!.GetValue<string>();
            Assert.Matches("^web-[bcdfghjklmnpqrstvwxz2456789]{5}$", name);
            Assert.True(names.Add(name));
        }
    }

    [Fact]
    public async Task Create_InMissingNamespace_NotFound()
    {
        var (code, status) = await Http.PostJsonAsync("/api/v1/namespaces/does-not-exist/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        Assert.Equal(404, code);
        Assert.Equal("namespaces \"does-not-exist\" not found", status!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Service_GetsClusterIpAndDefaults()
    {
        var ns = ApiServerFixture.UniqueName("svc");
        await Http.CreateNamespaceAsync(ns);
        var (code, svc) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", """{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}""");
        Assert.True(code == 201, $"{code} {svc}");
        var spec = svc!["spec"]!;
        var ip = spec["clusterIP"]!.GetValue<string>();
        Assert.StartsWith("10.", ip, StringComparison.Ordinal);
        Assert.NotEqual("10.96.0.1", ip);
        Assert.Equal(ip, spec["clusterIPs"]![0]!.GetValue<string>());
        Assert.Equal("ClusterIP", spec["type"]!.GetValue<string>());
        Assert.Equal("None", spec["sessionAffinity"]!.GetValue<string>());
        Assert.Equal("Cluster", spec["internalTrafficPolicy"]!.GetValue<string>());
        Assert.Equal("TCP", spec["ports"]![0]!["protocol"]!.GetValue<string>());
        Assert.Equal("SingleStack", spec["ipFamilyPolicy"]!.GetValue<string>());

        var (code2, other) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"dup"},"spec":{"clusterIP":"{{{ip}}}","ports":[{"port":80}]}}""");
        Assert.Equal(422, code2);
        Assert.Contains("provided IP is already allocated", other!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bootstrap_SystemNamespacesAndKubernetesService()
    {
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            var (code, body) = await Http.GetJsonAsync("/api/v1/namespaces/" + ns);
            Assert.Equal(200, code);
            Assert.Equal("Active", body!["status"]!["phase"]!.GetValue<string>());
        }
        var (svcCode, svc) = await Http.GetJsonAsync("/api/v1/namespaces/default/services/kubernetes");
        Assert.Equal(200, svcCode);
        Assert.Equal("10.96.0.1", svc!["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal(443, svc["spec"]!["ports"]![0]!["port"]!.GetValue<int>());
    }

    [Fact]
    public async Task StatusSubresource_WritesOnlyStatus()
    {
        var ns = ApiServerFixture.UniqueName("status");
        await Http.CreateNamespaceAsync(ns);
        var (_, svc) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", """{"apiVersion":"v1","kind":"Service","metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[{"port":80}]}}""");
        var body = svc!.DeepClone();
        body["status"] = JsonNode.Parse("""{"loadBalancer":{"ingress":[{"ip":"172.18.255.1"}]}}""");
        body["spec"]!["sessionAffinity"] = "ClientIP";
        var (code, updated) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/services/lb/status", body.ToJsonString());
        Assert.True(code == 200, $"{code} {updated}");
        Assert.Equal("172.18.255.1", updated!["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!.GetValue<string>());
        Assert.Equal("None", updated["spec"]!["sessionAffinity"]!.GetValue<string>());

        // And a main-resource write cannot change status.
        updated["status"] = JsonNode.Parse("""{"loadBalancer":{}}""");
        var (code2, main) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/services/lb", updated.ToJsonString());
        Assert.Equal(200, code2);
        Assert.Equal("172.18.255.1", main!["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_WithFinalizer_MarksThenRemovesWhenFinalizerCleared()
    {
        var ns = ApiServerFixture.UniqueName("fin");
        await Http.CreateNamespaceAsync(ns);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["example.com/keep"]}}""");
        var (code, marked) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Equal(200, code);
        Assert.NotNull(marked!["metadata"]!["deletionTimestamp"]);
        var (stillCode, _) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Equal(200, stillCode);
        var (patchCode, _) = await Http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """{"metadata":{"finalizers":null}}""", "application/merge-patch+json");
        Assert.Equal(200, patchCode);
        var (goneCode, _) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Equal(404, goneCode);
    }

    [Fact]
    public async Task Delete_PodOnANodeWithGrace_StaysTerminatingThroughStatusWrites_UntilDeletedWithGraceZero()
    {
        var ns = ApiServerFixture.UniqueName("grace");
        await Http.CreateNamespaceAsync(ns);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/pods", """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","terminationGracePeriodSeconds":30,"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}""");
        var (code, marked) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(200, code);
        Assert.Equal(30, marked!["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<int>());

        // The kubelet reports the Pod not ready while it shuts down: the write is kept, the Pod is not deleted by it.
        var (_, live) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        live!["status"] = JsonNode.Parse("""{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}""");
        var (statusCode, written) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/pods/p/status", live.ToJsonString());
        Assert.True(statusCode == 200, $"{statusCode} {written}");
        var (stillCode, still) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(200, stillCode);
        Assert.Equal("False", still!["status"]!["conditions"]![0]!["status"]!.GetValue<string>());

        var (finalCode, _) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/pods/p", """{"gracePeriodSeconds":0}""");
        Assert.Equal(200, finalCode);
        var (goneCode, _) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(404, goneCode);
    }

    [Fact]
    public async Task List_LimitAndContinue_ConsistentSnapshot()
    {
        var ns = ApiServerFixture.UniqueName("page");
        await Http.CreateNamespaceAsync(ns);
        for (var i = 0; i < 7; i++)
        {
            await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c{{{i}}}"}}""");
        }
        var (_, page1) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps?limit=3");
        Assert.Equal(3, page1!["items"]!.AsArray().Count);
        Assert.Equal(4, page1["metadata"]!["remainingItemCount"]!.GetValue<long>());
        var token = page1["metadata"]!["continue"]!.GetValue<string>();
        // A change after the first page is not visible in later pages of the same list.
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c9"}}""");
        var names = page1["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()).ToList();
        while (token is not null)
        {
            var (_, page) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps?limit=3&continue={Uri.EscapeDataString(token)}");
            names.AddRange(page!["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()));
            Assert.Equal(page1.Rv(), page.Rv());
            token = page["metadata"]!["continue"]?.GetValue<string>();
        }
        Assert.Equal(["c0", "c1", "c2", "c3", "c4", "c5", "c6"], names);
    }

    [Fact]
    public async Task EndpointSlice_Generation_CountsEndpointChanges()
    {
        var ns = ApiServerFixture.UniqueName("gen");
        await Http.CreateNamespaceAsync(ns);
        var (code, slice) = await Http.PostJsonAsync($"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
            """{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s"},"addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"]}]}""");
        Assert.True(code == 201, $"{code} {slice}");
        Assert.Equal(1, slice!["metadata"]!["generation"]!.GetValue<long>());
        slice["endpoints"]![0]!["addresses"]![0] = "10.244.1.6";
        var (putCode, updated) = await Http.SendJsonAsync(HttpMethod.Put, $"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/s", slice.ToJsonString());
        Assert.Equal(200, putCode);
        Assert.Equal(2, updated!["metadata"]!["generation"]!.GetValue<long>());
        updated["metadata"]!["annotations"] = JsonNode.Parse("""{"note":"x"}""");
        var (_, annotated) = await Http.SendJsonAsync(HttpMethod.Put, $"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/s", updated.ToJsonString());
        Assert.Equal(2, annotated!["metadata"]!["generation"]!.GetValue<long>());
    }
}
