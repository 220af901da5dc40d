using System.Net;
using System.Text;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>Discovery, health, version, auth and the error contract.</summary>
public sealed class ProtocolTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    private const string AggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    [Fact]
    public async Task Discovery_Aggregated_ListsEveryResourceWithCategories()
    {
        var (code, core) = await Http.GetJsonAsync("/api", AggregatedAccept);
        Assert.Equal(200, code);
        Assert.Equal("APIGroupDiscoveryList", core!["kind"]!.GetValue<string>());
        var resources = core["items"]![0]!["versions"]![0]!["resources"]!.AsArray();
        var svc = resources.Single(r => r!["resource"]!.GetValue<string>() == "services")!;
        Assert.Equal("Namespaced", svc["scope"]!.GetValue<string>());
        Assert.Contains(svc["categories"]!.AsArray(), c => c!.GetValue<string>() == "all");
        Assert.Contains(svc["shortNames"]!.AsArray(), c => c!.GetValue<string>() == "svc");

        var (code2, groups) = await Http.GetJsonAsync("/apis", AggregatedAccept);
        Assert.Equal(200, code2);
        var names = groups!["items"]!.AsArray().Select(g => g!["metadata"]!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("apps", names);
        Assert.Contains("discovery.k8s.io", names);
        Assert.Contains("networking.k8s.io", names);
        Assert.Contains("coordination.k8s.io", names);
    }

    [Fact]
    public async Task Discovery_Legacy_ServesGroupVersions()
    {
        var (code, list) = await Http.GetJsonAsync("/apis/networking.k8s.io/v1");
        Assert.Equal(200, code);
        Assert.Equal("APIResourceList", list!["kind"]!.GetValue<string>());
        Assert.Contains(list["resources"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "ingresses/status");
    }

    [Fact]
    public async Task Version_ReportsSwitchboardBuildOfV133()
    {
        using var anonymous = fixture.Server.CreateHttpClient(null);
        var (code, v) = await anonymous.GetJsonAsync("/version");
        Assert.Equal(200, code);
        Assert.StartsWith("v1.33.0-switchboard.", v!["gitVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("33", v["minor"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    public async Task Health_AnonymousGet_Ok(string path)
    {
        using var anonymous = fixture.Server.CreateHttpClient(null);
        using var resp = await anonymous.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("ok", await resp.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-token")]
    public async Task Auth_MissingOrWrongToken_401Status(string? token)
    {
        using var client = fixture.Server.CreateHttpClient(token);
        var (code, status) = await client.GetJsonAsync("/api/v1/namespaces");
        Assert.Equal(401, code);
        Assert.Equal("Unauthorized", status!["reason"]!.GetValue<string>());
        Assert.Equal("Status", status["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Auth_WrongToken_RefusedEvenOnHealth()
    {
        using var client = fixture.Server.CreateHttpClient("wrong");
        using var resp = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.Unauthorized, resp.StatusCode);
    }

    [Fact]
    public async Task Errors_InvalidName_422WithFieldCause()
    {
        var (code, status) = await Http.PostJsonAsync("/api/v1/namespaces/default/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad_name"}}""");
        Assert.Equal(422, code);
        Assert.Equal("Invalid", status!["reason"]!.GetValue<string>());
        Assert.StartsWith("ConfigMap \"bad_name\" is invalid: metadata.name: Invalid value: \"bad_name\": a lowercase RFC 1123 subdomain", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var cause = status["details"]!["causes"]![0]!;
        Assert.Equal("metadata.name", cause["field"]!.GetValue<string>());
        Assert.Equal("FieldValueInvalid", cause["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{not json", "application/json")]
    [InlineData("[1,2]", "application/json")]
    [InlineData("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":7}}", "application/json")]
    [InlineData("a: [b", "application/yaml")]
    [InlineData("{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}", "application/json")]
    [InlineData("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}", "application/json")]
    public async Task Errors_MalformedBody_400AndNothingStored(string body, string contentType)
    {
        var before = await Http.GetJsonAsync("/api/v1/namespaces/default/configmaps");
        var (code, status) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", body, contentType);
        Assert.Equal(400, code);
        Assert.Equal("BadRequest", status!["reason"]!.GetValue<string>());
        var after = await Http.GetJsonAsync("/api/v1/namespaces/default/configmaps");
        Assert.Equal(before.Body!["items"]!.AsArray().Count, after.Body!["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Errors_YamlBody_Accepted()
    {
        var yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  port: \"80\"\n";
        var (code, body) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", yaml, "application/yaml");
        Assert.True(code == 201, $"{code} {body}");
        Assert.Equal("80", body!["data"]!["port"]!.GetValue<string>());
    }

    [Fact]
    public async Task Errors_ProtobufForKindWithoutSchema_415WithUpstreamMessage()
    {
        var (code, status) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/endpoints", "k8s\0garbage", "application/vnd.kubernetes.protobuf");
        Assert.Equal(415, code);
        Assert.Equal("UnsupportedMediaType", status!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Errors_OversizeBody_413()
    {
        var big = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"},\"data\":{\"a\":\"" + new string('x', 3 * 1024 * 1024 + 10) + "\"}}";
        using var content = new StringContent(big, Encoding.UTF8, "application/json");
        using var resp = await Http.PostAsync("/api/v1/namespaces/default/configmaps", content);
        Assert.Equal(413, (int)resp.StatusCode);
        var (getCode, _) = await Http.GetJsonAsync("/api/v1/namespaces/default/configmaps/big");
        Assert.Equal(404, getCode);
    }

    [Theory]
    [InlineData("/api/v1/namespaces/default/bogus")]
    [InlineData("/apis/nope.example.com/v1/things")]
    [InlineData("/api/v2/namespaces")]
    public async Task Errors_UnknownResource_404Status(string path)
    {
        var (code, status) = await Http.GetJsonAsync(path);
        Assert.Equal(404, code);
        Assert.Equal("NotFound", status!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Errors_StrictFieldValidation_UnknownField400()
    {
        var (code, status) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}""");
        Assert.Equal(400, code);
        Assert.Contains("unknown field \"bogus\"", status!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_Create_NotPersisted()
    {
        var (code, _) = await Http.SendJsonAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?dryRun=All", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}""");
        Assert.Equal(201, code);
        var (getCode, _) = await Http.GetJsonAsync("/api/v1/namespaces/default/configmaps/dry");
        Assert.Equal(404, getCode);
    }

    [Fact]
    public async Task Table_ServicesList_HasUpstreamColumns()
    {
        var (code, table) = await Http.GetJsonAsync("/api/v1/namespaces/default/services", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
        Assert.Equal(200, code);
        Assert.Equal("Table", table!["kind"]!.GetValue<string>());
        var columns = table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], columns);
        var row = table["rows"]!.AsArray().Single(r => r!["cells"]![0]!.GetValue<string>() == "kubernetes")!;
        Assert.Equal("10.96.0.1", row["cells"]![2]!.GetValue<string>());
        Assert.Equal("443/TCP", row["cells"]![4]!.GetValue<string>());
    }

    [Fact]
    public async Task Metrics_CountRequests()
    {
        await Http.GetJsonAsync("/api/v1/namespaces");
        var text = await Http.GetStringAsync("/metrics");
        Assert.Contains("apiserver_request_total{code=\"200\",resource=\"namespaces\",verb=\"LIST\"}", text, StringComparison.Ordinal);
        Assert.Contains("apiserver_request_duration_seconds_bucket{verb=\"LIST\",resource=\"namespaces\",le=\"+Inf\"}", text, StringComparison.Ordinal);
    }
}
