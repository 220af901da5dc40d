using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Core.Queues;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>
/// Upstream's owner-reference garbage collector. One reflector per served resource feeds a uid-keyed owner graph;
/// workers then decide against the API, never against the cache alone:
/// <list type="bullet">
/// <item>Background: an object all of whose owners are verified absent (GET: 404 or another uid) is deleted; an
/// object that still has a live owner only loses its references to absent or foreground-deleting owners.</item>
/// <item>Foreground: an owner with a deletionTimestamp and the <c>foregroundDeletion</c> finalizer has its dependents
/// deleted, and loses the finalizer once no dependent with <c>blockOwnerDeletion</c> is left.</item>
/// <item>Orphan: an owner with the <c>orphan</c> finalizer is removed from its dependents' ownerReferences, then
/// loses the finalizer.</item>
/// </list>
/// Every write is conditional (uid precondition on DELETE, JSON-patch tests on PATCH); failures retry with
/// per-item exponential back-off.
/// </summary>
internal sealed partial class GarbageCollector : IDisposable
{
    private readonly ResourceCatalog _catalog;
    private readonly ObjectApi _api;
    private readonly GarbageCollectorOptions _options;
    private readonly WorkQueue<string> _attemptToDelete;
    private readonly WorkQueue<string> _attemptToOrphan;
    private readonly KindMonitor[] _monitors;
    private readonly ILogger _logger;

    public GarbageCollector(Kubernetes client, ResourceCatalog catalog, ILoggerFactory loggers, TimeProvider time, GarbageCollectorOptions? options = null)
    {
        _options = options ?? new GarbageCollectorOptions();
        _options.Validate();
        _catalog = catalog;
        _api = new ObjectApi(client);
        _logger = loggers.CreateLogger<GarbageCollector>();
        _attemptToDelete = new WorkQueue<string>(time, _options.RetryBaseDelay, _options.RetryMaxDelay);
        _attemptToOrphan = new WorkQueue<string>(time, _options.RetryBaseDelay, _options.RetryMaxDelay);
        Graph = new DependencyGraph(catalog, _attemptToDelete.Add, _attemptToOrphan.Add);
        _monitors =
        [
            .. catalog.All
                .Where(r => !_options.IgnoredResources.Contains((r.Group, r.Plural)))
                .Select(r => new KindMonitor(client, r, Graph, _options.Reflector, _logger, time)),
        ];
    }

    public DependencyGraph Graph { get; }

    /// <summary>True once every resource's first list is in the graph.</summary>
    public bool HasSynced => _monitors.All(m => m.HasSynced);

