using System.Text.Json.Nodes;
using Switchboard.ApiServer.Tests.Functional;
using Switchboard.ApiServer.Tests.Security;

namespace Switchboard.ApiServer.Tests.Apply;

/// <summary>The real kubectl against the in-process server: apply --server-side, conflicts, --force-conflicts.</summary>
public sealed class KubectlApplyTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-ssa-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int ExitCode, string Stdout, string Stderr)> KubectlAsync(params string[] args) =>
        await Kubectl.RunAsync([.. args, "--kubeconfig", fixture.Server.Host.KubeconfigPath]);

    private string Manifest(string name, string yaml)
    {
        var path = Path.Combine(_dir, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static string ServiceYaml(string ns, int targetPort) => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: {ns}
        spec:
          selector:
            app: web
          ports:
          - port: 80
            targetPort: {targetPort}
        """;

    private async Task<string> NamespaceAsync()
    {
        var ns = ApiServerFixture.UniqueName("ssa-kubectl");
        await fixture.Server.Http.CreateNamespaceAsync(ns);
        return ns;
    }

    [Fact]
    public async Task ServerSideApply_ConflictThenForceConflicts_ManagedFieldsShown()
    {
        var ns = await NamespaceAsync();

        var first = await KubectlAsync("apply", "--server-side", "-f", Manifest("web", ServiceYaml(ns, 8080)));
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("service/web serverside-applied", first.Stdout, StringComparison.Ordinal);

        var other = Manifest("other", ServiceYaml(ns, 9090));
        var conflict = await KubectlAsync("apply", "--server-side", "--field-manager=other", "-f", other);
        Assert.NotEqual(0, conflict.ExitCode);
        Assert.Contains("""Apply failed with 1 conflict: conflict with "kubectl": .spec.ports[port=80,protocol="TCP"].targetPort""", conflict.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force-conflicts", conflict.Stderr, StringComparison.Ordinal);

        var forced = await KubectlAsync("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other);
        Assert.True(forced.ExitCode == 0, forced.Stderr);

        var yaml = await KubectlAsync("get", "service", "web", "-n", ns, "-o", "yaml", "--show-managed-fields");
        Assert.True(yaml.ExitCode == 0, yaml.Stderr);
        Assert.Contains("managedFields:", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("manager: other", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("manager: kubectl", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("operation: Apply", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("f:targetPort: {}", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("targetPort: 9090", yaml.Stdout, StringComparison.Ordinal);

        var json = await KubectlAsync("get", "service", "web", "-n", ns, "-o", "json", "--show-managed-fields");
        var entries = JsonNode.Parse(json.Stdout)!["metadata"]!["managedFields"]!.AsArray();
        var owner = entries.Single(e => (string?)e!["manager"] == "other")!;
        Assert.NotNull(owner["fieldsV1"]!["f:spec"]!["f:ports"]!["k:{\"port\":80,\"protocol\":\"TCP\"}"]!["f:targetPort"]);

        var hidden = await KubectlAsync("get", "service", "web", "-n", ns, "-o", "yaml");
        Assert.DoesNotContain("managedFields", hidden.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerSideApply_AfterClientSideApply_UpgradesWithoutConflict()
    {
        var ns = await NamespaceAsync();
        var csa = await KubectlAsync("apply", "-f", Manifest("csa", ServiceYaml(ns, 8080)));
        Assert.True(csa.ExitCode == 0, csa.Stderr);

        var ssa = await KubectlAsync("apply", "--server-side", "-f", Manifest("ssa", ServiceYaml(ns, 8081)));

        Assert.True(ssa.ExitCode == 0, ssa.Stderr);
        var json = await KubectlAsync("get", "service", "web", "-n", ns, "-o", "json", "--show-managed-fields");
        var obj = JsonNode.Parse(json.Stdout)!;
        Assert.Equal(8081, (int?)obj["spec"]!["ports"]![0]!["targetPort"]);
        // kubectl's server-side apply keeps the client-side annotation current, so plain apply keeps working.
        Assert.Contains("\"targetPort\":8081", (string?)obj["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"], StringComparison.Ordinal);
        Assert.Contains(obj["metadata"]!["managedFields"]!.AsArray(), e => (string?)e!["manager"] == "kubectl" && (string?)e["operation"] == "Apply");
    }
}
