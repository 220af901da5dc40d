using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E;

/// <summary>What kubectl learns from discovery, OpenAPI and /version; and what a cold discovery cache costs.</summary>
[Collection(ServerCollection.Name)]
public sealed partial class KubectlDiscoveryTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    [Fact]
    public async Task Version_ReportsSwitchboardBuildOfV133()
    {
        var r = (await Kubectl.RunAsync("version")).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^Client Version: v1\.\d+\.\d+");
        AssertLineMatches(r, r.Stdout, @"^Server Version: v1\.33\.0-switchboard\.\S+$");

        var json = (await Kubectl.RunAsync("version", "-o", "json")).ShouldSucceed();
        var server = JsonNode.Parse(json.Stdout)!["serverVersion"]!;
        Assert.Equal("1", (string?)server["major"]);
        Assert.Equal("33", (string?)server["minor"]);
        Assert.StartsWith("v1.33.0-switchboard.", (string?)server["gitVersion"], StringComparison.Ordinal);
        Assert.StartsWith("linux/", (string?)server["platform"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiResources_ListsTheServedResources()
    {
        var r = (await Kubectl.RunAsync("api-resources")).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$");
        AssertLineMatches(r, r.Stdout, @"^services\s+svc\s+v1\s+true\s+Service$");
        AssertLineMatches(r, r.Stdout, @"^namespaces\s+ns\s+v1\s+false\s+Namespace$");
        AssertLineMatches(r, r.Stdout, @"^configmaps\s+cm\s+v1\s+true\s+ConfigMap$");
        AssertLineMatches(r, r.Stdout, @"^events\s+ev\s+v1\s+true\s+Event$");
        AssertLineMatches(r, r.Stdout, @"^endpoints\s+ep\s+v1\s+true\s+Endpoints$");
        AssertLineMatches(r, r.Stdout, @"^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$");
        AssertLineMatches(r, r.Stdout, @"^endpointslices\s+discovery\.k8s\.io/v1\s+true\s+EndpointSlice$");
        AssertLineMatches(r, r.Stdout, @"^ingresses\s+ing\s+networking\.k8s\.io/v1\s+true\s+Ingress$");
        AssertLineMatches(r, r.Stdout, @"^networkpolicies\s+netpol\s+networking\.k8s\.io/v1\s+true\s+NetworkPolicy$");

        var names = (await Kubectl.RunAsync("api-resources", "--api-group=", "-o", "name")).ShouldSucceed();
        Assert.Contains("services", names.Lines);
        Assert.Contains("namespaces", names.Lines);
    }

    [Fact]
    public async Task Explain_Service_ShowsSchemaFromOpenApi()
    {
        var r = (await Kubectl.RunAsync("explain", "service")).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^KIND:\s+Service$");
        AssertLineMatches(r, r.Stdout, @"^VERSION:\s+v1$");
        AssertLineMatches(r, r.Stdout, @"^DESCRIPTION:$");
        AssertLineMatches(r, r.Stdout, @"^FIELDS:$");
        AssertLineMatches(r, r.Stdout, @"^\s+spec\s+<ServiceSpec>$");
        AssertLineMatches(r, r.Stdout, @"^\s+status\s+<ServiceStatus>$");

        var field = (await Kubectl.RunAsync("explain", "service.spec.clusterIP")).ShouldSucceed();
        AssertLineMatches(field, field.Stdout, @"^FIELD:\s+clusterIP <string>$");
    }

    [Fact]
    public async Task ColdCache_GetServices_OnlyDiscoveryRootsAndTheList()
    {
        var kubectl = Kubectl.WithCacheDir(Server.NewCacheDir());
        var r = (await kubectl.RunAsync("get", "services", "-n", "default", "-v=6")).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s");

        var requests = ParseRequests(r.Stderr)
            .Where(q => !(q.Url.AbsolutePath == "/version" && q.Url.Query == "?timeout=5s"))
            .ToList();
        var seen = string.Join("\n", requests.Select(q => $"{q.Verb} {q.Url.PathAndQuery} {q.Status}"));
        Assert.True(requests.Count == 3, $"expected exactly /api, /apis and the list; got:\n{seen}\n{r}");
        Assert.All(requests, q => Assert.Equal("GET", q.Verb));
        Assert.All(requests, q => Assert.Equal("200 OK", q.Status));
        Assert.Equal("/api", requests[0].Url.AbsolutePath);
        Assert.Equal("/apis", requests[1].Url.AbsolutePath);
        Assert.Equal("/api/v1/namespaces/default/services", requests[2].Url.AbsolutePath);
        Assert.Equal("?limit=500", requests[2].Url.Query);
    }

    private sealed record Request(string Verb, Uri Url, string Status);

    // kubectl ≥ 1.33: I... round_trippers.go:632] "Response" verb="GET" url="https://..." status="200 OK" milliseconds=8
    [GeneratedRegex(@"""Response"" verb=""(?<verb>[A-Z]+)"" url=""(?<url>[^""]+)"" status=""(?<status>[^""]+)""")]
    private static partial Regex StructuredResponse();

    // kubectl ≤ 1.32: I... round_trippers.go:553] GET https://... 200 OK in 8 milliseconds
    [GeneratedRegex(@"\] (?<verb>GET|POST|PUT|PATCH|DELETE) (?<url>https?://\S+) (?<status>\d{3} [^\n]*?) in \d+ milliseconds")]
    private static partial Regex LegacyResponse();

    private static List<Request> ParseRequests(string stderr)
    {
        var list = new List<Request>();
        foreach (var line in stderr.Split('\n'))
        {
            var m = StructuredResponse().Match(line);
            if (!m.Success)
            {
                m = LegacyResponse().Match(line);
            }
            if (m.Success)
            {
                list.Add(new Request(m.Groups["verb"].Value, new Uri(m.Groups["url"].Value), m.Groups["status"].Value.Trim()));
            }
        }
        return list;
    }
}
