using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E;

/// <summary>`kubectl delete namespace`: Terminating, its contents deleted, then the namespace itself gone.</summary>
[Collection(ServerCollection.Name)]
public sealed class KubectlNamespaceDeletionTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    private static readonly TimeSpan DeletionTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DeleteNamespace_WithContents_ReturnsOnceNamespaceAndContentsAreGone()
    {
        var ns = await NewNamespaceAsync("delns");
        await CreateAsync(ServiceYaml("web", ns));
        await CreateAsync(DeploymentYaml("web", ns));
        await CreateAsync($"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              namespace: {ns}
            data:
              k: v
            """);

        var r = (await Kubectl.RunAsync(["delete", "namespace", ns, "--timeout=80s"], stdin: null, timeout: DeletionTimeout)).ShouldSucceed();
        AssertStdout(r, $"namespace \"{ns}\" deleted");

        AssertNotFound(await Kubectl.RunAsync("get", "namespace", ns), "namespaces", ns);
        var left = (await Kubectl.RunAsync("get", "services,deployments,configmaps", "-n", ns, "-o", "name")).ShouldSucceed();
        Assert.True(left.Stdout.Length == 0, $"the namespace's contents should be gone.\n{left}");
    }

    [Fact]
    public async Task DeleteNamespace_ContentWithFinalizer_TerminatingUntilReleasedThenGone()
    {
        var ns = await NewNamespaceAsync("delns-fin");
        await CreateAsync(ServiceYaml("web", ns));
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

        await using var delete = Kubectl.Start(["delete", "namespace", ns, "--timeout=80s"]);

        // The namespace is Terminating while the finalizer holds one of its objects ...
        await EventuallyAsync(async () =>
        {
            var p = await Kubectl.RunAsync("get", "namespace", ns, "-o", "jsonpath={.status.phase}");
            return (p.ExitCode == 0 && p.Out == "Terminating", p);
        }, $"namespace {ns} to be Terminating");
        var table = (await Kubectl.RunAsync("get", "namespace", ns)).ShouldSucceed();
        AssertLineMatches(table, table.Stdout, $@"^{ns}\s+Terminating\s+\S+$");

        // ... the objects without finalizers are deleted meanwhile ...
        await EventuallyAsync(async () =>
        {
            var s = await Kubectl.RunAsync("get", "services", "-n", ns, "-o", "name");
            return (s.ExitCode == 0 && s.Stdout.Length == 0, s);
        }, $"the services in {ns} to be deleted", DeletionTimeout);
        await EventuallyAsync(async () =>
        {
            var d = await Kubectl.RunAsync("get", "configmap", "held", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}");
            return (d.ExitCode == 0 && d.Out.Length > 0, d);
        }, "the held configmap to get a deletionTimestamp", DeletionTimeout);

        // ... new content is refused ...
        var late = await Kubectl.RunAsync(["create", "-f", "-"], ServiceYaml("late", ns));
        late.ShouldExit(1);
        AssertContains(late, late.Stderr, "Error from server (Forbidden)");
        AssertContains(late, late.Stderr, $"unable to create new content in namespace {ns} because it is being terminated");

        // ... and kubectl delete is still waiting for the namespace to go.
        if (delete.HasExited)
        {
            Assert.Fail("kubectl delete namespace returned while the namespace still existed:\n" + await delete.StopAsync());
        }

        (await Kubectl.RunAsync("patch", "configmap", "held", "-n", ns, "--type", "json",
            "-p", """[{"op":"remove","path":"/metadata/finalizers"}]""")).ShouldSucceed();

        var done = (await delete.WaitForExitAsync(DeletionTimeout)).ShouldSucceed();
        AssertStdout(done, $"namespace \"{ns}\" deleted");
        AssertNotFound(await Kubectl.RunAsync("get", "namespace", ns), "namespaces", ns);
        var left = (await Kubectl.RunAsync("get", "services,configmaps", "-n", ns, "-o", "name")).ShouldSucceed();
        Assert.True(left.Stdout.Length == 0, $"the namespace's contents should be gone.\n{left}");
    }
}
