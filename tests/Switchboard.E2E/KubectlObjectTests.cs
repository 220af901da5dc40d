using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E;

/// <summary>The everyday object verbs of the real kubectl against a real `switchboard server`.</summary>
[Collection(ServerCollection.Name)]
public sealed class KubectlObjectTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    [Fact]
    public async Task CreateFile_NewService_CreatedWithClusterIpAndSecondCreateIsAlreadyExists()
    {
        var ns = await NewNamespaceAsync("create");
        var file = Server.WriteFile("svc.yaml", ServiceYaml("web", ns));

        var r = (await Kubectl.RunAsync("create", "-f", file)).ShouldSucceed();
        AssertStdout(r, "service/web created");
        var ip = await JsonPathAsync(ns, "service web", "{.spec.clusterIP}");
        Assert.True(InDefaultServiceCidr(ip), $"clusterIP {ip} is not in 10.96.0.0/12");

        var again = await Kubectl.RunAsync("create", "-f", file);
        again.ShouldExit(1);
        AssertContains(again, again.Stderr, "Error from server (AlreadyExists)");
        AssertContains(again, again.Stderr, "services \"web\" already exists");
    }

    [Fact]
    public async Task ApplyFile_NewThenChangedThenSame_CreatedConfiguredUnchanged()
    {
        var ns = await NewNamespaceAsync("apply");
        var first = ServiceYaml("web", ns, targetPort: 8080, extraLabels: "\n    stage: one");
        var second = ServiceYaml("web", ns, targetPort: 9090, extraLabels: "\n    tier: frontend");

        var r = (await Kubectl.RunAsync(["apply", "-f", "-"], first)).ShouldSucceed();
        AssertStdout(r, "service/web created");
        var lastApplied = await JsonPathAsync(ns, "service web", @"{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}");
        Assert.Contains("\"stage\":\"one\"", lastApplied, StringComparison.Ordinal);

        r = (await Kubectl.RunAsync(["apply", "-f", "-"], second)).ShouldSucceed();
        AssertStdout(r, "service/web configured");
        Assert.Equal("9090", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));
        Assert.Equal("frontend", await JsonPathAsync(ns, "service web", "{.metadata.labels.tier}"));
        // Three-way merge: a label dropped from the manifest (it was in last-applied) is removed.
        Assert.Equal("", await JsonPathAsync(ns, "service web", "{.metadata.labels.stage}"));

        r = (await Kubectl.RunAsync(["apply", "-f", "-"], second)).ShouldSucceed();
        AssertStdout(r, "service/web unchanged");
    }

    [Fact]
    public async Task GetTable_Service_HasUpstreamColumnsAndClusterIpInServiceCidr()
    {
        var ns = await NewNamespaceAsync("table");
        await CreateAsync(ServiceYaml("web", ns));

        var r = (await Kubectl.RunAsync("get", "services", "-n", ns)).ShouldSucceed();
        Assert.True(r.Lines.Count == 2, $"expected a header and one row.\n{r}");
        Assert.Equal(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], Columns(r.Lines[0]));
        var row = Columns(r.Lines[1]);
        Assert.True(row.Length == 6, $"expected 6 columns.\n{r}");
        Assert.Equal("web", row[0]);
        Assert.Equal("ClusterIP", row[1]);
        Assert.True(InDefaultServiceCidr(row[2]), $"CLUSTER-IP {row[2]} is not in 10.96.0.0/12.\n{r}");
        Assert.Equal("<none>", row[3]);
        Assert.Equal("80/TCP", row[4]);
        Assert.Matches(@"^\d+[smhd]", row[5]);

        // The built-in kubernetes Service (upstream: the first address of the range).
        var all = (await Kubectl.RunAsync("get", "svc", "kubernetes", "-n", "default")).ShouldSucceed();
        AssertLineMatches(all, all.Stdout, @"^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP\s+\S+$");
    }

    [Fact]
    public async Task GetOutputFormats_YamlJsonWide_ShowTheStoredObject()
    {
        var ns = await NewNamespaceAsync("output");
        await CreateAsync(ServiceYaml("web", ns));
        var ip = await JsonPathAsync(ns, "service web", "{.spec.clusterIP}");

        var yaml = (await Kubectl.RunAsync("get", "svc", "web", "-n", ns, "-o", "yaml")).ShouldSucceed();
        AssertLineMatches(yaml, yaml.Stdout, @"^apiVersion: v1$");
        AssertLineMatches(yaml, yaml.Stdout, @"^kind: Service$");
        AssertLineMatches(yaml, yaml.Stdout, @"^  name: web$");
        AssertLineMatches(yaml, yaml.Stdout, $@"^  namespace: {ns}$");
        AssertLineMatches(yaml, yaml.Stdout, @"^  uid: [0-9a-f-]{36}$");
        AssertLineMatches(yaml, yaml.Stdout, @"^  resourceVersion: ""\d+""$");
        AssertLineMatches(yaml, yaml.Stdout, $@"^  clusterIP: {Regex.Escape(ip)}$");
        AssertLineMatches(yaml, yaml.Stdout, @"^  type: ClusterIP$");

        var json = (await Kubectl.RunAsync("get", "svc", "web", "-n", ns, "-o", "json")).ShouldSucceed();
        var obj = JsonNode.Parse(json.Stdout)!;
        Assert.Equal("v1", (string?)obj["apiVersion"]);
        Assert.Equal("Service", (string?)obj["kind"]);
        Assert.Equal("web", (string?)obj["metadata"]!["name"]);
        Assert.Equal(ns, (string?)obj["metadata"]!["namespace"]);
        Assert.Equal(ip, (string?)obj["spec"]!["clusterIP"]);
        Assert.Equal(80, (int?)obj["spec"]!["ports"]![0]!["port"]);
        Assert.Equal(8080, (int?)obj["spec"]!["ports"]![0]!["targetPort"]);

        var wide = (await Kubectl.RunAsync("get", "svc", "web", "-n", ns, "-o", "wide")).ShouldSucceed();
        Assert.Equal(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"], Columns(wide.Lines[0]));
        AssertLineMatches(wide, wide.Stdout, $@"^web\s+ClusterIP\s+{Regex.Escape(ip)}\s+<none>\s+80/TCP\s+\S+\s+app=web$");
    }

    [Fact]
    public async Task Describe_ServiceWithEvent_ShowsServiceAndItsEvent()
    {
        var ns = await NewNamespaceAsync("describe");
        await CreateAsync(ServiceYaml("web", ns));
        var uid = await JsonPathAsync(ns, "service web", "{.metadata.uid}");
        var message = "e2e probe " + Guid.NewGuid().ToString("N")[..8];
        var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        var ev = (await Kubectl.RunAsync(["create", "-f", "-"], $"""
            apiVersion: v1
            kind: Event
            metadata:
              name: web.e2e-probe
              namespace: {ns}
            involvedObject:
              apiVersion: v1
              kind: Service
              name: web
              namespace: {ns}
              uid: {uid}
            reason: E2EProbe
            message: {message}
            type: Normal
            source:
              component: switchboard-e2e
            firstTimestamp: "{now}"
            lastTimestamp: "{now}"
            count: 1
            """)).ShouldSucceed();
        AssertStdout(ev, "event/web.e2e-probe created");

        var r = (await Kubectl.RunAsync("describe", "service", "web", "-n", ns)).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^Name:\s+web$");
        AssertLineMatches(r, r.Stdout, $@"^Namespace:\s+{ns}$");
        AssertLineMatches(r, r.Stdout, @"^Selector:\s+app=web$");
        AssertLineMatches(r, r.Stdout, @"^Type:\s+ClusterIP$");
        AssertLineMatches(r, r.Stdout, @"^IPs?:\s+10\.");
        AssertLineMatches(r, r.Stdout, @"^Port:\s+http\s+80/TCP$");
        AssertLineMatches(r, r.Stdout, @"^TargetPort:\s+8080/TCP$");
        AssertLineMatches(r, r.Stdout, @"^Events:\s*$");
        AssertLineMatches(r, r.Stdout, @"^\s+Type\s+Reason\s+Age\s+From\s+Message$");
        AssertLineMatches(r, r.Stdout, $@"^\s+Normal\s+E2EProbe\s+\S+\s+switchboard-e2e\s+{Regex.Escape(message)}$");
    }

    [Fact]
    public async Task Edit_WithSedEditor_PersistsTheEditedFields()
    {
        var ns = await NewNamespaceAsync("edit");
        await CreateAsync(ServiceYaml("web", ns, extraLabels: "\n    e2e-edit: before"));
        var script = Server.WriteFile("editor.sh", """
            #!/bin/sh
            set -e
            sed -i -e 's/e2e-edit: before/e2e-edit: after/' -e 's/targetPort: 8080/targetPort: 8081/' "$1"
            """ + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var r = (await Kubectl.RunAsync(["edit", "service", "web", "-n", ns], stdin: null, env: new Dictionary<string, string>
        {
            ["EDITOR"] = script,
            ["KUBE_EDITOR"] = script,
        })).ShouldSucceed();
        AssertStdout(r, "service/web edited");
        Assert.Equal("after", await JsonPathAsync(ns, "service web", "{.metadata.labels.e2e-edit}"));
        Assert.Equal("8081", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));
    }

    [Fact]
    public async Task Patch_StrategicMergeJson_EachAppliesItsSemantics()
    {
        var ns = await NewNamespaceAsync("patch");
        await CreateAsync(ServiceYaml("web", ns));

        // Strategic merge: ports merge by their key (port), so a new port is added beside the old one; upstream
        // (strategicpatch.normalizeElementOrder) puts items only the patch has before the server-only ones.
        var r = (await Kubectl.RunAsync("patch", "service", "web", "-n", ns,
            "-p", """{"spec":{"ports":[{"name":"metrics","port":9090,"protocol":"TCP","targetPort":9090}]}}""")).ShouldSucceed();
        AssertStdout(r, "service/web patched");
        Assert.Equal("9090 80", await JsonPathAsync(ns, "service web", "{.spec.ports[*].port}"));

        // JSON merge patch: lists are replaced whole.
        var merge = """{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}}""";
        r = (await Kubectl.RunAsync("patch", "service", "web", "-n", ns, "--type", "merge", "-p", merge)).ShouldSucceed();
        AssertStdout(r, "service/web patched");
        Assert.Equal("80", await JsonPathAsync(ns, "service web", "{.spec.ports[*].port}"));

        // The same patch again changes nothing, so the server returns the object unchanged.
        r = (await Kubectl.RunAsync("patch", "service", "web", "-n", ns, "--type", "merge", "-p", merge)).ShouldSucceed();
        AssertStdout(r, "service/web patched (no change)");

        // JSON patch (RFC 6902), with a test op.
        r = (await Kubectl.RunAsync("patch", "service", "web", "-n", ns, "--type", "json",
            "-p", """[{"op":"test","path":"/spec/ports/0/port","value":80},{"op":"replace","path":"/spec/ports/0/targetPort","value":8081}]""")).ShouldSucceed();
        AssertStdout(r, "service/web patched");
        Assert.Equal("8081", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));
    }

    [Fact]
    public async Task Label_AddOverwriteRemove_AsUpstream()
    {
        var ns = await NewNamespaceAsync("label");
        await CreateAsync(ServiceYaml("web", ns));

        var r = (await Kubectl.RunAsync("label", "service", "web", "-n", ns, "tier=frontend")).ShouldSucceed();
        AssertStdout(r, "service/web labeled");
        Assert.Equal("frontend", await JsonPathAsync(ns, "service web", "{.metadata.labels.tier}"));

        r = await Kubectl.RunAsync("label", "service", "web", "-n", ns, "tier=backend");
        r.ShouldExit(1);
        AssertContains(r, r.Stderr, "'tier' already has a value (frontend), and --overwrite is false");

        r = (await Kubectl.RunAsync("label", "service", "web", "-n", ns, "tier=backend", "--overwrite")).ShouldSucceed();
        AssertStdout(r, "service/web labeled");
        Assert.Equal("backend", await JsonPathAsync(ns, "service web", "{.metadata.labels.tier}"));

        var selected = (await Kubectl.RunAsync("get", "services", "-n", ns, "-l", "tier=backend", "-o", "name")).ShouldSucceed();
        AssertStdout(selected, "service/web");

        r = (await Kubectl.RunAsync("label", "service", "web", "-n", ns, "tier-")).ShouldSucceed();
        AssertStdout(r, "service/web unlabeled");
        Assert.Equal("", await JsonPathAsync(ns, "service web", "{.metadata.labels.tier}"));
        Assert.Equal("web", await JsonPathAsync(ns, "service web", "{.metadata.labels.app}"));
    }

    [Fact]
    public async Task Annotate_AddThenRemove_AsUpstream()
    {
        var ns = await NewNamespaceAsync("annotate");
        await CreateAsync(ServiceYaml("web", ns));

        var r = (await Kubectl.RunAsync("annotate", "service", "web", "-n", ns, "e2e.switchboard.dev/note=hello world")).ShouldSucceed();
        AssertStdout(r, "service/web annotated");
        Assert.Equal("hello world", await JsonPathAsync(ns, "service web", @"{.metadata.annotations.e2e\.switchboard\.dev/note}"));

        r = (await Kubectl.RunAsync("annotate", "service", "web", "-n", ns, "e2e.switchboard.dev/note-")).ShouldSucceed();
        AssertStdout(r, "service/web annotated");
        Assert.Equal("", await JsonPathAsync(ns, "service web", @"{.metadata.annotations.e2e\.switchboard\.dev/note}"));
    }

    [Fact]
    public async Task Replace_FreshThenStale_ReplacedThenConflict()
    {
        var ns = await NewNamespaceAsync("replace");
        await CreateAsync(ServiceYaml("web", ns));
        var snapshot = (await Kubectl.RunAsync("get", "service", "web", "-n", ns, "-o", "json")).ShouldSucceed().Stdout;

        var fresh = JsonNode.Parse(snapshot)!;
        fresh["metadata"]!["labels"]!["replaced"] = "first";
        var r = (await Kubectl.RunAsync(["replace", "-f", "-"], fresh.ToJsonString())).ShouldSucceed();
        AssertStdout(r, "service/web replaced");
        Assert.Equal("first", await JsonPathAsync(ns, "service web", "{.metadata.labels.replaced}"));

        // The same snapshot again carries the old resourceVersion: optimistic concurrency refuses it.
        var stale = JsonNode.Parse(snapshot)!;
        stale["metadata"]!["labels"]!["replaced"] = "stale";
        r = await Kubectl.RunAsync(["replace", "-f", "-"], stale.ToJsonString());
        r.ShouldExit(1);
        AssertContains(r, r.Stderr, "Error from server (Conflict)");
        AssertContains(r, r.Stderr, "Operation cannot be fulfilled on services \"web\": the object has been modified; please apply your changes to the latest version and try again");
        Assert.Equal("first", await JsonPathAsync(ns, "service web", "{.metadata.labels.replaced}"));
    }

    [Fact]
    public async Task Delete_Service_ReturnsOnceGone()
    {
        var ns = await NewNamespaceAsync("delete");
        await CreateAsync(ServiceYaml("web", ns));

        var r = (await Kubectl.RunAsync("delete", "service", "web", "-n", ns)).ShouldSucceed();
        AssertStdout(r, "service \"web\" deleted");
        AssertNotFound(await Kubectl.RunAsync("get", "service", "web", "-n", ns), "services", "web");
    }

    [Fact]
    public async Task Delete_ObjectWithFinalizer_WaitsUntilTheFinalizerIsRemoved()
    {
        var ns = await NewNamespaceAsync("delete-fin");
        await CreateAsync($"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: held
              namespace: {ns}
              finalizers:
              - e2e.switchboard.dev/hold
            data:
              k: v
            """);

        await using var delete = Kubectl.Start(["delete", "configmap", "held", "-n", ns]);
        await EventuallyAsync(async () =>
        {
            var r = await Kubectl.RunAsync("get", "configmap", "held", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}");
            return (r.ExitCode == 0 && r.Out.Length > 0, r);
        }, "the configmap to get a deletionTimestamp");
        // The object still exists (its finalizer holds it), so a correct `kubectl delete` is still waiting.
        if (delete.HasExited)
        {
            Assert.Fail("kubectl delete returned while the object still existed:\n" + await delete.StopAsync());
        }

        (await Kubectl.RunAsync("patch", "configmap", "held", "-n", ns, "--type", "json",
            "-p", """[{"op":"remove","path":"/metadata/finalizers"}]""")).ShouldSucceed();
        var done = (await delete.WaitForExitAsync()).ShouldSucceed();
        AssertStdout(done, "configmap \"held\" deleted");
        AssertNotFound(await Kubectl.RunAsync("get", "configmap", "held", "-n", ns), "configmaps", "held");
    }

    [Fact]
    public async Task Diff_ChangedManifest_ShowsChangeExitsOneAndPersistsNothing()
    {
        var ns = await NewNamespaceAsync("diff");
        (await Kubectl.RunAsync(["apply", "-f", "-"], ServiceYaml("web", ns))).ShouldSucceed();
        var rv = await JsonPathAsync(ns, "service web", "{.metadata.resourceVersion}");

        var same = await Kubectl.RunAsync(["diff", "-f", "-"], ServiceYaml("web", ns));
        same.ShouldExit(0);
        Assert.True(same.Stdout.Length == 0, $"expected no diff for an unchanged manifest.\n{same}");

        var r = await Kubectl.RunAsync(["diff", "-f", "-"], ServiceYaml("web", ns, targetPort: 9090));
        r.ShouldExit(1);
        AssertLineMatches(r, r.Stdout, @"^--- ");
        AssertLineMatches(r, r.Stdout, @"^\+\+\+ ");
        AssertLineMatches(r, r.Stdout, @"^-\s+targetPort: 8080$");
        AssertLineMatches(r, r.Stdout, @"^\+\s+targetPort: 9090$");

        Assert.Equal("8080", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));
        Assert.Equal(rv, await JsonPathAsync(ns, "service web", "{.metadata.resourceVersion}"));
    }

    private static string[] Columns(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
