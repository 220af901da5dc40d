using k8s;
using k8s.Models;
using Switchboard.Controllers.Hosting;
using Switchboard.Controllers.Tests.Support;
using Xunit.Abstractions;
using static Switchboard.Controllers.Tests.Support.Objects;

namespace Switchboard.Controllers.Tests.Namespaces;

/// <summary>The namespace controller, started the way `switchboard server` starts it, against the real API server.</summary>
public sealed class NamespaceControllerTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    private readonly IKubernetes _client = fixture.Server.Client;

    [Fact]
    public async Task DeleteNamespace_WithContents_TerminatingThenContentsGoneThenNamespaceGone()
    {
        await using var controllers = ControllerManager.Start(fixture.Server.Host.KubeconfigPath, new TestOutputLoggerFactory(output), TimeProvider.System);
        var ns = await CreateNamespaceAsync(_client, "nsdel");
        var owner = await CreateConfigMapAsync(_client, ns, "settings");
        await CreateConfigMapAsync(_client, ns, "owned", [OwnerOf(owner)]);
        var rs = await CreateReplicaSetAsync(_client, ns, "web");
        await CreatePodAsync(_client, ns, "web-a", rs);
        await CreateConfigMapAsync(_client, ns, "held", finalizers: [HoldFinalizer]);

        await _client.CoreV1.DeleteNamespaceAsync(ns);

        // The held object keeps the namespace Terminating while everything else in it goes.
        await Poll.UntilAsync(async () =>
        {
            var cms = await _client.CoreV1.ListNamespacedConfigMapAsync(ns);
            var pods = await _client.CoreV1.ListNamespacedPodAsync(ns);
            var sets = await _client.AppsV1.ListNamespacedReplicaSetAsync(ns);
            return cms.Items is [{ Metadata.Name: "held" }] && pods.Items.Count == 0 && sets.Items.Count == 0;
        }, "everything but the held object to be deleted");
        var terminating = await TryReadAsync(() => _client.CoreV1.ReadNamespaceAsync(ns));
        Assert.NotNull(terminating);
        Assert.Equal("Terminating", terminating.Status?.Phase);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);

        await _client.CoreV1.PatchNamespacedConfigMapAsync(ClearFinalizers(), "held", ns);

        await Poll.UntilAsync(async () => await TryReadAsync(() => _client.CoreV1.ReadNamespaceAsync(ns)) is null, "the namespace to be deleted");
        Assert.Empty((await _client.CoreV1.ListNamespacedConfigMapAsync(ns)).Items);
    }
}
