using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Tests.Cache;

public sealed class ObjectStoreTests
{
    [Fact]
    public void Replace_AgainstOldContents_ReturnsOnlyTheDifference()
    {
        var store = new ObjectStore<V1Service>();
        store.Replace([Svc("ns", "same", "1", "u1"), Svc("ns", "changed", "2", "u2"), Svc("ns", "gone", "3", "u3"), Svc("ns", "recreated", "4", "u4")]);

        var deltas = store.Replace([Svc("ns", "same", "1", "u1"), Svc("ns", "changed", "9", "u2"), Svc("ns", "new", "10", "u5"), Svc("ns", "recreated", "11", "u6")]);

        // Deletes first (in no particular order), then adds and updates in list order; "same" is not reported.
        Assert.Equal(["Deleted ns/gone@3", "Deleted ns/recreated@4"], deltas.Take(2).Select(Describe).Order(StringComparer.Ordinal));
        Assert.Equal(["Updated ns/changed@2->9", "Added ns/new@10", "Added ns/recreated@11"], deltas.Skip(2).Select(Describe));
        Assert.Equal(["changed@9", "new@10", "recreated@11", "same@1"], store.Snapshot().Select(s => s.Metadata.Name + "@" + s.Metadata.ResourceVersion).Order());
    }

    [Fact]
    public void Replace_DeletesComeBeforeAddsAndUpdates()
    {
        var store = new ObjectStore<V1Service>();
        store.Replace([Svc("ns", "a", "1", "u1")]);

        var deltas = store.Replace([Svc("ns", "b", "2", "u2")]);

        Assert.Equal([DeltaKind.Deleted, DeltaKind.Added], deltas.Select(d => d.Kind));
    }

    [Fact]
    public void Upsert_SameResourceVersion_ReportsNothing()
    {
        var store = new ObjectStore<V1Service>();
        Assert.Equal(DeltaKind.Added, store.Upsert(Svc("ns", "a", "1", "u1"))!.Value.Kind);

        Assert.Null(store.Upsert(Svc("ns", "a", "1", "u1")));
        var update = store.Upsert(Svc("ns", "a", "2", "u1"))!.Value;
        Assert.Equal(DeltaKind.Updated, update.Kind);
        Assert.Equal("1", update.Old!.Metadata.ResourceVersion);
    }

    [Fact]
    public void Remove_UnknownObject_ReportsNothing()
    {
        var store = new ObjectStore<V1Service>();
        Assert.Null(store.Remove(Svc("ns", "a", "1", "u1")));
    }

    [Fact]
    public void Snapshot_TakenBeforeAChange_DoesNotSeeIt()
    {
        var store = new ObjectStore<V1Service>();
        store.Upsert(Svc("ns", "a", "1", "u1"));
        var before = store.Snapshot();

        store.Upsert(Svc("ns", "b", "2", "u2"));

        Assert.Single(before);
        Assert.Equal(2, store.Snapshot().Count);
    }

    [Fact]
    public void TryGet_ClusterScoped_UsesNameOnly()
    {
        var store = new ObjectStore<V1Namespace>();
        store.Upsert(new V1Namespace { Metadata = new V1ObjectMeta { Name = "kube-system", ResourceVersion = "1" } });

        Assert.True(store.TryGet(null, "kube-system", out _));
        Assert.True(store.TryGet("", "kube-system", out _));
        Assert.False(store.TryGet("x", "kube-system", out _));
    }

    private static V1Service Svc(string ns, string name, string rv, string uid) =>
        new() { Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name, ResourceVersion = rv, Uid = uid } };

    private static string Describe(Delta<V1Service> d) =>
        $"{d.Kind} {d.Object.Metadata.NamespaceProperty}/{d.Object.Metadata.Name}@"
        + (d.Old is null ? "" : d.Old.Metadata.ResourceVersion + "->") + d.Object.Metadata.ResourceVersion;
}
