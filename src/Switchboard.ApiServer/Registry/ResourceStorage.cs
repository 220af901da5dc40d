using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using k8s;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Api.Serialization;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Http;
using Switchboard.Store;

namespace Switchboard.ApiServer.Registry;

/// <summary>Flags of one write request.</summary>
/// <param name="FieldManager">Who writes, for metadata.managedFields; null leaves ownership untracked (server bootstrap).</param>
/// <param name="Subresource">The subresource written through when the target does not say it (scale).</param>
/// <param name="Applied">Server-side apply already computed managedFields; the write keeps them as they are.</param>
internal readonly record struct WriteOptions(bool DryRun, string? FieldManager, string? Subresource = null, bool Applied = false)
{
    public static WriteOptions Default => new(false, null);
}

/// <summary>The object a write produced: its served bytes and its decoded form.</summary>
internal sealed record WriteOutcome(ReadOnlyMemory<byte> Bytes, IKubernetesObject<V1ObjectMeta> Object);

/// <summary>Which stanza an update may change.</summary>
internal enum UpdateTarget
{
    Main,
    Status,
    /// <summary>namespaces/finalize: only spec.finalizers changes.</summary>
    Finalize,

    /// <summary>
    /// pods/binding: the transform sets spec.nodeName and the PodScheduled condition; like upstream's binding
    /// storage it bypasses the pod's update validation (which forbids changing spec.nodeName).
    /// </summary>
    Binding,
}

/// <summary>
/// Generic registry storage of one resource over the revisioned store (upstream genericregistry.Store):
/// system metadata, status/spec split, generation, preconditions, finalizers and graceful deletion,
/// with the kind's strategy for defaulting, allocation and validation.
/// </summary>
internal sealed class ResourceStorage
{
    private const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    private const int MaxUpdateRetries = 16;

    private readonly IStore _store;
    private readonly TimeProvider _time;
    private readonly Func<string, ValueTask<V1Namespace?>> _getNamespace;
    private readonly ModelAccessor _accessor;

    public ResourceStorage(ResourceInfo info, IResourceStrategy strategy, IStore store, TimeProvider time,
        Func<string, ValueTask<V1Namespace?>> getNamespace, ConcurrentDictionary<Type, ModelAccessor> accessors, Api.Schema.SchemaCatalog schemas)
    {
        Info = info;
        Strategy = strategy;
        _store = store;
        _time = time;
        _getNamespace = getNamespace;
        _accessor = ModelAccessor.For(info.ModelType, accessors);
        PatchMeta = new Api.Patch.SchemaPatchMeta(schemas, info.ModelType);
        // ---- server-side apply (Switchboard.Api.Apply) ----
        FieldManager = new Api.Apply.FieldManager(schemas, info.ModelType, info.HasStatusSubresource);
        // ---- end server-side apply ----
    }

    public ResourceInfo Info { get; }

    public IResourceStrategy Strategy { get; }

    public IStore Store => _store;

    /// <summary>Strategic-merge-patch strategies of this kind's fields.</summary>
    public Api.Patch.IPatchMeta PatchMeta { get; }

    /// <summary>Field ownership (metadata.managedFields) and server-side apply for this kind.</summary>
    public Api.Apply.FieldManager FieldManager { get; }

    public IKubernetesObject<V1ObjectMeta> Decode(ReadOnlySpan<byte> json) =>
        (IKubernetesObject<V1ObjectMeta>)(KubeJson.Deserialize(json, Info.ModelType) ?? throw ApiException.BadRequest("empty object"));

    public byte[] Encode(IKubernetesObject<V1ObjectMeta> obj) => KubeJson.Serialize(obj, Info.ModelType);

    public async ValueTask<StoreObject> GetAsync(string? ns, string name, CancellationToken ct) =>
        await _store.GetAsync(Info.Key(ns, name), ct).ConfigureAwait(false) ?? throw ApiException.NotFound(Info, name);

