using k8s.Models;
using Switchboard.Api.Resources;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>
/// The owner graph, keyed by uid, built from every reflector's events (upstream's GraphBuilder). Nodes are either
/// observed (seen in a cache) or virtual (only named by some dependent's ownerReference, possibly absent). The
/// graph never decides anything against the API: it only tells the workers what to look at, through
/// <c>attemptToDelete</c> (is this object garbage? has this foreground owner no blocking dependents left?) and
/// <c>attemptToOrphan</c> (strip this owner from its dependents). All access takes one lock; every operation
/// is small.
/// </summary>
internal sealed class DependencyGraph
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly ResourceCatalog _catalog;
    private readonly Action<string> _attemptToDelete;
    private readonly Action<string> _attemptToOrphan;

    public DependencyGraph(ResourceCatalog catalog, Action<string> attemptToDelete, Action<string> attemptToOrphan)
    {
        _catalog = catalog;
        _attemptToDelete = attemptToDelete;
        _attemptToOrphan = attemptToOrphan;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _nodes.Count;
            }
        }
    }

    /// <summary>An object was added to or changed in a cache: update its edges and react to deletion transitions.</summary>
    public void Observe(ResourceInfo resource, V1ObjectMeta meta)
    {
        if (string.IsNullOrEmpty(meta.Uid))
        {
            return;
        }
        var identity = new ObjectIdentity(resource, resource.GroupVersion, resource.Kind, resource.Namespaced ? meta.NamespaceProperty : null, meta.Name, meta.Uid);
        var owners = meta.OwnerReferences is { Count: > 0 } refs ? refs.ToArray() : [];
        lock (_gate)
        {
            IReadOnlyList<V1OwnerReference> previous;
            if (_nodes.TryGetValue(meta.Uid, out var node))
            {
                previous = node.Owners;
                node.Identity = identity;
                node.Virtual = false;
            }
            else
            {
                node = new Node(identity, isVirtual: false);
                _nodes.Add(meta.Uid, node);
                previous = [];
            }
            node.Owners = owners;

            foreach (var removed in previous.Where(p => !owners.Any(o => o.Uid == p.Uid)))
            {
                if (_nodes.TryGetValue(removed.Uid, out var owner))
                {
                    Detach(owner, node);
                }
            }
            foreach (var reference in owners)
            {
                var before = previous.FirstOrDefault(p => p.Uid == reference.Uid);
                if (before is null)
                {
                    AddToOwner(node, reference);
                }
                else if (before.BlockOwnerDeletion == true && reference.BlockOwnerDeletion != true && _nodes.TryGetValue(reference.Uid, out var owner))
                {
                    UnblockedOwner(owner);
                }
            }

            node.BeingDeleted = meta.DeletionTimestamp is not null;
            if (Finalizers.IsOrphaning(meta))
            {
                _attemptToOrphan(meta.Uid);
            }
            if (Finalizers.IsDeletingDependents(meta))
            {
                if (!node.DeletingDependents)
                {
                    // Every dependent, blocking or not, is garbage once its owner waits for them.
                    node.DeletingDependents = true;
                    foreach (var dependent in node.Dependents)
                    {
                        _attemptToDelete(dependent.Identity.Uid);
                    }
                }
                _attemptToDelete(meta.Uid);
            }
            else
            {
                node.DeletingDependents = false;
            }
        }
    }

    /// <summary>An object left a cache: its dependents must be rechecked, and a foreground owner may be free.</summary>
    public void Forget(V1ObjectMeta meta)
    {
        if (string.IsNullOrEmpty(meta.Uid))
        {
            return;
        }
        lock (_gate)
        {
            if (_nodes.TryGetValue(meta.Uid, out var node))
            {
                Remove(node);
            }
        }
    }

    /// <summary>
    /// A virtual node's object was found absent on the API: drop the node and recheck its dependents. Returns
    /// false (and changes nothing) when a cache has observed the object meanwhile.
    /// </summary>
    public bool ForgetVirtual(string uid)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(uid, out var node) || !node.Virtual)
            {
                return false;
            }
            Remove(node);
            return true;
        }
    }

    public bool TryGet(string uid, out NodeView view)
    {
        lock (_gate)
        {
            if (_nodes.TryGetValue(uid, out var node))
            {
                view = new NodeView(node.Identity, node.Virtual, node.BeingDeleted, node.DeletingDependents, node.Dependents.Count);
                return true;
            }
        }
        view = default;
        return false;
    }

    /// <summary>The dependents the graph knows for an owner; <see cref="DependentView.Blocking"/> is their blockOwnerDeletion toward it.</summary>
    public IReadOnlyList<DependentView> Dependents(string ownerUid)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(ownerUid, out var owner))
            {
                return [];
            }
            return
            [
                .. owner.Dependents.Select(d => new DependentView(
                    d.Identity,
                    d.DeletingDependents,
                    d.Owners.Any(r => r.Uid == ownerUid && r.BlockOwnerDeletion == true))),
            ];
        }
    }

    private void AddToOwner(Node dependent, V1OwnerReference reference)
    {
        if (!_nodes.TryGetValue(reference.Uid, out var owner))
        {
            var resource = _catalog.FindKind(GroupOf(reference.ApiVersion), reference.Kind);
            var dependentNamespace = dependent.Identity.Namespace;
            if (resource is { Namespaced: true } && string.IsNullOrEmpty(dependentNamespace))
            {
                // A cluster-scoped dependent cannot be owned by a namespaced kind; upstream treats the reference as
                // unresolvable, so it joins no owner and never makes the dependent garbage.
                return;
            }

            // An owner is always looked for in its dependent's namespace (cross-namespace references do not exist).
            var ns = resource is { Namespaced: false } ? null : dependentNamespace;
            owner = new Node(new ObjectIdentity(resource, reference.ApiVersion, reference.Kind, ns, reference.Name, reference.Uid), isVirtual: true);
            _nodes.Add(reference.Uid, owner);

            // Not seen in any cache (yet): a worker asks the API whether it exists at all.
            _attemptToDelete(reference.Uid);
        }
        owner.Dependents.Add(dependent);
        if (owner.DeletingDependents)
        {
            // A new dependent of an owner already in foreground deletion is garbage too.
            _attemptToDelete(dependent.Identity.Uid);
        }
    }

    private void Detach(Node owner, Node dependent)
    {
        owner.Dependents.Remove(dependent);
        if (owner.Virtual && owner.Dependents.Count == 0)
        {
            // A virtual node exists only for its dependents; without them it would stay forever (say, an owner
            // of a kind nobody serves).
            _nodes.Remove(owner.Identity.Uid);
            return;
        }
        UnblockedOwner(owner);
    }

    private void UnblockedOwner(Node owner)
    {
        if (owner.DeletingDependents)
        {
            _attemptToDelete(owner.Identity.Uid);
        }
    }

    private void Remove(Node node)
    {
        _nodes.Remove(node.Identity.Uid);
        foreach (var reference in node.Owners)
        {
            if (_nodes.TryGetValue(reference.Uid, out var owner))
            {
                Detach(owner, node);
            }
        }
        foreach (var dependent in node.Dependents)
        {
            _attemptToDelete(dependent.Identity.Uid);
        }
    }

    /// <summary>The API group of an apiVersion: "apps/v1" → "apps", "v1" → "" (core).</summary>
    internal static string GroupOf(string? apiVersion)
    {
        if (string.IsNullOrEmpty(apiVersion))
        {
            return "";
        }
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "" : apiVersion[..slash];
    }

    private sealed class Node(ObjectIdentity identity, bool isVirtual)
    {
        public ObjectIdentity Identity { get; set; } = identity;

        public bool Virtual { get; set; } = isVirtual;

        public bool BeingDeleted { get; set; }

        public bool DeletingDependents { get; set; }

        public IReadOnlyList<V1OwnerReference> Owners { get; set; } = [];

        public HashSet<Node> Dependents { get; } = [];
    }
}

/// <summary>A point-in-time copy of one graph node, for a worker to act on without holding the graph's lock.</summary>
internal readonly record struct NodeView(ObjectIdentity Identity, bool Virtual, bool BeingDeleted, bool DeletingDependents, int DependentCount);

/// <summary>One dependent of an owner: where it is, whether it waits on its own dependents, whether it blocks the owner.</summary>
internal readonly record struct DependentView(ObjectIdentity Identity, bool DeletingDependents, bool Blocking);
