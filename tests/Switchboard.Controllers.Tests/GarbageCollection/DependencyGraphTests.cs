using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Controllers.GarbageCollection;

namespace Switchboard.Controllers.Tests.GarbageCollection;

public sealed class DependencyGraphTests
{
    private static readonly ResourceCatalog Catalog = ResourceCatalog.Default;
    private static readonly ResourceInfo ConfigMaps = Catalog.FindKind("", "ConfigMap")!;
    private static readonly ResourceInfo ReplicaSets = Catalog.FindKind("apps", "ReplicaSet")!;
    private static readonly ResourceInfo Pods = Catalog.FindKind("", "Pod")!;
    private static readonly ResourceInfo Namespaces = Catalog.FindKind("", "Namespace")!;

    private readonly List<string> _deletes = [];
    private readonly List<string> _orphans = [];
    private readonly DependencyGraph _graph;

    public DependencyGraphTests() => _graph = new DependencyGraph(Catalog, _deletes.Add, _orphans.Add);

    [Fact]
    public void Observe_DependentOfUnseenOwner_AddsVirtualOwnerAndQueuesIt()
    {
        _graph.Observe(Pods, Meta("p", "pod-1", Ref("apps/v1", "ReplicaSet", "rs", "rs-1")));

        Assert.True(_graph.TryGet("rs-1", out var owner));
        Assert.True(owner.Virtual);
        Assert.Equal(ReplicaSets, owner.Identity.Resource);
        Assert.Equal("ns", owner.Identity.Namespace);
        Assert.Equal(["rs-1"], _deletes);
        Assert.Equal("pod-1", Assert.Single(_graph.Dependents("rs-1")).Identity.Uid);
    }

    [Fact]
    public void Observe_VirtualOwnerSeenLater_BecomesObservedAndForgetVirtualRefuses()
    {
        _graph.Observe(Pods, Meta("p", "pod-1", Ref("apps/v1", "ReplicaSet", "rs", "rs-1")));
        _graph.Observe(ReplicaSets, Meta("rs", "rs-1"));

        Assert.True(_graph.TryGet("rs-1", out var owner));
        Assert.False(owner.Virtual);
        Assert.False(_graph.ForgetVirtual("rs-1"));
        Assert.Single(_graph.Dependents("rs-1"));
    }

    [Fact]
    public void ForgetVirtual_AbsentOwner_QueuesDependents()
    {
        _graph.Observe(Pods, Meta("p", "pod-1", Ref("apps/v1", "ReplicaSet", "rs", "rs-1")));
        _deletes.Clear();

        Assert.True(_graph.ForgetVirtual("rs-1"));

        Assert.False(_graph.TryGet("rs-1", out _));
        Assert.Equal(["pod-1"], _deletes);
    }

