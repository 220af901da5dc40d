using System.Text.Json.Nodes;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Switchboard.E2E;

/// <summary>`kubectl apply --server-side`: managedFields, conflicts between field managers, --force-conflicts.</summary>
[Collection(ServerCollection.Name)]
public sealed class KubectlServerSideApplyTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    [Fact]
    public async Task ApplyServerSide_NewService_AppliedAndOwnedByKubectl()
    {
        var ns = await NewNamespaceAsync("ssa");

        var r = (await Kubectl.RunAsync(["apply", "--server-side", "-f", "-"], ServiceYaml("web", ns))).ShouldSucceed();
        AssertStdout(r, "service/web serverside-applied");
        Assert.Equal("8080", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));

        var (obj, json) = await GetWithManagedFieldsAsync(ns, "web");
        var entry = ManagedFieldsEntry(obj, json, "kubectl");
        Assert.Equal("Apply", (string?)entry["operation"]);
        Assert.Equal("v1", (string?)entry["apiVersion"]);
        Assert.Equal("FieldsV1", (string?)entry["fieldsType"]);
        Assert.True(OwnsTargetPort(entry), $"manager kubectl should own .spec.ports[port=80,protocol=\"TCP\"].targetPort.\n{json}");

        // Applying the same configuration again is a no-op that still succeeds.
        r = (await Kubectl.RunAsync(["apply", "--server-side", "-f", "-"], ServiceYaml("web", ns))).ShouldSucceed();
        AssertStdout(r, "service/web serverside-applied");
    }

    [Fact]
    public async Task ApplyServerSide_TwoManagersSameField_ConflictThenForceConflictsTakesOwnership()
    {
        var ns = await NewNamespaceAsync("ssa-conflict");
        var r = (await Kubectl.RunAsync(["apply", "--server-side", "--field-manager=mgr-a", "-f", "-"], ServiceYaml("shared", ns, targetPort: 8080))).ShouldSucceed();
        AssertStdout(r, "service/shared serverside-applied");

        var other = $"""
            apiVersion: v1
            kind: Service
            metadata:
              name: shared
              namespace: {ns}
            spec:
              ports:
              - port: 80
                protocol: TCP
                targetPort: 9090
            """;
        var conflict = await Kubectl.RunAsync(["apply", "--server-side", "--field-manager=mgr-b", "-f", "-"], other);
        conflict.ShouldExit(1);
        AssertContains(conflict, conflict.Stderr, "Apply failed with 1 conflict: conflict with \"mgr-a\": .spec.ports[port=80,protocol=\"TCP\"].targetPort");
        Assert.Equal("8080", await JsonPathAsync(ns, "service shared", "{.spec.ports[0].targetPort}"));

        r = (await Kubectl.RunAsync(["apply", "--server-side", "--field-manager=mgr-b", "--force-conflicts", "-f", "-"], other)).ShouldSucceed();
        AssertStdout(r, "service/shared serverside-applied");
        Assert.Equal("9090", await JsonPathAsync(ns, "service shared", "{.spec.ports[0].targetPort}"));

        var (obj, json) = await GetWithManagedFieldsAsync(ns, "shared");
        Assert.True(OwnsTargetPort(ManagedFieldsEntry(obj, json, "mgr-b")), $"mgr-b should own targetPort after --force-conflicts.\n{json}");
        Assert.False(OwnsTargetPort(ManagedFieldsEntry(obj, json, "mgr-a")), $"mgr-a should have lost targetPort to mgr-b.\n{json}");
    }

    private async Task<(JsonNode Obj, string Json)> GetWithManagedFieldsAsync(string ns, string name)
    {
        var r = (await Kubectl.RunAsync("get", "service", name, "-n", ns, "-o", "json", "--show-managed-fields")).ShouldSucceed();
        return (JsonNode.Parse(r.Stdout)!, r.Stdout);
    }

    private static JsonNode ManagedFieldsEntry(JsonNode obj, string json, string manager)
    {
        var entries = obj["metadata"]?["managedFields"]?.AsArray() ?? throw new XunitException($"no metadata.managedFields.\n{json}");
        return entries.FirstOrDefault(e => (string?)e?["manager"] == manager && (string?)e?["operation"] == "Apply")
            ?? throw new XunitException($"no managedFields entry for manager {manager} with operation Apply.\n{json}");
    }

    /// <summary>Whether the entry's fieldsV1 holds f:spec → f:ports → k:{"port":80,"protocol":"TCP"} → f:targetPort.</summary>
    private static bool OwnsTargetPort(JsonNode entry)
    {
        if (entry["fieldsV1"]?["f:spec"]?["f:ports"] is not JsonObject ports)
        {
            return false;
        }
        foreach (var (key, value) in ports)
        {
            if (!key.StartsWith("k:", StringComparison.Ordinal))
            {
                continue;
            }
            var k = JsonNode.Parse(key[2..]);
            if ((int?)k?["port"] == 80 && (string?)k?["protocol"] == "TCP" && value is JsonObject item)
            {
                return item.ContainsKey("f:targetPort");
            }
        }
        return false;
    }
}
