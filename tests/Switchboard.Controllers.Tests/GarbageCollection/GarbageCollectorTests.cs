using k8s;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Controllers.GarbageCollection;
using Switchboard.Controllers.Tests.Support;
using Xunit.Abstractions;
using static Switchboard.Controllers.Tests.Support.Objects;

namespace Switchboard.Controllers.Tests.GarbageCollection;

/// <summary>The collector against the real in-process API server: each test owns a namespace and its own collector.</summary>
public sealed class GarbageCollectorTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>, IAsyncLifetime
{
    private readonly IKubernetes _client = fixture.Server.Client;
    private readonly CancellationTokenSource _stop = new();
    private Kubernetes? _collectorClient;
    private GarbageCollector? _collector;
    private Task? _running;
    private string _ns = "";

    public async Task InitializeAsync()
    {
        _collectorClient = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(fixture.Server.Host.KubeconfigPath));
        _collector = new GarbageCollector(_collectorClient, ResourceCatalog.Default, new TestOutputLoggerFactory(output), TimeProvider.System);
        var collector = _collector;
        _running = Task.Run(() => collector.RunAsync(_stop.Token));
        await Poll.UntilAsync(() => Task.FromResult(collector.HasSynced), "the collector's caches to sync");
        _ns = await CreateNamespaceAsync(_client, "gc");
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running;
        }
        _collector?.Dispose();
        _collectorClient?.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task Background_OwnerDeleted_DependentDeleted()
    {
        var owner = await CreateConfigMapAsync(_client, _ns, "owner");
        await CreateConfigMapAsync(_client, _ns, "dependent", [OwnerOf(owner)]);

        await _client.CoreV1.DeleteNamespacedConfigMapAsync("owner", _ns, propagationPolicy: "Background");

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "dependent") is null, "the dependent to be deleted");
    }

    [Fact]
    public async Task Background_ReplicaSetDeleted_PodsDeleted()
    {
        var rs = await CreateReplicaSetAsync(_client, _ns, "web");
        await CreatePodAsync(_client, _ns, "web-a", rs);
        await CreatePodAsync(_client, _ns, "web-b", rs);

        await _client.AppsV1.DeleteNamespacedReplicaSetAsync("web", _ns);

        await Poll.UntilAsync(async () => (await _client.CoreV1.ListNamespacedPodAsync(_ns)).Items.Count == 0, "the ReplicaSet's pods to be deleted");
    }

    [Fact]
    public async Task Foreground_BlockingDependentHeld_OwnerTerminatingUntilItIsGone()
    {
        var owner = await CreateConfigMapAsync(_client, _ns, "owner");
        await CreateConfigMapAsync(_client, _ns, "held", [OwnerOf(owner)], [HoldFinalizer]);
        await CreateConfigMapAsync(_client, _ns, "plain", [OwnerOf(owner)]);

        await _client.CoreV1.DeleteNamespacedConfigMapAsync("owner", _ns, propagationPolicy: "Foreground");

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "plain") is null, "the plain dependent to be deleted");
        await Poll.UntilAsync(
            async () => await TryGetConfigMapAsync(_client, _ns, "held") is { Metadata.DeletionTimestamp: not null },
            "the held dependent to be marked for deletion");

        // The held dependent still blocks: the owner must be there, Terminating, with its finalizer.
        var terminating = await TryGetConfigMapAsync(_client, _ns, "owner");
        Assert.NotNull(terminating);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        Assert.Contains(Finalizers.ForegroundDeletion, terminating.Metadata.Finalizers);

        await _client.CoreV1.PatchNamespacedConfigMapAsync(ClearFinalizers(), "held", _ns);

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "held") is null, "the held dependent to be gone");
        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "owner") is null, "the owner to be deleted");
    }

    [Fact]
    public async Task Foreground_DeploymentReplicaSetPods_WholeTreeBlocksUntilLeafGone()
    {
        var deployment = await CreateDeploymentAsync(_client, _ns, "web");
        var rs = await CreateReplicaSetAsync(_client, _ns, "web-1", deployment);
        await CreatePodAsync(_client, _ns, "web-1-a", rs, [HoldFinalizer]);
        await CreatePodAsync(_client, _ns, "web-1-b", rs);

        await _client.AppsV1.DeleteNamespacedDeploymentAsync("web", _ns, propagationPolicy: "Foreground");

        await Poll.UntilAsync(
            async () => await TryReadAsync(() => _client.CoreV1.ReadNamespacedPodAsync("web-1-a", _ns)) is { Metadata.DeletionTimestamp: not null },
            "the held pod to be marked for deletion");
        await Poll.UntilAsync(
            async () => await TryReadAsync(() => _client.CoreV1.ReadNamespacedPodAsync("web-1-b", _ns)) is null,
            "the other pod to be deleted");

        // The ReplicaSet went foreground too (it has dependents), so both levels wait on the held pod.
        var liveRs = await TryReadAsync(() => _client.AppsV1.ReadNamespacedReplicaSetAsync("web-1", _ns));
        Assert.NotNull(liveRs);
        Assert.Contains(Finalizers.ForegroundDeletion, liveRs.Metadata.Finalizers);
        var liveDeployment = await TryReadAsync(() => _client.AppsV1.ReadNamespacedDeploymentAsync("web", _ns));
        Assert.NotNull(liveDeployment);
        Assert.NotNull(liveDeployment.Metadata.DeletionTimestamp);

        await _client.CoreV1.PatchNamespacedPodAsync(ClearFinalizers(), "web-1-a", _ns);

        await Poll.UntilAsync(async () => await TryReadAsync(() => _client.AppsV1.ReadNamespacedDeploymentAsync("web", _ns)) is null, "the deployment to be deleted");
        Assert.Empty((await _client.AppsV1.ListNamespacedReplicaSetAsync(_ns)).Items);
        Assert.Empty((await _client.CoreV1.ListNamespacedPodAsync(_ns)).Items);
    }

    [Fact]
    public async Task Orphan_OwnerDeleted_DependentsKeptWithoutItsReference()
    {
        var owner = await CreateConfigMapAsync(_client, _ns, "owner");
        var other = await CreateConfigMapAsync(_client, _ns, "other");
        await CreateConfigMapAsync(_client, _ns, "only", [OwnerOf(owner)]);
        await CreateConfigMapAsync(_client, _ns, "shared", [OwnerOf(owner), OwnerOf(other)]);

        await _client.CoreV1.DeleteNamespacedConfigMapAsync("owner", _ns, propagationPolicy: "Orphan");

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "owner") is null, "the owner to be deleted");
        var only = await TryGetConfigMapAsync(_client, _ns, "only");
        Assert.NotNull(only);
        Assert.True(only.Metadata.OwnerReferences is null or { Count: 0 });
        var shared = await TryGetConfigMapAsync(_client, _ns, "shared");
        Assert.NotNull(shared);
        Assert.Equal(other.Metadata.Uid, Assert.Single(shared.Metadata.OwnerReferences).Uid);
    }

    [Fact]
    public async Task OwnerUidMismatch_SameNameRecreated_DependentDeletedAndRealDependentKept()
    {
        var first = await CreateConfigMapAsync(_client, _ns, "owner");
        await _client.CoreV1.DeleteNamespacedConfigMapAsync("owner", _ns);
        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "owner") is null, "the first owner to be deleted");
        var second = await CreateConfigMapAsync(_client, _ns, "owner");
        Assert.NotEqual(first.Metadata.Uid, second.Metadata.Uid);

        await CreateConfigMapAsync(_client, _ns, "dangling", [OwnerOf(first)]);
        await CreateConfigMapAsync(_client, _ns, "real", [OwnerOf(second)]);

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "dangling") is null, "the dependent of the old uid to be deleted");
        Assert.NotNull(await TryGetConfigMapAsync(_client, _ns, "real"));
        Assert.NotNull(await TryGetConfigMapAsync(_client, _ns, "owner"));
    }

    [Fact]
    public async Task NoSuchOwner_DependentDeleted()
    {
        await CreateConfigMapAsync(_client, _ns, "dangling", [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "never-existed", Uid = Guid.NewGuid().ToString() }]);

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "dangling") is null, "the dependent of a missing owner to be deleted");
    }

    [Fact]
    public async Task TwoOwners_OneDeleted_DependentSurvivesWithTheOtherReference()
    {
        var first = await CreateConfigMapAsync(_client, _ns, "first");
        var second = await CreateConfigMapAsync(_client, _ns, "second");
        await CreateConfigMapAsync(_client, _ns, "shared", [OwnerOf(first), OwnerOf(second)]);

        await _client.CoreV1.DeleteNamespacedConfigMapAsync("first", _ns, propagationPolicy: "Background");

        await Poll.UntilAsync(
            async () => await TryGetConfigMapAsync(_client, _ns, "shared") is { Metadata.OwnerReferences: [var only] } && only.Uid == second.Metadata.Uid,
            "the shared dependent to lose its reference to the deleted owner");
        Assert.NotNull(await TryGetConfigMapAsync(_client, _ns, "shared"));
        Assert.NotNull(await TryGetConfigMapAsync(_client, _ns, "second"));
    }

    [Fact]
    public async Task CollectorStartedAfterOwnerDeleted_DependentDeleted()
    {
        // A dependent whose owner vanished while no collector watched: found on the initial list.
        await _stop.CancelAsync();
        await _running!;
        var owner = await CreateConfigMapAsync(_client, _ns, "owner");
        await CreateConfigMapAsync(_client, _ns, "dependent", [OwnerOf(owner)]);
        await _client.CoreV1.DeleteNamespacedConfigMapAsync("owner", _ns);

        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(fixture.Server.Host.KubeconfigPath));
        using var collector = new GarbageCollector(client, ResourceCatalog.Default, new TestOutputLoggerFactory(output), TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var running = Task.Run(() => collector.RunAsync(stop.Token));

        await Poll.UntilAsync(async () => await TryGetConfigMapAsync(_client, _ns, "dependent") is null, "the dependent to be deleted");
        await stop.CancelAsync();
        await running;
    }
}
