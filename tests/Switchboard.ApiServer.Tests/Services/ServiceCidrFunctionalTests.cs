using System.Text.Json.Nodes;
using Switchboard.ApiServer.Allocation;
using Switchboard.ApiServer.Tests.Functional;
using Switchboard.TestKit;

namespace Switchboard.ApiServer.Tests.Services;

/// <summary>
/// Extra ServiceCIDRs through the real API server in-process, after upstream's "Extend Service IP Ranges" task
/// (kubernetes/website content/en/docs/tasks/network/extend-service-ip-ranges.md): a /24 around a full /28, deletion held
/// by the finalizer while Services use it, requested addresses, validation, and the default `kubernetes` ServiceCIDR.
/// </summary>
public sealed class ServiceCidrFunctionalTests
{
    private const string ServiceCidrs = "/apis/networking.k8s.io/v1/servicecidrs";
    private const string MergePatch = "application/merge-patch+json";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static string ServiceJson(string name, string extraSpec = "") =>
        $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"selector":{"app":"x"},"ports":[{"port":80}]{{{extraSpec}}}}}""";

    private static string ServiceCidrJson(string name, params string[] cidrs) =>
        $$$"""{"apiVersion":"networking.k8s.io/v1","kind":"ServiceCIDR","metadata":{"name":"{{{name}}}"},"spec":{"cidrs":[{{{string.Join(",", cidrs.Select(c => "\"" + c + "\""))}}}]}}""";

    private static async Task<JsonNode> CreateAsync(HttpClient http, string path, string body)
    {
        var (code, obj) = await http.PostJsonAsync(path, body);
        Assert.True(code == 201, $"{code} {obj}");
        return obj!;
    }

    private static async Task<string> CreateServiceAsync(HttpClient http, string ns, string name, string extraSpec = "") =>
        (await CreateAsync(http, $"/api/v1/namespaces/{ns}/services", ServiceJson(name, extraSpec)))["spec"]!["clusterIP"]!.GetValue<string>();

    private static async Task<(int Code, string Message)> FailServiceAsync(HttpClient http, string ns, string name, string extraSpec = "")
    {
        var (code, status) = await http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", ServiceJson(name, extraSpec));
        return (code, status!["message"]!.GetValue<string>());
    }

    private static JsonNode? Ready(JsonNode cidr) =>
        cidr["status"]?["conditions"]?.AsArray().FirstOrDefault(c => c!["type"]!.GetValue<string>() == "Ready");

    /// <summary>Polls a ServiceCIDR until the condition holds (the controller works in the background, as upstream's does).</summary>
    private static async Task<JsonNode> WaitForAsync(HttpClient http, string name, Func<JsonNode, bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var (code, cidr) = await http.GetJsonAsync($"{ServiceCidrs}/{name}");
            Assert.Equal(200, code);
            if (condition(cidr!))
            {
                return cidr!;
            }
            Assert.True(DateTime.UtcNow < deadline, $"ServiceCIDR {name} never got there: {cidr}");
            await Task.Delay(50);
        }
    }

    private static Task<JsonNode> WaitReadyAsync(HttpClient http, string name) =>
        WaitForAsync(http, name, c => Ready(c)?["status"]?.GetValue<string>() == "True" && Finalizers(c).Contains(ServiceCidrController.Finalizer));

    private static async Task WaitGoneAsync(HttpClient http, string name)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var (code, cidr) = await http.GetJsonAsync($"{ServiceCidrs}/{name}");
            if (code == 404)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"ServiceCIDR {name} is still there: {cidr}");
            await Task.Delay(50);
        }
    }

    private static List<string> Finalizers(JsonNode obj) =>
        obj["metadata"]!["finalizers"]?.AsArray().Select(f => f!.GetValue<string>()).ToList() ?? [];

    private static async Task<List<string>> IpAddressNamesAsync(HttpClient http)
    {
        var (code, list) = await http.GetJsonAsync("/apis/networking.k8s.io/v1/ipaddresses");
        Assert.Equal(200, code);
        return [.. list!["items"]!.AsArray().Select(a => a!["metadata"]!["name"]!.GetValue<string>())];
    }

    private static bool InCidr(string ip, string cidr) => ServiceCidr.Parse(cidr).Contains(IpText.Parse(ip)!);

    [Fact]
    public async Task ExtraServiceCidr_ExtendsFullRange_ThenDeletionWaitsForItsServices()
    {
        await using var server = await TestApiServer.StartAsync(configure: o => o.ServiceClusterIpRange = "10.96.0.0/28");
        var http = server.Http;
        var ns = ApiServerFixture.UniqueName("extend");
        await http.CreateNamespaceAsync(ns);

        // The documentation's walk-through: 14 addresses, the kubernetes Service holds one, 13 Services fill the rest.
        await WaitReadyAsync(http, "kubernetes");
        for (var i = 1; i <= 13; i++)
        {
            Assert.True(InCidr(await CreateServiceAsync(http, ns, $"test-{i}"), "10.96.0.0/28"));
        }
        Assert.Equal((500, "Internal error occurred: failed to allocate a serviceIP: range is full (10.96.0.0/28)"), await FailServiceAsync(http, ns, "test-14"));
        // 10.96.0.16: past the /28, in the new /24's static band (dynamic allocation takes its upper band first).
        Assert.Equal((422, "Service \"static\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.16\"}: failed to allocate IP 10.96.0.16: the provided network does not match the current range"),
            await FailServiceAsync(http, ns, "static", ""","clusterIP":"10.96.0.16" """));

        var created = await CreateAsync(http, ServiceCidrs, ServiceCidrJson("newcidr1", "10.96.0.0/24"));
        Assert.Null(created["status"]?["conditions"]);
        var ready = await WaitReadyAsync(http, "newcidr1");
        Assert.Equal(ServiceCidrController.ReadyMessage, Ready(ready)!["message"]!.GetValue<string>());

        // New Services get addresses from the new range; the /28 inside it stays full.
        var extra = new List<string>();
        for (var i = 14; i <= 16; i++)
        {
            var ip = await CreateServiceAsync(http, ns, $"test-{i}");
            Assert.True(InCidr(ip, "10.96.0.0/24") && !InCidr(ip, "10.96.0.0/28"), ip);
            extra.Add(ip);
        }
        // A requested address in the new range only is accepted now.
        Assert.Equal("10.96.0.16", await CreateServiceAsync(http, ns, "static", ""","clusterIP":"10.96.0.16" """));
        Assert.Equal((422, "Service \"elsewhere\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.97.0.5\"}: failed to allocate IP 10.97.0.5: the provided network does not match the current range"),
            await FailServiceAsync(http, ns, "elsewhere", ""","clusterIP":"10.97.0.5" """));
        var addresses = await IpAddressNamesAsync(http);
        Assert.Subset(addresses.ToHashSet(), extra.Append("10.96.0.16").ToHashSet());

        // Deleting it while Services hold addresses only it contains: it stays, Ready=False, reason Terminating.
        var (deleted, _) = await http.SendJsonAsync(HttpMethod.Delete, $"{ServiceCidrs}/newcidr1");
        Assert.Equal(200, deleted);
        var terminating = await WaitForAsync(http, "newcidr1", c => Ready(c)?["status"]?.GetValue<string>() == "False");
        Assert.NotNull(terminating["metadata"]!["deletionTimestamp"]);
        Assert.Equal([ServiceCidrController.Finalizer], Finalizers(terminating));
        Assert.Equal("Terminating", Ready(terminating)!["reason"]!.GetValue<string>());
        Assert.Equal("There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR", Ready(terminating)!["message"]!.GetValue<string>());

        // A terminating ServiceCIDR gives nothing out any more.
        Assert.Equal((500, "Internal error occurred: failed to allocate a serviceIP: range is full (10.96.0.0/28)"), await FailServiceAsync(http, ns, "late"));
        Assert.Equal((422, "Service \"late\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.201\"}: failed to allocate IP 10.96.0.201: the provided network does not match the current range"),
            await FailServiceAsync(http, ns, "late", ""","clusterIP":"10.96.0.201" """));

        // It goes once the last Service with an address of its own is gone.
        foreach (var name in new[] { "test-14", "test-15", "test-16" })
        {
            var (code, _) = await http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/{name}");
            Assert.Equal(200, code);
        }
        await Task.Delay(300);
        Assert.Equal(200, (await http.GetJsonAsync($"{ServiceCidrs}/newcidr1")).Code);
        var (last, _) = await http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/static");
        Assert.Equal(200, last);
        await WaitGoneAsync(http, "newcidr1");
        Assert.DoesNotContain(await IpAddressNamesAsync(http), ip => InCidr(ip, "10.96.0.0/24") && !InCidr(ip, "10.96.0.0/28"));
    }

    [Fact]
    public async Task DisjointServiceCidr_UsedWhenFirstIsFull_RequestedAddressAccepted_DualStackPerFamily()
    {
        await using var server = await TestApiServer.StartAsync(configure: o => o.ServiceClusterIpRange = "10.96.0.0/28,fd00:10:96::/124");
        var http = server.Http;
        var ns = ApiServerFixture.UniqueName("disjoint");
        await http.CreateNamespaceAsync(ns);
        await CreateAsync(http, ServiceCidrs, ServiceCidrJson("more", "10.100.0.0/24", "fd00:10:100::/120"));
        await WaitReadyAsync(http, "more");

        Assert.Equal("10.100.0.77", await CreateServiceAsync(http, ns, "pinned", ""","clusterIP":"10.100.0.77" """));
        var (code, pinned6) = await http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", ServiceJson("pinned6", ""","ipFamilies":["IPv6"],"clusterIP":"fd00:10:100::77" """));
        Assert.True(code == 201, $"{code} {pinned6}");

        // Fill both ranges of each family's first ServiceCIDR; the next Services spill over, per family.
        var seen = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var (c, svc) = await http.PostJsonAsync($"/api/v1/namespaces/{ns}/services", ServiceJson($"s{i}", ""","ipFamilyPolicy":"RequireDualStack" """));
            Assert.True(c == 201, $"{c} {svc}");
            seen.AddRange(svc!["spec"]!["clusterIPs"]!.AsArray().Select(ip => ip!.GetValue<string>()));
        }
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Contains(seen, ip => InCidr(ip, "10.100.0.0/24"));
        Assert.Contains(seen, ip => InCidr(ip, "fd00:10:100::/120"));
        Assert.All(seen, ip => Assert.True(InCidr(ip, "10.96.0.0/28") || InCidr(ip, "10.100.0.0/24") || InCidr(ip, "fd00:10:96::/124") || InCidr(ip, "fd00:10:100::/120"), ip));
        Assert.Equal(14 - 1, seen.Count(ip => InCidr(ip, "10.96.0.0/28")));
    }

    [Fact]
    public async Task ServiceCidrWithoutOwnAddresses_GoesAtOnce_EvenWhenContainedOnesAreInUse()
    {
        await using var server = await TestApiServer.StartAsync(configure: o => o.ServiceClusterIpRange = "10.96.0.0/24");
        var http = server.Http;
        var ns = ApiServerFixture.UniqueName("inner");
        await http.CreateNamespaceAsync(ns);

        // Inside the default one: its addresses would stay covered, so the finalizer goes even with a Service using them.
        await CreateAsync(http, ServiceCidrs, ServiceCidrJson("inner", "10.96.0.0/28"));
        await WaitReadyAsync(http, "inner");
        await CreateServiceAsync(http, ns, "user", ""","clusterIP":"10.96.0.5" """);
        Assert.Equal(200, (await http.SendJsonAsync(HttpMethod.Delete, $"{ServiceCidrs}/inner")).Code);
        await WaitGoneAsync(http, "inner");

        // Disjoint and unused: goes too.
        await CreateAsync(http, ServiceCidrs, ServiceCidrJson("unused", "10.200.0.0/24"));
        await WaitReadyAsync(http, "unused");
        Assert.Equal(200, (await http.SendJsonAsync(HttpMethod.Delete, $"{ServiceCidrs}/unused")).Code);
        await WaitGoneAsync(http, "unused");
    }

    [Fact]
    public async Task DefaultServiceCidr_Deleted_StaysWhileTheKubernetesServiceNeedsIt_ThenIsRecreated()
    {
        await using var server = await TestApiServer.StartAsync(configure: o => o.ServiceClusterIpRange = "10.96.0.0/28");
        var http = server.Http;
        var ns = ApiServerFixture.UniqueName("default");
        await http.CreateNamespaceAsync(ns);
        var before = await WaitReadyAsync(http, "kubernetes");
        Assert.Equal("Kubernetes default Service CIDR is ready", Ready(before)!["message"]!.GetValue<string>());

        // Upstream's replacement procedure, step 4: marked for deletion, it stays (10.96.0.1 is the kubernetes Service's)
        // and no longer gives addresses out.
        Assert.Equal(200, (await http.SendJsonAsync(HttpMethod.Delete, $"{ServiceCidrs}/kubernetes")).Code);
        var pending = await WaitForAsync(http, "kubernetes", c => Ready(c)?["reason"]?.GetValue<string>() == "Terminating");
        Assert.Equal(before["metadata"]!["uid"]!.GetValue<string>(), pending["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal((500, "Internal error occurred: failed to allocate a serviceIP: range is full"), await FailServiceAsync(http, ns, "none"));

        // Another ServiceCIDR takes over: new Services come from it, and the old one may go now its addresses are covered.
        await CreateAsync(http, ServiceCidrs, ServiceCidrJson("replacement", "10.96.0.0/24"));
        await WaitReadyAsync(http, "replacement");
        Assert.True(InCidr(await CreateServiceAsync(http, ns, "moved"), "10.96.0.0/24"));

        // Gone, and recreated from the flag by the default ServiceCIDR controller, as upstream's is.
        var recreated = await WaitForAsync(http, "kubernetes", c => c["metadata"]!["uid"]!.GetValue<string>() != before["metadata"]!["uid"]!.GetValue<string>()
            && Ready(c)?["status"]?.GetValue<string>() == "True");
        Assert.Equal(["10.96.0.0/28"], recreated["spec"]!["cidrs"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Null(recreated["metadata"]!["deletionTimestamp"]);
    }

    [Fact]
    public async Task Restart_ExtraServiceCidrAndItsAddresses_Survive()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "sb-cidr-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            var ns = ApiServerFixture.UniqueName("restart");
            await using (var server = await TestApiServer.StartAsync(sqlite: true, dataDir: dataDir, configure: o => o.ServiceClusterIpRange = "10.96.0.0/28"))
            {
                await server.Http.CreateNamespaceAsync(ns);
                await CreateAsync(server.Http, ServiceCidrs, ServiceCidrJson("extra", "10.100.0.0/24"));
                await WaitReadyAsync(server.Http, "extra");
                await CreateServiceAsync(server.Http, ns, "pinned", ""","clusterIP":"10.100.0.9" """);
            }

            await using (var restarted = await TestApiServer.StartAsync(sqlite: true, dataDir: dataDir, configure: o => o.ServiceClusterIpRange = "10.96.0.0/28"))
            {
                var http = restarted.Http;
                // The range is back before the API serves, with its reservations.
                Assert.Equal((422, "Service \"again\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.100.0.9\"}: failed to allocate IP 10.100.0.9: provided IP is already allocated"),
                    await FailServiceAsync(http, ns, "again", ""","clusterIP":"10.100.0.9" """));
                Assert.Equal("10.100.0.10", await CreateServiceAsync(http, ns, "fresh", ""","clusterIP":"10.100.0.10" """));
                await restarted.Host.ServiceNetworking!.Repair.RunOnceAsync(CancellationToken.None);
                var (code, events) = await http.GetJsonAsync($"/api/v1/namespaces/{ns}/events");
                Assert.Equal(200, code);
                Assert.Empty(events!["items"]!.AsArray());
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Validation_UpstreamMessages()
    {
        await using var server = await TestApiServer.StartAsync();
        var http = server.Http;

        async Task<string> Invalid(string body)
        {
            var (code, status) = await http.PostJsonAsync(ServiceCidrs, body);
            Assert.True(code == 422, $"{code} {status}");
            return status!["message"]!.GetValue<string>();
        }

        Assert.Equal("ServiceCIDR.networking.k8s.io \"x\" is invalid: spec.cidrs: Required value: at least one CIDR required",
            await Invalid(ServiceCidrJson("x")));
        Assert.Equal("ServiceCIDR.networking.k8s.io \"x\" is invalid: spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{\"10.0.0.0/24\", \"fd00::/64\", \"10.1.0.0/24\"}}: may only hold up to 2 values",
            await Invalid(ServiceCidrJson("x", "10.0.0.0/24", "fd00::/64", "10.1.0.0/24")));
        Assert.Equal("ServiceCIDR.networking.k8s.io \"x\" is invalid: spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{\"fd00::/64\", \"fd01::/64\"}}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            await Invalid(ServiceCidrJson("x", "fd00::/64", "fd01::/64")));
        Assert.Equal("ServiceCIDR.networking.k8s.io \"x\" is invalid: spec.cidrs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            await Invalid(ServiceCidrJson("x", "10.0.0.0/33")));
        // The name and the spec in one Status, metadata first.
        var both = await Invalid(ServiceCidrJson("Bad_Name"));
        Assert.StartsWith("ServiceCIDR.networking.k8s.io \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": ", both);
        Assert.EndsWith(", spec.cidrs: Required value: at least one CIDR required]", both);

        // Immutable, except that a single-stack ServiceCIDR may gain the other family.
        await CreateAsync(http, ServiceCidrs, ServiceCidrJson("grow", "10.200.0.0/24"));
        async Task<(int Code, JsonNode? Body)> Patch(string cidrs) =>
            await http.SendJsonAsync(HttpMethod.Patch, $"{ServiceCidrs}/grow", $$$"""{"spec":{"cidrs":{{{cidrs}}}}}""", MergePatch);
        var (code, body) = await Patch("""["10.201.0.0/24"]""");
        Assert.Equal(422, code);
        Assert.Equal("ServiceCIDR.networking.k8s.io \"grow\" is invalid: spec.cidrs[0]: Invalid value: \"10.201.0.0/24\": field is immutable", body!["message"]!.GetValue<string>());
        (code, body) = await Patch("""["10.200.0.0/24","fd00:10:200::/120"]""");
        Assert.True(code == 200, $"{code} {body}");
        (code, body) = await Patch("""["10.200.0.0/24"]""");
        Assert.Equal(422, code);
        Assert.Equal("ServiceCIDR.networking.k8s.io \"grow\" is invalid: spec.cidrs: Invalid value: []string{\"10.200.0.0/24\"}: field is immutable", body!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task OneStatus_ForBadNameAndBadSpec_AndNothingAllocated()
    {
        await using var server = await TestApiServer.StartAsync();
        var http = server.Http;
        var ns = ApiServerFixture.UniqueName("both");
        await http.CreateNamespaceAsync(ns);
        var addressesBefore = await IpAddressNamesAsync(http);
        var revisionBefore = server.Host.Store.Revision;

        var (code, status) = await http.PostJsonAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"Bad_Name"},"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"port":0,"targetPort":80}]}}""");
        Assert.Equal(422, code);
        Assert.Equal("Service \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'), spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive]",
            status!["message"]!.GetValue<string>());
        var causes = status["details"]!["causes"]!.AsArray();
        Assert.Equal(["metadata.name", "spec.ports[0].port"], causes.Select(c => c!["field"]!.GetValue<string>()));
        Assert.All(causes, c => Assert.Equal("FieldValueInvalid", c!["reason"]!.GetValue<string>()));

        // Not even for a moment: no IPAddress was written and no node port is held.
        Assert.Equal(revisionBefore, server.Host.Store.Revision);
        Assert.Equal(addressesBefore, await IpAddressNamesAsync(http));
        Assert.Empty(server.Host.ServiceNetworking!.Allocations.NodePorts.TakenPorts());

        // An update: a bad label and a bad port in one Status; the Service keeps what it had.
        var ip = await CreateServiceAsync(http, ns, "good");
        var (patchCode, patched) = await http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/services/good",
            """{"metadata":{"labels":{"bad key":"x"}},"spec":{"type":"NodePort","ports":[{"port":70000,"targetPort":80}]}}""", MergePatch);
        Assert.Equal(422, patchCode);
        Assert.Equal(["metadata.labels", "spec.ports[0].port"], patched!["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>()));
        Assert.Empty(server.Host.ServiceNetworking!.Allocations.NodePorts.TakenPorts());
        var (getCode, live) = await http.GetJsonAsync($"/api/v1/namespaces/{ns}/services/good");
        Assert.Equal(200, getCode);
        Assert.Equal(ip, live!["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal("ClusterIP", live["spec"]!["type"]!.GetValue<string>());
    }
}