    [Fact]
    public void Forget_ObservedOwner_QueuesDependents()
    {
        _graph.Observe(ConfigMaps, Meta("owner", "o-1"));
        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("v1", "ConfigMap", "owner", "o-1")));
        _graph.Observe(ConfigMaps, Meta("b", "b-1", Ref("v1", "ConfigMap", "owner", "o-1")));
        Assert.Empty(_deletes);

        _graph.Forget(Meta("owner", "o-1"));

        Assert.Equal(["a-1", "b-1"], _deletes.Order());
    }

    [Fact]
    public void Observe_ForegroundDeletion_QueuesOwnerAndEveryDependent()
    {
        _graph.Observe(ConfigMaps, Meta("owner", "o-1"));
        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("v1", "ConfigMap", "owner", "o-1", block: true)));
        _graph.Observe(ConfigMaps, Meta("b", "b-1", Ref("v1", "ConfigMap", "owner", "o-1", block: false)));

        _graph.Observe(ConfigMaps, Deleting(Meta("owner", "o-1"), Finalizers.ForegroundDeletion));

        Assert.Equal(["a-1", "b-1", "o-1"], _deletes.Order());
        Assert.True(_graph.TryGet("o-1", out var owner));
        Assert.True(owner.DeletingDependents);
        var dependents = _graph.Dependents("o-1").ToDictionary(d => d.Identity.Uid);
        Assert.True(dependents["a-1"].Blocking);
        Assert.False(dependents["b-1"].Blocking);
    }

    [Fact]
    public void Observe_DependentDropsReferenceToForegroundOwner_QueuesOwner()
    {
        _graph.Observe(ConfigMaps, Deleting(Meta("owner", "o-1"), Finalizers.ForegroundDeletion));
        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("v1", "ConfigMap", "owner", "o-1", block: true)));
        _deletes.Clear();

        _graph.Observe(ConfigMaps, Meta("a", "a-1"));

        Assert.Equal(["o-1"], _deletes);
        Assert.Empty(_graph.Dependents("o-1"));
    }

    [Fact]
    public void Observe_NewDependentOfForegroundOwner_QueuesDependent()
    {
        _graph.Observe(ConfigMaps, Deleting(Meta("owner", "o-1"), Finalizers.ForegroundDeletion));
        _deletes.Clear();

        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("v1", "ConfigMap", "owner", "o-1")));

        Assert.Equal(["a-1"], _deletes);
    }

    [Fact]
    public void Observe_OrphanFinalizer_QueuesOrphan()
    {
        _graph.Observe(ConfigMaps, Meta("owner", "o-1"));
        Assert.Empty(_orphans);

        _graph.Observe(ConfigMaps, Deleting(Meta("owner", "o-1"), Finalizers.Orphan));

        Assert.Equal(["o-1"], _orphans);
        Assert.True(_graph.TryGet("o-1", out var owner));
        Assert.True(owner.BeingDeleted);
        Assert.False(owner.DeletingDependents);
    }

    [Fact]
    public void Observe_ClusterScopedDependentOfNamespacedKind_IgnoresTheReference()
    {
        var meta = Meta("cluster-thing", "n-1", Ref("v1", "ConfigMap", "cm", "cm-1"));
        meta.NamespaceProperty = null;

        _graph.Observe(Namespaces, meta);

        Assert.False(_graph.TryGet("cm-1", out _));
        Assert.Empty(_deletes);
    }

    [Fact]
    public void Observe_UnknownOwnerKind_VirtualNodeWithoutResource()
    {
        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("example.com/v1", "Widget", "w", "w-1")));

        Assert.True(_graph.TryGet("w-1", out var owner));
        Assert.Null(owner.Identity.Resource);
    }

    [Fact]
    public void Forget_LastDependentOfVirtualOwner_DropsTheVirtualOwner()
    {
        _graph.Observe(ConfigMaps, Meta("a", "a-1", Ref("example.com/v1", "Widget", "w", "w-1")));

        _graph.Forget(Meta("a", "a-1"));

        Assert.False(_graph.TryGet("w-1", out _));
        Assert.Equal(0, _graph.Count);
    }

    [Theory]
    [InlineData("v1", "")]
    [InlineData("apps/v1", "apps")]
    [InlineData("networking.k8s.io/v1", "networking.k8s.io")]
    [InlineData("", "")]
    public void GroupOf_ApiVersion_ReturnsGroup(string apiVersion, string group) =>
        Assert.Equal(group, DependencyGraph.GroupOf(apiVersion));

    private static V1ObjectMeta Meta(string name, string uid, params V1OwnerReference[] owners) =>
        new() { Name = name, NamespaceProperty = "ns", Uid = uid, OwnerReferences = owners.Length == 0 ? null : owners };

    private static V1ObjectMeta Deleting(V1ObjectMeta meta, string finalizer)
    {
        meta.DeletionTimestamp = DateTime.UtcNow;
        meta.Finalizers = [finalizer];
        return meta;
    }

    private static V1OwnerReference Ref(string apiVersion, string kind, string name, string uid, bool block = true) =>
        new() { ApiVersion = apiVersion, Kind = kind, Name = name, Uid = uid, BlockOwnerDeletion = block };
}