    public async ValueTask<StoreObject?> TryGetAsync(string? ns, string name, CancellationToken ct) =>
        await _store.GetAsync(Info.Key(ns, name), ct).ConfigureAwait(false);

    // ---- create ----

    public async Task<WriteOutcome> CreateAsync(string? requestNamespace, IKubernetesObject<V1ObjectMeta> obj, WriteOptions options, CancellationToken ct)
    {
        obj.Metadata ??= new V1ObjectMeta();
        var meta = obj.Metadata;
        obj.ApiVersion = Info.GroupVersion;
        obj.Kind = Info.Kind;
        if (Info.Namespaced)
        {
            if (!string.IsNullOrEmpty(meta.NamespaceProperty) && !string.IsNullOrEmpty(requestNamespace) && meta.NamespaceProperty != requestNamespace)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
            meta.NamespaceProperty = string.IsNullOrEmpty(requestNamespace) ? meta.NamespaceProperty : requestNamespace;
        }
        else
        {
            meta.NamespaceProperty = null;
        }

        var generated = string.IsNullOrEmpty(meta.Name) && !string.IsNullOrEmpty(meta.GenerateName);
        FillSystemFields(obj);
        // ---- server-side apply: the creator owns what it set ----
        TrackManagedFields(null, obj, options, subresource: null);
        // ---- end server-side apply ----

        if (Info.Namespaced && !string.IsNullOrEmpty(meta.NamespaceProperty))
        {
            await CheckNamespaceAcceptsAsync(meta.NamespaceProperty).ConfigureAwait(false);
        }

        for (var attempt = 0; ; attempt++)
        {
            if (generated)
            {
                meta.Name = GenerateName(meta.GenerateName);
            }
            // Upstream's Store.Create runs the kind's BeginCreate (Service allocation) before BeforeCreate, which
            // validates metadata and spec in one pass (metadata first) and reports every cause in one Status. When the
            // metadata is already invalid the create cannot persist, so the strategy prepares as a dry run: the
            // defaults the spec checks need are filled in and nothing is allocated.
            var errors = MetadataValidation.ValidateCreate(meta, Strategy.NameRule, Info.Namespaced);
            await Strategy.PrepareForCreateAsync(obj, options.DryRun || errors.Count > 0, ct).ConfigureAwait(false);
            errors.AddRange(Strategy.ValidateCreate(obj));
            if (errors.Count > 0)
            {
                Strategy.AbortCreate(obj);
                throw ApiException.Invalid(Info, meta.Name ?? meta.GenerateName ?? "", errors);
            }

            if (options.DryRun)
            {
                Strategy.AbortCreate(obj);
                var existing = await _store.GetAsync(Info.Key(meta.NamespaceProperty, meta.Name!), ct).ConfigureAwait(false);
                if (existing is not null)
                {
                    throw ApiException.AlreadyExists(Info, meta.Name!);
                }
                return new WriteOutcome(Encode(obj), obj);
            }

            StoreWriteResult result;
            try
            {
                result = await _store.CreateAsync(Info.Key(meta.NamespaceProperty, meta.Name!), rev =>
                {
                    meta.ResourceVersion = rev.ToString(CultureInfo.InvariantCulture);
                    return Encode(obj);
                }, ct).ConfigureAwait(false);
            }
            catch
            {
                Strategy.AbortCreate(obj);
                throw;
            }

            if (result.Status == StoreWriteStatus.Ok)
            {
                Strategy.AfterCreate(obj);
                return new WriteOutcome(result.Current!.Value, obj);
            }
            Strategy.AbortCreate(obj);
            // KEP-4420: a generated name that collides is retried with a new suffix.
            if (!generated || attempt >= 7)
            {
                throw ApiException.AlreadyExists(Info, meta.Name!);
            }
        }
    }

