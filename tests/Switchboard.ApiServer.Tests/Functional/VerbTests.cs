using System.Text;
using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>Service-account tokens, fieldValidation modes, deletecollection and dryRun on every write verb.</summary>
public sealed class VerbTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    [Fact]
    public async Task TokenRequest_IssuedTokenAuthenticates()
    {
        var ns = ApiServerFixture.UniqueName("sa");
        await Http.CreateNamespaceAsync(ns);
        var (saCode, _) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}}""");
        Assert.Equal(201, saCode);
        var (code, tr) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts/robot/token", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}""");
        Assert.True(code == 201, $"{code} {tr}");
        Assert.Equal("TokenRequest", tr!["kind"]!.GetValue<string>());
        var token = tr["status"]!["token"]!.GetValue<string>();
        Assert.Equal(3, token.Split('.').Length);

        using var asRobot = fixture.Server.CreateHttpClient(token);
        var (listCode, list) = await asRobot.GetJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts");
        Assert.Equal(200, listCode);
        Assert.Contains(list!["items"]!.AsArray(), i => i!["metadata"]!["name"]!.GetValue<string>() == "robot");

        // A token whose signature was tampered with is refused.
        using var tampered = fixture.Server.CreateHttpClient(token[..^4] + (token.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA"));
        var (badCode, _) = await tampered.GetJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts");
        Assert.Equal(401, badCode);
    }

    [Fact]
    public async Task TokenRequest_TooShortExpiration_422()
    {
        var ns = ApiServerFixture.UniqueName("sa");
        await Http.CreateNamespaceAsync(ns);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}}""");
        var (code, status) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/serviceaccounts/robot/token", """{"spec":{"expirationSeconds":60}}""");
        Assert.Equal(422, code);
        Assert.Equal("spec.expirationSeconds", status!["details"]!["causes"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task FieldValidation_Warn_AddsWarningHeaderAndDropsField()
    {
        var name = ApiServerFixture.UniqueName("warned");
        using var content = new StringContent($$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"{{{name}}}"},"bogus":1,"data":{"a":"b"}}""", Encoding.UTF8, "application/json");
        using var resp = await Http.PostAsync("/api/v1/namespaces/default/configmaps?fieldValidation=Warn", content);
        Assert.Equal(201, (int)resp.StatusCode);
        Assert.Contains(resp.Headers.GetValues("Warning"), w => w.Contains("unknown field \\\"bogus\\\"", StringComparison.Ordinal));
        var body = JsonNode.Parse(await resp.Content.ReadAsStringAsync())!;
        Assert.Null(body["bogus"]);
        Assert.Equal("b", body["data"]!["a"]!.GetValue<string>());
    }

    [Fact]
    public async Task FieldValidation_Ignore_NoWarningFieldDropped()
    {
        var name = ApiServerFixture.UniqueName("ignored");
        using var content = new StringContent($$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"{{{name}}}"},"bogus":1}""", Encoding.UTF8, "application/json");
        using var resp = await Http.PostAsync("/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", content);
        Assert.Equal(201, (int)resp.StatusCode);
        Assert.False(resp.Headers.Contains("Warning"));
        Assert.Null(JsonNode.Parse(await resp.Content.ReadAsStringAsync())!["bogus"]);
    }

    [Fact]
    public async Task FieldValidation_BadValue_400()
    {
        var (code, status) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?fieldValidation=Sometimes", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""");
        Assert.Equal(400, code);
        Assert.Contains("fieldValidation", status!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteCollection_BySelector_DeletesOnlyMatches()
    {
        var ns = ApiServerFixture.UniqueName("dc");
        await Http.CreateNamespaceAsync(ns);
        foreach (var (name, app) in new[] { ("a", "x"), ("b", "x"), ("c", "y") })
        {
            await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"{{{name}}}","labels":{"app":"{{{app}}}"} } }""");
        }
        var (code, deleted) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/configmaps?labelSelector=app%3Dx");
        Assert.Equal(200, code);
        Assert.Equal(2, deleted!["items"]!.AsArray().Count);
        var (_, left) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps");
        Assert.Equal(["c"], left!["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task DryRun_UpdatePatchDelete_NothingChanges()
    {
        var ns = ApiServerFixture.UniqueName("dry");
        await Http.CreateNamespaceAsync(ns);
        var (_, created) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}""");
        var rv = created.Rv();
        created!["data"]!["a"] = "2";
        var (putCode, put) = await Http.SendJsonAsync(HttpMethod.Put, $"/api/v1/namespaces/{ns}/configmaps/c?dryRun=All", created.ToJsonString());
        Assert.Equal(200, putCode);
        Assert.Equal("2", put!["data"]!["a"]!.GetValue<string>());
        var (patchCode, _) = await Http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c?dryRun=All", """{"data":{"a":"3"}}""", "application/merge-patch+json");
        Assert.Equal(200, patchCode);
        var (delCode, _) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/configmaps/c?dryRun=All");
        Assert.Equal(200, delCode);
        var (_, now) = await Http.GetJsonAsync($"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Equal("1", now!["data"]!["a"]!.GetValue<string>());
        Assert.Equal(rv, now.Rv());
    }

    [Fact]
    public async Task DryRun_BadValue_400()
    {
        var (code, _) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?dryRun=Some", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""");
        Assert.Equal(400, code);
    }

    [Fact]
    public async Task NamespaceTerminating_CreateRefused403()
    {
        var ns = ApiServerFixture.UniqueName("term");
        await Http.CreateNamespaceAsync(ns);
        var (delCode, marked) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        Assert.Equal(200, delCode);
        Assert.Equal("Terminating", marked!["status"]!["phase"]!.GetValue<string>());
        var (code, status) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}""");
        Assert.Equal(403, code);
        Assert.Contains("because it is being terminated", status!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var (again, conflict) = await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        Assert.Equal(409, again);
        Assert.Contains("The system is ensuring all content is removed from this namespace", conflict!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_TooLargeResourceVersionExact_504()
    {
        var (code, status) = await Http.GetJsonAsync("/api/v1/namespaces/default/configmaps?resourceVersion=999999999&resourceVersionMatch=Exact");
        Assert.Equal(504, code);
        Assert.Contains("Too large resource version", status!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