    public async Task RunAsync(CancellationToken ct)
    {
        var reflectors = _monitors.Select(m => m.RunAsync(ct)).ToArray();
        try
        {
            // Like upstream, decide nothing before every cache is full: a half-built graph misses dependents.
            await Task.WhenAll(_monitors.Select(m => m.WaitForSyncAsync(ct))).ConfigureAwait(false);
            Log.Synced(_logger, _monitors.Length, Graph.Count);
            var workers = new List<Task>();
            for (var i = 0; i < _options.DeleteWorkers; i++)
            {
                workers.Add(Task.Run(() => WorkAsync(_attemptToDelete, "attemptToDelete", AttemptToDeleteAsync, ct), ct));
            }
            for (var i = 0; i < _options.OrphanWorkers; i++)
            {
                workers.Add(Task.Run(() => WorkAsync(_attemptToOrphan, "attemptToOrphan", AttemptToOrphanAsync, ct), ct));
            }
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _attemptToDelete.ShutDown();
            _attemptToOrphan.ShutDown();
            try
            {
                await Task.WhenAll(reflectors).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public void Dispose()
    {
        _attemptToDelete.Dispose();
        _attemptToOrphan.Dispose();
    }

    private async Task WorkAsync(WorkQueue<string> queue, string queueName, Func<string, CancellationToken, Task<bool>> process, CancellationToken ct)
    {
        while (true)
        {
            var (ok, uid) = await queue.TryTakeAsync(ct).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }
            try
            {
                if (await process(uid, ct).ConfigureAwait(false))
                {
                    queue.Forget(uid);
                }
                else
                {
                    queue.AddRateLimited(uid);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Anything but our own shutdown is retried: one odd object must not stop the collector.
                Log.ItemFailed(_logger, queueName, uid, e);
                queue.AddRateLimited(uid);
            }
            finally
            {
                queue.Done(uid);
            }
        }
    }

    // ---- attempt to delete ----

    /// <summary>Processes one graph node; true when finished, false to retry after back-off.</summary>
    internal async Task<bool> AttemptToDeleteAsync(string uid, CancellationToken ct)
    {
        if (!Graph.TryGet(uid, out var node))
        {
            return true;
        }
        if (node.Virtual)
        {
            return await VerifyVirtualAsync(node.Identity, ct).ConfigureAwait(false);
        }
        if (node.BeingDeleted && !node.DeletingDependents)
        {
            // Its deletion is under way; whatever holds it (finalizers, grace) is not the collector's business.
            return true;
        }

        var self = node.Identity;
        var latest = await _api.GetAsync(self.Resource!, self.Namespace, self.Name, ct).ConfigureAwait(false);
        if (latest is null || latest.Uid != self.Uid)
        {
            // Gone already; the watch will report it and the graph recheck its dependents then.
            return true;
        }
        if (Finalizers.IsDeletingDependents(latest))
        {
            return await ProcessDeletingDependentsAsync(self, latest, ct).ConfigureAwait(false);
        }
        if (latest.OwnerReferences is not { Count: > 0 } references)
        {
            return true;
        }

        var solid = 0;
        var remove = new HashSet<string>(StringComparer.Ordinal);
        var waiting = 0;
        foreach (var reference in references)
        {
            switch (await ClassifyAsync(self, reference, ct).ConfigureAwait(false))
            {
                case OwnerState.Solid:
                    solid++;
                    break;
                case OwnerState.Absent:
                    remove.Add(reference.Uid);
                    break;
                case OwnerState.WaitingForDependents:
                    remove.Add(reference.Uid);
                    waiting++;
                    break;
            }
        }

        if (solid > 0)
        {
            if (remove.Count == 0)
            {
                return true;
            }

            // Still owned: it stays, but drops its references to owners that are gone or want it gone, so
            // those owners stop waiting on it.
            Log.RemovingOwnerReferences(_logger, self, remove);
            return await RemoveOwnerReferencesAsync(self, latest, remove, ct).ConfigureAwait(false) != WriteResult.Conflict;
        }

        if (waiting > 0 && node.DependentCount > 0)
        {
            if (Graph.Dependents(uid).Any(d => d.DeletingDependents))
            {
                // An owner waits on this object while a dependent of it waits on it too: a cycle of foreground
                // deletions would never finish, so this object stops blocking its owners before going.
                var unblocked = await UnblockOwnersAsync(self, latest, ct).ConfigureAwait(false);
                if (unblocked != WriteResult.Applied)
                {
                    return unblocked == WriteResult.Gone;
                }
            }

            // It has dependents of its own: delete it in the foreground too, so the owner waits for the whole tree.
            return await DeleteAsync(self, "Foreground", ct).ConfigureAwait(false);
        }

        var policy = Finalizers.Has(latest, Finalizers.Orphan) ? "Orphan"
            : Finalizers.Has(latest, Finalizers.ForegroundDeletion) ? "Foreground"
            : "Background";
        return await DeleteAsync(self, policy, ct).ConfigureAwait(false);
    }

    /// <summary>Asks the API whether one owner of <paramref name="dependent"/> is there, gone, or deleting its dependents.</summary>
    private async Task<OwnerState> ClassifyAsync(ObjectIdentity dependent, V1OwnerReference reference, CancellationToken ct)
    {
        var resource = _catalog.FindKind(DependencyGraph.GroupOf(reference.ApiVersion), reference.Kind);
        if (resource is null)
        {
            // Absence cannot be verified for a kind nobody serves, so the reference keeps the dependent alive.
            Log.UnresolvableOwner(_logger, dependent, reference.ApiVersion, reference.Kind, reference.Name);
            return OwnerState.Solid;
        }
        if (resource.Namespaced && string.IsNullOrEmpty(dependent.Namespace))
        {
            // Upstream: a cluster-scoped dependent naming a namespaced owner is unresolvable, never garbage.
            Log.UnresolvableOwner(_logger, dependent, reference.ApiVersion, reference.Kind, reference.Name);
            return OwnerState.Solid;
        }

        // A namespaced owner is only ever looked for in the dependent's namespace.
        var owner = await _api.GetAsync(resource, resource.Namespaced ? dependent.Namespace : null, reference.Name, ct).ConfigureAwait(false);
        if (owner is null || owner.Uid != reference.Uid)
        {
            return OwnerState.Absent;
        }
        return Finalizers.IsDeletingDependents(owner) ? OwnerState.WaitingForDependents : OwnerState.Solid;
    }

    /// <summary>A foreground owner: removes its finalizer once nothing blocks it, else pushes its blocking dependents.</summary>
    private async Task<bool> ProcessDeletingDependentsAsync(ObjectIdentity owner, V1ObjectMeta latest, CancellationToken ct)
    {
        var blocking = Graph.Dependents(owner.Uid).Where(d => d.Blocking).ToList();
        if (blocking.Count == 0)
        {
            var result = await RemoveFinalizerAsync(owner, latest, Finalizers.ForegroundDeletion, ct).ConfigureAwait(false);
            if (result == WriteResult.Applied)
            {
                Log.RemovedFinalizer(_logger, owner, Finalizers.ForegroundDeletion);
            }
            return result != WriteResult.Conflict;
        }

        foreach (var dependent in blocking.Where(d => !d.DeletingDependents))
        {
            _attemptToDelete.Add(dependent.Identity.Uid);
        }

        // Done for now: each blocking dependent's deletion (or unblocking) re-queues this owner through the graph.
        Log.WaitingForDependents(_logger, owner, blocking.Count);
        return true;
    }

    /// <summary>An owner seen only in references: if the API does not have it, drop it and recheck its dependents.</summary>
    private async Task<bool> VerifyVirtualAsync(ObjectIdentity owner, CancellationToken ct)
    {
        if (owner.Resource is null)
        {
            // Unknown kind: there is nothing to ask, and its dependents treat the reference as unresolvable.
            return true;
        }
        var live = await _api.GetAsync(owner.Resource, owner.Namespace, owner.Name, ct).ConfigureAwait(false);
        if (live is null || live.Uid != owner.Uid)
        {
            if (Graph.ForgetVirtual(owner.Uid))
            {
                Log.OwnerAbsent(_logger, owner);
            }
            return true;
        }

        // It exists but no cache has shown it yet; look again until one does, in case it goes before that.
        return !Graph.TryGet(owner.Uid, out var now) || !now.Virtual;
    }

    private async Task<bool> DeleteAsync(ObjectIdentity target, string policy, CancellationToken ct)
    {
        Log.Deleting(_logger, target, policy);

        // Conflict means the uid precondition failed or the store was busy: retrying re-reads and decides again.
        return await _api.DeleteAsync(target, policy, ct).ConfigureAwait(false) != WriteResult.Conflict;
    }

    // ---- attempt to orphan ----

    /// <summary>Strips an orphaning owner from every dependent, then removes its <c>orphan</c> finalizer.</summary>
    internal async Task<bool> AttemptToOrphanAsync(string uid, CancellationToken ct)
    {
        if (!Graph.TryGet(uid, out var node) || node.Virtual)
        {
            return true;
        }
        var owner = node.Identity;
        var latest = await _api.GetAsync(owner.Resource!, owner.Namespace, owner.Name, ct).ConfigureAwait(false);
        if (latest is null || latest.Uid != uid || !Finalizers.IsOrphaning(latest))
        {
            // Someone else finished it; orphaning now could save dependents that are meant to be collected.
            return true;
        }

        var dependents = Graph.Dependents(uid);
        var conflicts = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.OrphanParallelism, CancellationToken = ct };
        await Parallel.ForEachAsync(dependents, parallel, async (dependent, token) =>
        {
            if (await OrphanAsync(dependent.Identity, uid, token).ConfigureAwait(false) == WriteResult.Conflict)
            {
                Interlocked.Increment(ref conflicts);
            }
        }).ConfigureAwait(false);
        if (conflicts > 0)
        {
            return false;
        }
        Log.Orphaned(_logger, owner, dependents.Count);

        var result = await RemoveFinalizerAsync(owner, latest, Finalizers.Orphan, ct).ConfigureAwait(false);
        if (result == WriteResult.Applied)
        {
            Log.RemovedFinalizer(_logger, owner, Finalizers.Orphan);
        }
        return result != WriteResult.Conflict;
    }

    private async Task<WriteResult> OrphanAsync(ObjectIdentity dependent, string ownerUid, CancellationToken ct)
    {
        if (dependent.Resource is null)
        {
            return WriteResult.Gone;
        }
        var latest = await _api.GetAsync(dependent.Resource, dependent.Namespace, dependent.Name, ct).ConfigureAwait(false);
        if (latest is null || latest.Uid != dependent.Uid)
        {
            return WriteResult.Gone;
        }
        return await RemoveOwnerReferencesAsync(dependent, latest, new HashSet<string>(StringComparer.Ordinal) { ownerUid }, ct).ConfigureAwait(false);
    }

    // ---- conditional patches ----

    /// <summary>Removes the references to the given owners, each guarded by a test of its uid at its index.</summary>
    private Task<WriteResult> RemoveOwnerReferencesAsync(ObjectIdentity target, V1ObjectMeta latest, HashSet<string> ownerUids, CancellationToken ct)
    {
        var references = latest.OwnerReferences ?? [];
        var operations = new JsonArray { Test("/metadata/uid", target.Uid) };

        // From the end, so each index still points at the element it was read from.
        for (var i = references.Count - 1; i >= 0; i--)
        {
            if (ownerUids.Contains(references[i].Uid))
            {
                operations.Add(Test($"/metadata/ownerReferences/{i}/uid", references[i].Uid));
                operations.Add(new JsonObject { ["op"] = "remove", ["path"] = $"/metadata/ownerReferences/{i}" });
            }
        }
        return operations.Count == 1 ? Task.FromResult(WriteResult.Applied) : _api.PatchAsync(target, operations, ct);
    }

    /// <summary>Sets blockOwnerDeletion=false on every blocking reference.</summary>
    private Task<WriteResult> UnblockOwnersAsync(ObjectIdentity target, V1ObjectMeta latest, CancellationToken ct)
    {
        var references = latest.OwnerReferences ?? [];
        var operations = new JsonArray { Test("/metadata/uid", target.Uid) };
        for (var i = 0; i < references.Count; i++)
        {
            if (references[i].BlockOwnerDeletion == true)
            {
                operations.Add(Test($"/metadata/ownerReferences/{i}/uid", references[i].Uid));
                operations.Add(new JsonObject { ["op"] = "add", ["path"] = $"/metadata/ownerReferences/{i}/blockOwnerDeletion", ["value"] = false });
            }
        }
        return operations.Count == 1 ? Task.FromResult(WriteResult.Applied) : _api.PatchAsync(target, operations, ct);
    }

    /// <summary>Removes one finalizer, guarded by tests of the object's uid and of the finalizer at its index.</summary>
    private Task<WriteResult> RemoveFinalizerAsync(ObjectIdentity target, V1ObjectMeta latest, string finalizer, CancellationToken ct)
    {
        var index = latest.Finalizers?.IndexOf(finalizer) ?? -1;
        if (index < 0)
        {
            return Task.FromResult(WriteResult.Applied);
        }
        var operations = new JsonArray
        {
            Test("/metadata/uid", target.Uid),
            Test($"/metadata/finalizers/{index}", finalizer),
            new JsonObject { ["op"] = "remove", ["path"] = $"/metadata/finalizers/{index}" },
        };
        return _api.PatchAsync(target, operations, ct);
    }

    private static JsonObject Test(string path, string value) => new() { ["op"] = "test", ["path"] = path, ["value"] = value };

    private enum OwnerState
    {
        Solid,
        Absent,
        WaitingForDependents,
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "garbage collector: {Resources} resources synced, {Nodes} objects in the graph")]
        public static partial void Synced(ILogger logger, int resources, int nodes);

        [LoggerMessage(Level = LogLevel.Warning, Message = "garbage collector: {Queue} {Uid} failed; retrying")]
        public static partial void ItemFailed(ILogger logger, string queue, string uid, Exception error);

        [LoggerMessage(Level = LogLevel.Information, Message = "garbage collector: deleting {Object} (propagationPolicy {Policy})")]
        public static partial void Deleting(ILogger logger, ObjectIdentity @object, string policy);

        [LoggerMessage(Level = LogLevel.Information, Message = "garbage collector: removing ownerReferences to {Owners} from {Object}")]
        public static partial void RemovingOwnerReferences(ILogger logger, ObjectIdentity @object, IEnumerable<string> owners);

        [LoggerMessage(Level = LogLevel.Information, Message = "garbage collector: removed finalizer {Finalizer} from {Object}")]
        public static partial void RemovedFinalizer(ILogger logger, ObjectIdentity @object, string finalizer);

        [LoggerMessage(Level = LogLevel.Debug, Message = "garbage collector: {Object} waits for {Blocking} blocking dependents")]
        public static partial void WaitingForDependents(ILogger logger, ObjectIdentity @object, int blocking);

        [LoggerMessage(Level = LogLevel.Information, Message = "garbage collector: orphaned {Dependents} dependents of {Object}")]
        public static partial void Orphaned(ILogger logger, ObjectIdentity @object, int dependents);

        [LoggerMessage(Level = LogLevel.Debug, Message = "garbage collector: owner {Object} does not exist; rechecking its dependents")]
        public static partial void OwnerAbsent(ILogger logger, ObjectIdentity @object);

        [LoggerMessage(Level = LogLevel.Warning, Message = "garbage collector: {Object} has an unresolvable ownerReference to {ApiVersion} {Kind} {Name}; it keeps the object")]
        public static partial void UnresolvableOwner(ILogger logger, ObjectIdentity @object, string apiVersion, string kind, string name);
    }
}