    private void FillSystemFields(IKubernetesObject<V1ObjectMeta> obj)
    {
        var meta = obj.Metadata;
        meta.Uid = Guid.NewGuid().ToString();
        meta.CreationTimestamp = Now();
        meta.ResourceVersion = null;
        meta.DeletionTimestamp = null;
        meta.DeletionGracePeriodSeconds = null;
        meta.SelfLink = null;
        if (Strategy.TracksGeneration)
        {
            meta.Generation = 1;
        }
        else
        {
            meta.Generation = null;
        }
    }

    private async ValueTask CheckNamespaceAcceptsAsync(string ns)
    {
        var namespaceObject = await _getNamespace(ns).ConfigureAwait(false);
        if (namespaceObject is null)
        {
            throw new ApiException(404, "NotFound", $"namespaces \"{ns}\" not found") { DetailName = ns, DetailKind = "namespaces" };
        }
        if (namespaceObject.Metadata.DeletionTimestamp is not null || namespaceObject.Status?.Phase == "Terminating")
        {
            throw new ApiException(403, "Forbidden", $"{Info.Plural} \"\" is forbidden: unable to create new content in namespace {ns} because it is being terminated")
            {
                DetailKind = Info.Plural,
                DetailGroup = Info.Group,
                Causes = [("NamespaceTerminating", $"namespace {ns} is being terminated", "metadata.namespace")],
            };
        }
    }

    private static string GenerateName(string prefix)
    {
        // Upstream keeps generated names within 63 characters: prefix cut to 58, then 5 random characters.
        if (prefix.Length > 58)
        {
            prefix = prefix[..58];
        }
        Span<char> suffix = stackalloc char[5];
        for (var i = 0; i < suffix.Length; i++)
        {
            suffix[i] = GenerateNameAlphabet[RandomNumberGenerator.GetInt32(GenerateNameAlphabet.Length)];
        }
        return prefix + new string(suffix);
    }

