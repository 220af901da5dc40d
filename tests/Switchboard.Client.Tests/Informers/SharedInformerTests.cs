using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Switchboard.Client.Cache;
using Switchboard.Client.Informers;
using Switchboard.TestKit;

namespace Switchboard.Client.Tests.Informers;

/// <summary>Shared informers over the real in-process API server: sharing, fan-out, replay, indexes and listers.</summary>
public sealed class SharedInformerTests : IAsyncLifetime
{
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Kubernetes Client => _server.Client;

    private async Task<string> NamespaceAsync()
    {
        var name = "inf-" + Guid.NewGuid().ToString("N")[..8];
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        return name;
    }

    private Task ConfigMapAsync(string ns, string name, Dictionary<string, string> labels) =>
        Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, ns);

    private sealed class Recorder : IResourceEventHandler<V1ConfigMap>
    {
        public ConcurrentQueue<string> Seen { get; } = new();

        public void OnAdd(V1ConfigMap obj) => Seen.Enqueue("add " + obj.Metadata.Name);

        public void OnUpdate(V1ConfigMap oldObj, V1ConfigMap newObj) => Seen.Enqueue("update " + newObj.Metadata.Name);

        public void OnDelete(V1ConfigMap obj) => Seen.Enqueue("delete " + obj.Metadata.Name);
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    [Fact]
    public void Factory_SameKindTwice_OneInformer()
    {
        using var factory = new SharedInformerFactory(Client);

        Assert.Same(factory.Informer<V1Pod>(), factory.Informer<V1Pod>());
        Assert.NotSame(factory.Informer<V1Pod>(), factory.Informer<V1Pod>(ResourceRequest.For<V1Pod>("kube-system")));
    }

    [Fact]
    public async Task Handlers_EachGetsEveryChange_LateHandlerGetsReplay_ThrowingHandlerIsolated()
    {
        var ns = await NamespaceAsync();
        await ConfigMapAsync(ns, "before", []);
        using var factory = new SharedInformerFactory(Client);
        var informer = factory.Informer<V1ConfigMap>(ResourceRequest.For<V1ConfigMap>(ns));
        var first = new Recorder();
        informer.AddEventHandler(new ResourceEventHandler<V1ConfigMap>(_ => throw new InvalidOperationException("bad handler")));
        informer.AddEventHandler(first);
        using var cts = new CancellationTokenSource();
        var run = factory.RunAsync(cts.Token);
        await factory.WaitForCacheSyncAsync(CancellationToken.None);

        await ConfigMapAsync(ns, "live", []);
        await UntilAsync(() => first.Seen.Contains("add live"));
        var late = new Recorder();
        using (informer.AddEventHandler(late))
        {
            Assert.Equal(["add before", "add live"], late.Seen.Order());
            await Client.CoreV1.DeleteNamespacedConfigMapAsync("before", ns);
            await UntilAsync(() => late.Seen.Contains("delete before") && first.Seen.Contains("delete before"));
        }

        // Unregistered: no more changes.
        await ConfigMapAsync(ns, "after", []);
        await UntilAsync(() => first.Seen.Contains("add after"));
        Assert.DoesNotContain("add after", late.Seen);
        Assert.Equal(["add before", "add live", "delete before", "add after"], first.Seen);

        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task SetTransform_BeforeStart_IndexesListerAndHandlersSeeTrimmedObjects_AfterStartThrows()
    {
        var ns = await NamespaceAsync();
        await ConfigMapAsync(ns, "a", new() { ["app"] = "web", ["noise"] = "x" });
        using var factory = new SharedInformerFactory(Client);
        var informer = factory.Informer<V1ConfigMap>(ResourceRequest.For<V1ConfigMap>(ns));
        informer.SetTransform(cm =>
        {
            cm.Metadata.ManagedFields = null;
            cm.Metadata.Labels = cm.Metadata.Labels?.Where(l => l.Key == "app").ToDictionary();
            return cm;
        });
        var seen = new ConcurrentQueue<V1ConfigMap>();
        informer.AddEventHandler(new ResourceEventHandler<V1ConfigMap>(seen.Enqueue));
        using var cts = new CancellationTokenSource();
        var run = factory.RunAsync(cts.Token);
        await factory.WaitForCacheSyncAsync(CancellationToken.None);
        await ConfigMapAsync(ns, "b", new() { ["app"] = "api", ["noise"] = "y" });
        await UntilAsync(() => seen.Count == 2);

        Assert.All(seen, cm => Assert.Equal(["app"], cm.Metadata.Labels.Keys));
        Assert.All(seen, cm => Assert.Null(cm.Metadata.ManagedFields));
        Assert.Equal(["a", "b"], informer.Lister.List(ns).Select(c => c.Metadata.Name).Order());
        Assert.Empty(informer.Lister.List(ns, new Dictionary<string, string> { ["noise"] = "x" }));
        Assert.Throws<InvalidOperationException>(() => informer.SetTransform(cm => cm));

        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Lister_ByNamespaceAndEqualitySelector_UsesIndexes()
    {
        var a = await NamespaceAsync();
        var b = await NamespaceAsync();
        await ConfigMapAsync(a, "web-1", new() { ["app"] = "web", ["tier"] = "front" });
        await ConfigMapAsync(a, "web-2", new() { ["app"] = "web", ["tier"] = "back" });
        await ConfigMapAsync(a, "db-1", new() { ["app"] = "db" });
        await ConfigMapAsync(b, "web-1", new() { ["app"] = "web", ["tier"] = "front" });
        using var factory = new SharedInformerFactory(Client);
        var informer = factory.Informer<V1ConfigMap>();
        informer.AddIndex(Indexers.NamespaceLabel, Indexers.ByNamespaceLabel);
        using var cts = new CancellationTokenSource();
        var run = factory.RunAsync(cts.Token);
        await factory.WaitForCacheSyncAsync(CancellationToken.None);

        var lister = informer.Lister;
        Assert.Equal(["db-1", "web-1", "web-2"], lister.List(a).Select(c => c.Metadata.Name).Order());
        Assert.Equal(["web-1", "web-2"], lister.List(a, new Dictionary<string, string> { ["app"] = "web" }).Select(c => c.Metadata.Name).Order());
        Assert.Equal(["web-1"], lister.List(a, new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }).Select(c => c.Metadata.Name));
        Assert.Empty(lister.List(a, new Dictionary<string, string> { ["app"] = "cache" }));
        Assert.Equal(3, lister.List(a, new Dictionary<string, string>()).Count);
        Assert.True(lister.TryGet(b, "web-1", out _));

        // Relabel: the index follows the update.
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"app":"cache"}}}""", V1Patch.PatchType.MergePatch), "db-1", a);
        await UntilAsync(() => lister.List(a, new Dictionary<string, string> { ["app"] = "cache" }).Count == 1);
        Assert.Equal(2, lister.List(a, new Dictionary<string, string> { ["app"] = "web" }).Count);
        Assert.Equal(0, informer.Indexer.CountByIndex(Indexers.NamespaceLabel, Indexers.LabelKey(a, "app", "db")));

        await cts.CancelAsync();
        await run;
    }
}