    private DateTime Now()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
    }

    // ---- update ----

    /// <summary>
    /// Reads the live object, asks transform for the new one and writes it if the live object did not change
    /// meanwhile (retrying on races unless the request carried its own resourceVersion precondition).
    /// </summary>
    public async Task<WriteOutcome> UpdateAsync(string? ns, string name, UpdateTarget target,
        Func<IKubernetesObject<V1ObjectMeta>, ReadOnlyMemory<byte>, IKubernetesObject<V1ObjectMeta>> transform,
        WriteOptions options, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var live = await GetAsync(ns, name, ct).ConfigureAwait(false);
            var old = Decode(live.Value.Span);
            var obj = transform(Decode(live.Value.Span), live.Value);
            obj.Metadata ??= new V1ObjectMeta();
            var meta = obj.Metadata;
            var liveRv = live.ModRevision.ToString(CultureInfo.InvariantCulture);
            var userPrecondition = !string.IsNullOrEmpty(meta.ResourceVersion);
            if (userPrecondition && meta.ResourceVersion != liveRv)
            {
                throw ApiException.Conflict(Info, name);
            }
            if (!string.IsNullOrEmpty(meta.Uid) && meta.Uid != old.Metadata.Uid)
            {
                throw ApiException.Conflict(Info, name, $"Precondition failed: UID in precondition: {meta.Uid}, UID in object meta: {old.Metadata.Uid}");
            }
            if (Info.Namespaced && !string.IsNullOrEmpty(meta.NamespaceProperty) && meta.NamespaceProperty != ns)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
            if (!string.IsNullOrEmpty(meta.Name) && meta.Name != name)
            {
                throw ApiException.BadRequest($"the name of the object ({meta.Name}) does not match the name on the URL ({name})");
            }

            obj.ApiVersion = Info.GroupVersion;
            obj.Kind = Info.Kind;
            meta.Name = name;
            meta.NamespaceProperty = Info.Namespaced ? ns : null;
            meta.Uid = old.Metadata.Uid;
            meta.CreationTimestamp = old.Metadata.CreationTimestamp;
            meta.DeletionTimestamp = old.Metadata.DeletionTimestamp;
            meta.DeletionGracePeriodSeconds = old.Metadata.DeletionGracePeriodSeconds;
            meta.ResourceVersion = liveRv;
            meta.SelfLink = null;
            meta.GenerateName ??= old.Metadata.GenerateName;

            switch (target)
            {
                case UpdateTarget.Main when Info.HasStatusSubresource:
                    _accessor.CopyStatus(old, obj);
                    if (obj is V1Namespace mainNs && old is V1Namespace liveNs)
                    {
                        // Namespace finalizers change only through /finalize.
                        mainNs.Spec = new V1NamespaceSpec { Finalizers = liveNs.Spec?.Finalizers };
                    }
                    break;
                case UpdateTarget.Status:
                    _accessor.CopySpec(old, obj);
                    ResetMetadataForStatus(meta, old.Metadata);
                    break;
                case UpdateTarget.Finalize:
                    ResetMetadataForStatus(meta, old.Metadata);
                    if (obj is V1Namespace nsObj && old is V1Namespace oldNs)
                    {
                        var finalizers = nsObj.Spec?.Finalizers;
                        nsObj.Status = oldNs.Status;
                        nsObj.Spec = new V1NamespaceSpec { Finalizers = finalizers };
                    }
                    break;
                default:
                    break;
            }

            meta.Generation = old.Metadata.Generation;
            if (Strategy.TracksGeneration)
            {
                meta.Generation = (old.Metadata.Generation ?? 1) + (_accessor.SpecDiffers(obj, old) ? 1 : 0);
            }

            // ---- server-side apply: the writer owns what it changed (before the strategy's own changes, as upstream) ----
            TrackManagedFields(old, obj, options, target switch
            {
                UpdateTarget.Status => "status",
                UpdateTarget.Finalize => "finalize",
                UpdateTarget.Binding => "binding",
                _ => options.Subresource,
            });
            // ---- end server-side apply ----

            // As on create: upstream's BeginUpdate, then metadata and spec validated together; invalid metadata
            // means a dry-run preparation that allocates nothing.
            var errors = MetadataValidation.ValidateUpdate(meta, old.Metadata, Strategy.NameRule, Info.Namespaced);
            await Strategy.PrepareForUpdateAsync(obj, old, options.DryRun || errors.Count > 0, ct).ConfigureAwait(false);
            if (target != UpdateTarget.Binding)
            {
                errors.AddRange(Strategy.ValidateUpdate(obj, old));
            }
            if (errors.Count > 0)
            {
                Strategy.AbortUpdate(obj, old);
                throw ApiException.Invalid(Info, name, errors);
            }

            var proposed = Encode(obj);
            if (proposed.AsSpan().SequenceEqual(live.Value.Span))
            {
                // Nothing changed: no write, no new resourceVersion, no watch event (as upstream).
                Strategy.AbortUpdate(obj, old);
                return new WriteOutcome(live.Value, old);
            }
            if (options.DryRun)
            {
                Strategy.AbortUpdate(obj, old);
                return new WriteOutcome(proposed, obj);
            }

            // Upstream ShouldDeleteDuringUpdate: only an object whose deletion has no grace period left is deleted by an
            // update; a Pod in graceful deletion (deletionGracePeriodSeconds > 0) keeps taking status writes from its
            // kubelet until that kubelet deletes it with grace 0.
            if (meta.DeletionTimestamp is not null && IsFinalized(obj) && (old.Metadata.DeletionGracePeriodSeconds ?? 0) == 0)
            {
                // The last finalizer went away: the object is deleted instead of updated.
                var deleted = await _store.DeleteAsync(Info.Key(ns, name), live.ModRevision, rev =>
                {
                    meta.ResourceVersion = rev.ToString(CultureInfo.InvariantCulture);
                    return Encode(obj);
                }, ct).ConfigureAwait(false);
                if (deleted.Status == StoreWriteStatus.Ok)
                {
                    Strategy.AfterDelete(old);
                    return new WriteOutcome(Encode(obj), obj);
                }
                Strategy.AbortUpdate(obj, old);
                if (userPrecondition || attempt >= MaxUpdateRetries)
                {
                    throw ApiException.Conflict(Info, name);
                }
                continue;
            }

            var result = await _store.UpdateAsync(Info.Key(ns, name), live.ModRevision, rev =>
            {
                meta.ResourceVersion = rev.ToString(CultureInfo.InvariantCulture);
                return Encode(obj);
            }, ct).ConfigureAwait(false);
            switch (result.Status)
            {
                case StoreWriteStatus.Ok:
                    Strategy.AfterUpdate(obj, old);
                    return new WriteOutcome(result.Current!.Value, obj);
                case StoreWriteStatus.NotFound:
                    Strategy.AbortUpdate(obj, old);
                    throw ApiException.NotFound(Info, name);
                default:
                    Strategy.AbortUpdate(obj, old);
                    if (userPrecondition || attempt >= MaxUpdateRetries)
                    {
                        throw ApiException.Conflict(Info, name);
                    }
                    break;
            }
        }
    }

    // ---- server-side apply ----

    /// <summary>
    /// Records in obj's metadata.managedFields what this write changed relative to old (null on create), as an Update
    /// by the request's field manager. Applies computed theirs already; untracked writes keep what obj carries.
    /// </summary>
    private void TrackManagedFields(IKubernetesObject<V1ObjectMeta>? old, IKubernetesObject<V1ObjectMeta> obj, WriteOptions options, string? subresource)
    {
        if (options.Applied || options.FieldManager is not { } manager)
        {
            return;
        }
        var live = old is null ? null : System.Text.Json.Nodes.JsonNode.Parse(Encode(old))!.AsObject();
        var updated = System.Text.Json.Nodes.JsonNode.Parse(Encode(obj))!.AsObject();
        var managed = FieldManager.UpdateManagedFields(live, updated, manager, "Update", Info.GroupVersion, _time.GetUtcNow(), subresource);
        obj.Metadata.ManagedFields = managed.Count == 0
            ? null
            : KubeJson.Deserialize<List<V1ManagedFieldsEntry>>(System.Text.Encoding.UTF8.GetBytes(managed.ToJsonString()));
    }

    // ---- end server-side apply ----

    /// <summary>Upstream ResetObjectMetaForStatus: a status write cannot change these.</summary>
    private static void ResetMetadataForStatus(V1ObjectMeta meta, V1ObjectMeta old)
    {
        meta.Labels = old.Labels;
        meta.Annotations = old.Annotations;
        meta.Finalizers = old.Finalizers;
        meta.OwnerReferences = old.OwnerReferences;
        meta.GenerateName = old.GenerateName;
    }

    private static bool IsFinalized(IKubernetesObject<V1ObjectMeta> obj) =>
        (obj.Metadata.Finalizers is null || obj.Metadata.Finalizers.Count == 0)
        && (obj is not V1Namespace ns || ns.Spec?.Finalizers is null || ns.Spec.Finalizers.Count == 0);

    // ---- delete ----

    /// <summary>Deletes, or marks for deletion when finalizers or a grace period keep the object for now.</summary>
    public async Task<(WriteOutcome Outcome, bool Gone)> DeleteAsync(string? ns, string name, V1DeleteOptions? deleteOptions, WriteOptions options, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var live = await GetAsync(ns, name, ct).ConfigureAwait(false);
            var obj = Decode(live.Value.Span);
            var meta = obj.Metadata;
            var pre = deleteOptions?.Preconditions;
            if (pre?.Uid is { Length: > 0 } uid && uid != meta.Uid)
            {
                throw ApiException.Conflict(Info, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.Uid}");
            }
            if (pre?.ResourceVersion is { Length: > 0 } rv && rv != meta.ResourceVersion)
            {
                throw ApiException.Conflict(Info, name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {meta.ResourceVersion}");
            }

            var keep = false;
            if (obj is V1Namespace nsObj)
            {
                if (meta.DeletionTimestamp is not null)
                {
                    throw ApiException.Conflict(Info, name, "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.");
                }
                nsObj.Status ??= new V1NamespaceStatus();
                nsObj.Status.Phase = "Terminating";
                keep = nsObj.Spec?.Finalizers is { Count: > 0 } || meta.Finalizers is { Count: > 0 };
            }
            else
            {
                // Orphan and Foreground propagation are carried out by the garbage collector through these finalizers.
                var gcFinalizer = deleteOptions?.PropagationPolicy switch
                {
                    "Orphan" => "orphan",
                    "Foreground" => "foregroundDeletion",
                    _ => null,
                };
                if (gcFinalizer is not null && meta.DeletionTimestamp is null)
                {
                    meta.Finalizers ??= [];
                    if (!meta.Finalizers.Contains(gcFinalizer))
                    {
                        meta.Finalizers.Add(gcFinalizer);
                    }
                }
                keep = meta.Finalizers is { Count: > 0 };
            }

            long? grace = deleteOptions?.GracePeriodSeconds;
            if (obj is V1Pod pod && !string.IsNullOrEmpty(pod.Spec?.NodeName) && pod.Status?.Phase is not ("Succeeded" or "Failed"))
            {
                // Graceful pod deletion: the kubelet deletes the pod with grace 0 once its containers stopped.
                grace ??= pod.Spec.TerminationGracePeriodSeconds ?? 30;
                if (grace > 0)
                {
                    keep = true;
                }
            }

            if (keep)
            {
                if (meta.DeletionTimestamp is not null && (grace is null || grace >= (meta.DeletionGracePeriodSeconds ?? 0)))
                {
                    return (new WriteOutcome(live.Value, obj), false);
                }
                meta.DeletionTimestamp = Now().AddSeconds(grace ?? 0);
                meta.DeletionGracePeriodSeconds = grace ?? 0;
                if (options.DryRun)
                {
                    return (new WriteOutcome(Encode(obj), obj), false);
                }
                var marked = await _store.UpdateAsync(Info.Key(ns, name), live.ModRevision, r =>
                {
                    meta.ResourceVersion = r.ToString(CultureInfo.InvariantCulture);
                    return Encode(obj);
                }, ct).ConfigureAwait(false);
                if (marked.Status == StoreWriteStatus.Ok)
                {
                    // Marking for deletion is an update (upstream's watchers see MODIFIED): the kind's hook hears of it.
                    Strategy.AfterUpdate(obj, Decode(live.Value.Span));
                    return (new WriteOutcome(marked.Current!.Value, obj), false);
                }
                if (marked.Status == StoreWriteStatus.NotFound)
                {
                    throw ApiException.NotFound(Info, name);
                }
                if (attempt >= MaxUpdateRetries)
                {
                    throw ApiException.Conflict(Info, name);
                }
                continue;
            }

            if (options.DryRun)
            {
                return (new WriteOutcome(live.Value, obj), true);
            }
            var result = await _store.DeleteAsync(Info.Key(ns, name), live.ModRevision, r =>
            {
                meta.ResourceVersion = r.ToString(CultureInfo.InvariantCulture);
                return Encode(obj);
            }, ct).ConfigureAwait(false);
            switch (result.Status)
            {
                case StoreWriteStatus.Ok:
                    Strategy.AfterDelete(obj);
                    return (new WriteOutcome(Encode(obj), obj), true);
                case StoreWriteStatus.NotFound:
                    throw ApiException.NotFound(Info, name);
                default:
                    if (attempt >= MaxUpdateRetries)
                    {
                        throw ApiException.Conflict(Info, name);
                    }
                    break;
            }
        }
    }
}
