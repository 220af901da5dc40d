using System.Reflection;
using System.Text.Json.Nodes;
using k8s.Models;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Apply;

/// <summary>
/// Server-side apply and field ownership for one kind (upstream k8s.io/apimachinery/pkg/util/managedfields over
/// sigs.k8s.io/structured-merge-diff): computes who owns which field in <c>metadata.managedFields</c> on every write,
/// and merges applied configurations with conflict detection. Objects are JSON trees of the kind's served version;
/// inputs are never changed. Pure and thread-safe: one instance per kind can serve every request.
/// </summary>
/// <remarks>
/// Ownership ignores <c>apiVersion</c>, <c>kind</c> and the system metadata (name, namespace, uid,
/// resourceVersion, generation, creationTimestamp, deletionTimestamp, selfLink, managedFields); when the kind has a
/// status subresource, writes to the main resource never own <c>status</c> and status writes own only
/// <c>status</c> (upstream's reset fields).
/// </remarks>
public sealed class FieldManager
{
    /// <summary>The Update manager that takes every field of an object applied to for the first time (upstream).</summary>
    public const string BeforeFirstApplyManager = "before-first-apply";

    /// <summary>The bucket the oldest Update entries are merged into beyond <see cref="MaxUpdateManagers"/>.</summary>
    public const string AncientChangesManager = "ancient-changes";

    public const int MaxUpdateManagers = 10;

    /// <summary>kubectl's client-side apply annotation, which kubectl's server-side apply upgrades from.</summary>
    public const string LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    /// <summary>The only manager whose applies honour and maintain <see cref="LastAppliedAnnotation"/> (upstream).</summary>
    private const string KubectlManager = "kubectl";

    private static readonly PathElement StatusField = PathElement.Field("status");

    private readonly Shape _root;
    private readonly bool _statusIsSubresource;
    private readonly FieldSet _systemFields;

    /// <param name="schemas">The server's schema catalogue.</param>
    /// <param name="modelType">The kind's model type, e.g. <c>typeof(V1Service)</c>.</param>
    /// <param name="statusIsSubresource">Whether the kind serves <c>/status</c> (upstream then resets status).</param>
    public FieldManager(SchemaCatalog schemas, Type modelType, bool statusIsSubresource)
    {
        ArgumentNullException.ThrowIfNull(schemas);
        ArgumentNullException.ThrowIfNull(modelType);
        var schema = schemas.Find(modelType) ?? throw new ArgumentException($"{modelType.Name} is not in the schema catalogue", nameof(modelType));
        _root = Shape.OfType(schema);
        Kind = modelType.GetCustomAttribute<KubernetesEntityAttribute>()?.Kind ?? modelType.Name;
        _statusIsSubresource = statusIsSubresource;

        // Upstream's stripMetaManager set, plus deletionTimestamp which only the server sets.
        _systemFields = new FieldSet();
        var metadata = PathElement.Field("metadata");
        _systemFields.Insert([PathElement.Field("apiVersion")]);
        _systemFields.Insert([PathElement.Field("kind")]);
        _systemFields.Insert([metadata]);
        foreach (var field in new[] { "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields", "resourceVersion", "deletionTimestamp" })
        {
            _systemFields.Insert([metadata, PathElement.Field(field)]);
        }
    }

    public string Kind { get; }

    /// <summary>
    /// The FieldsV1 an apply of <paramref name="obj"/> would own: every leaf and item of it except the ignored
    /// fields, encoded exactly as upstream (<c>f:</c>, <c>k:</c>, <c>v:</c>, <c>.</c>).
    /// </summary>
    public JsonObject FieldsV1Of(JsonObject obj, string? subresource = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return Owned(Structured.ToFieldSet(obj, _root, strict: false), subresource).ToFieldsV1();
    }

    /// <summary>
    /// managedFields after a non-apply write (create, update, JSON/merge/strategic patch, subresource writes) from
    /// <paramref name="live"/> (null on create) to <paramref name="updated"/>: the fields that changed now belong to
    /// <paramref name="manager"/>'s Update entry and to nobody else, removed fields to nobody; never a conflict.
    /// The starting ownership is <paramref name="updated"/>'s managedFields when it carries any (a client may edit
    /// them; <c>[{}]</c> clears them), else <paramref name="live"/>'s; subresource writes always start from live.
    /// </summary>
    /// <returns>The new managedFields; empty when nothing is owned (or, as upstream, when ownership cannot be computed).</returns>
    public JsonArray UpdateManagedFields(JsonObject? live, JsonObject updated, string manager, string operation, string apiVersion, DateTimeOffset now, string? subresource = null)
    {
        ArgumentNullException.ThrowIfNull(updated);
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(apiVersion);
        if (operation != ManagedFields.UpdateOperation)
        {
            throw new ArgumentException("non-apply writes are recorded as operation Update", nameof(operation));
        }
        try
        {
            var managers = StartingOwnership(live, updated, subresource);
            Update(managers, live, updated, ManagerName(manager), apiVersion, now, subresource);
            return ManagedFields.Encode(managers.Values);
        }
        catch (StructuredValueException)
        {
            // Upstream's UpdateNoErrors: an object ownership cannot be computed for loses its managedFields.
            return [];
        }
    }

    /// <summary>Upstream's checks of an apply body before anything else: apiVersion and kind, no managedFields.</summary>
    /// <exception cref="ApplyRequestException">The body is refused (400).</exception>
    public void ValidateApplyRequest(JsonObject applied, string apiVersion)
    {
        ArgumentNullException.ThrowIfNull(applied);
        var appliedVersion = StringAt(applied, "apiVersion") ?? "";
        var appliedKind = StringAt(applied, "kind") ?? "";
        if (appliedVersion != apiVersion || appliedKind != Kind)
        {
            throw new ApplyRequestException($"invalid object type: {GroupVersionKind(appliedVersion, appliedKind)}");
        }
        if (applied["metadata"] is JsonObject meta && meta.TryGetPropertyValue("managedFields", out var managedFields) && managedFields is not null)
        {
            throw new ApplyRequestException("metadata.managedFields must be nil");
        }
    }

    /// <summary>
    /// Server-side apply of <paramref name="applied"/> by <paramref name="manager"/> to <paramref name="live"/>
    /// (null when the object does not exist yet): the configuration merged in per the schema, the fields this manager
    /// applied last time but not now removed unless another manager owns them, and managedFields updated with this
    /// manager's Apply entry owning exactly the applied fields.
    /// </summary>
    /// <returns>The new object, <c>metadata.managedFields</c> included.</returns>
    /// <exception cref="ApplyConflictException">Applied values differ from live ones other managers own and <paramref name="force"/> is false.</exception>
    /// <exception cref="ApplyRequestException">The body is refused.</exception>
    public JsonObject Apply(JsonObject? live, JsonObject applied, string manager, bool force, string apiVersion, DateTimeOffset now, string? subresource = null)
    {
        ArgumentNullException.ThrowIfNull(applied);
        ArgumentNullException.ThrowIfNull(manager);
        ValidateApplyRequest(applied, apiVersion);
        Dictionary<string, ManagerEntry> managers;
        try
        {
            managers = ManagedFields.Decode(live?["metadata"]?["managedFields"]);
        }
        catch (FormatException e)
        {
            throw new ApplyRequestException(500, "", "failed to decode managed fields: " + e.Message);
        }
        FieldSet appliedSet;
        try
        {
            // Not stripped of system metadata yet: while pruning, the applied name is what keeps metadata alive.
            appliedSet = Owned(Structured.ToFieldSet(applied, _root, strict: true), subresource, strip: false);
        }
        catch (StructuredValueException e)
        {
            var ns = StringAt(applied["metadata"] as JsonObject, "namespace") ?? "";
            var name = StringAt(applied["metadata"] as JsonObject, "name") ?? "";
            throw new ApplyRequestException(500, "", $"failed to create typed patch object ({ns}/{name}; {GroupVersionKind(apiVersion, Kind)}): {e.Message}");
        }

        if (managers.Count == 0 && live is not null)
        {
            // An object nobody owns yet (created before field management, or its managedFields cleared) is first
            // attributed whole to one Update manager, so applying a different value conflicts instead of overwriting.
            Update(managers, null, live, BeforeFirstApplyManager, apiVersion, now, subresource);
        }

        manager = ManagerName(manager);
        var outcome = ApplyCore(managers, live, applied, appliedSet, manager, force, apiVersion, now, subresource);
        if (outcome.Conflicts.Count > 0 && manager == KubectlManager && live is not null && AllowedByLastApplied(live, apiVersion) is { } allowed)
        {
            // kubectl's upgrade from client-side apply: conflicts on fields still as the annotation last applied
            // them are the same user's, so they are forced; any other conflict stands.
            var remaining = outcome.Conflicts.Where(c => !allowed.Has(c.Path)).ToList();
            outcome = remaining.Count == 0
                ? ApplyCore(managers, live, applied, appliedSet, manager, force: true, apiVersion, now, subresource)
                : outcome with { Conflicts = remaining };
        }
        if (outcome.Conflicts.Count > 0)
        {
            throw new ApplyConflictException([.. outcome.Conflicts
                .OrderBy(c => c.Owner.Identity, StringComparer.Ordinal)
                .Select(c => new ApplyConflict(c.Owner.Manager, c.Owner.Operation, c.Owner.ApiVersion, c.Owner.Subresource,
                    PathElement.PathToString(c.Path), "conflict with " + ManagedFields.Describe(c.Owner)))]);
        }

        var result = outcome.Result!;
        if (manager == KubectlManager && StringAt(result["metadata"]?["annotations"] as JsonObject, LastAppliedAnnotation) is not null)
        {
            // Keeps client-side apply working after a server-side one (upstream lastAppliedUpdater).
            result["metadata"]!["annotations"]![LastAppliedAnnotation] = BuildLastApplied(applied);
        }
        SetManagedFields(result, ManagedFields.Encode(outcome.Managers!.Values));
        return result;
    }

    private sealed record ApplyOutcome(JsonObject? Result, Dictionary<string, ManagerEntry>? Managers, List<(ManagerEntry Owner, PathElement[] Path)> Conflicts);

    /// <summary>Upstream merge.Updater.Apply: merge, prune, then take ownership and find conflicts.</summary>
    private ApplyOutcome ApplyCore(Dictionary<string, ManagerEntry> current, JsonObject? live, JsonObject applied, FieldSet appliedSet,
        string manager, bool force, string apiVersion, DateTimeOffset now, string? subresource)
    {
        var managers = current.ToDictionary(p => p.Key, p => p.Value.With(p.Value.Set), StringComparer.Ordinal);
        var merged = Structured.Merge(live, applied, _root);

        var key = ManagedFields.Identity(manager, ManagedFields.ApplyOperation, apiVersion, subresource);
        managers.TryGetValue(key, out var last);
        var entry = new ManagerEntry
        {
            Manager = manager,
            Operation = ManagedFields.ApplyOperation,
            ApiVersion = apiVersion,
            Subresource = subresource,
            Time = last?.Time,
            Set = appliedSet,
        };
        managers[key] = entry;

        var result = merged;
        if (last is { Set.IsEmpty: false })
        {
            // Fields applied last time and not now go, unless some manager (this one included) still owns them.
            var owned = new FieldSet();
            foreach (var e in managers.Values)
            {
                owned = owned.Union(e.Set);
            }
            var toRemove = Structured.EnsureNamedFieldsAreMembers(last.Set, _root)
                .Difference(Structured.EnsureNamedFieldsAreMembers(owned, _root));
            if (!toRemove.IsEmpty)
            {
                result = Structured.RemoveItems(merged, toRemove, _root);
            }
        }

        var comparison = Structured.Compare(live, result, _root, goZeroValues: true);
        var changed = Owned(comparison.Added.Union(comparison.Modified), subresource, strip: false);
        var removed = Owned(comparison.Removed, subresource, strip: false);
        var conflicts = new List<(ManagerEntry, PathElement[])>();
        foreach (var (k, e) in managers)
        {
            if (k != key)
            {
                conflicts.AddRange(e.Set.Intersection(changed).Paths().Select(p => (e, p)));
            }
        }
        if (conflicts.Count > 0 && !force)
        {
            return new ApplyOutcome(null, null, conflicts);
        }
        entry.Set = appliedSet.Difference(_systemFields);
        foreach (var (k, e) in managers.ToList())
        {
            if (k != key)
            {
                e.Set = e.Set.Difference(changed).Difference(removed);
            }
            if (e.Set.IsEmpty)
            {
                managers.Remove(k);
            }
        }
        if (entry.Time is null || !JsonValues.DeepEquals(live ?? [], result))
        {
            entry.Time = now;
        }
        return new ApplyOutcome(result, managers, []);
    }

    /// <summary>
    /// Upstream Updater.Update as the managedFieldsUpdater drives it: what changed from <paramref name="live"/> to
    /// <paramref name="updated"/> leaves every entry and joins <paramref name="manager"/>'s Update entry (stamped
    /// <paramref name="now"/>); what was removed leaves every entry.
    /// </summary>
    private void Update(Dictionary<string, ManagerEntry> managers, JsonObject? live, JsonObject updated, string manager, string apiVersion, DateTimeOffset now, string? subresource)
    {
        var comparison = Structured.Compare(live, updated, _root, goZeroValues: true);
        var changed = Owned(comparison.Added.Union(comparison.Modified), subresource, strip: false);
        var removed = Owned(comparison.Removed, subresource, strip: false);
        foreach (var (k, e) in managers.ToList())
        {
            e.Set = e.Set.Difference(changed).Difference(removed);
            if (e.Set.IsEmpty)
            {
                managers.Remove(k);
            }
        }
        var taken = changed.Difference(_systemFields);
        if (taken.IsEmpty)
        {
            return;
        }
        var key = ManagedFields.Identity(manager, ManagedFields.UpdateOperation, apiVersion, subresource);
        if (managers.TryGetValue(key, out var previous))
        {
            previous.Set = previous.Set.Union(taken);
            previous.Time = now;
        }
        else
        {
            managers[key] = new ManagerEntry
            {
                Manager = manager,
                Operation = ManagedFields.UpdateOperation,
                ApiVersion = apiVersion,
                Subresource = subresource,
                Time = now,
                Set = taken,
            };
        }
        CapUpdateManagers(managers, now);
    }

    /// <summary>
    /// Upstream capManagersManager: beyond <see cref="MaxUpdateManagers"/> Update entries the oldest are merged into
    /// one <see cref="AncientChangesManager"/> entry, so objects written by many clients keep bounded metadata.
    /// </summary>
    private static void CapUpdateManagers(Dictionary<string, ManagerEntry> managers, DateTimeOffset now)
    {
        var updaters = managers.Values.Where(e => !e.IsApply)
            .OrderBy(e => e.Time?.ToUnixTimeSeconds() ?? 0)
            .ThenBy(e => e.Identity, StringComparer.Ordinal)
            .ToList();
        if (updaters.Count <= MaxUpdateManagers)
        {
            return;
        }
        var merged = updaters.Take(updaters.Count - MaxUpdateManagers + 1).ToList();
        var set = new FieldSet();
        foreach (var e in merged)
        {
            set = set.Union(e.Set);
            managers.Remove(e.Identity);
        }
        var newest = merged[^1];
        var bucket = new ManagerEntry
        {
            Manager = AncientChangesManager,
            Operation = ManagedFields.UpdateOperation,
            ApiVersion = newest.ApiVersion,
            Time = newest.Time ?? now,
            Set = set,
        };
        if (managers.TryGetValue(bucket.Identity, out var existing))
        {
            existing.Set = existing.Set.Union(set);
        }
        else
        {
            managers[bucket.Identity] = bucket;
        }
    }

    /// <summary>Upstream decodeLiveOrNew.</summary>
    private static Dictionary<string, ManagerEntry> StartingOwnership(JsonObject? live, JsonObject updated, string? subresource)
    {
        if (subresource is null)
        {
            var requested = updated["metadata"]?["managedFields"];
            if (ManagedFields.IsReset(requested))
            {
                return new(StringComparer.Ordinal);
            }
            try
            {
                var fromRequest = ManagedFields.Decode(requested);
                if (fromRequest.Count > 0)
                {
                    return fromRequest;
                }
            }
            catch (FormatException)
            {
                // A client's malformed managedFields are ignored in favour of the live ones, as upstream.
            }
        }
        try
        {
            return ManagedFields.Decode(live?["metadata"]?["managedFields"]);
        }
        catch (FormatException)
        {
            return new(StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// The fields kubectl's last-applied annotation still describes: applied then and unchanged since, so conflicts
    /// on them come from the same user's client-side applies (upstream lastAppliedManager). Null when unusable.
    /// </summary>
    private FieldSet? AllowedByLastApplied(JsonObject live, string apiVersion)
    {
        if (StringAt(live["metadata"]?["annotations"] as JsonObject, LastAppliedAnnotation) is not { Length: > 0 } text)
        {
            return null;
        }
        try
        {
            if (JsonNode.Parse(text) is not JsonObject lastApplied || StringAt(lastApplied, "apiVersion") != apiVersion)
            {
                return null;
            }
            var set = Structured.ToFieldSet(lastApplied, _root, strict: true);
            var comparison = Structured.Compare(lastApplied, live, _root, goZeroValues: false);
            return set.Difference(comparison.Modified).Difference(comparison.Added).Difference(comparison.Removed);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or StructuredValueException)
        {
            return null;
        }
    }

    /// <summary>The annotation value kubectl would write for <paramref name="applied"/>: sorted compact JSON and a newline.</summary>
    private static string BuildLastApplied(JsonObject applied)
    {
        var copy = (JsonObject)applied.DeepClone();
        (copy["metadata"]?["annotations"] as JsonObject)?.Remove(LastAppliedAnnotation);
        return JsonValues.ToCanonicalJson(copy) + "\n";
    }

    /// <summary>What a manager may own: the reset fields of the request's subresource out, system metadata out.</summary>
    private FieldSet Owned(FieldSet set, string? subresource, bool strip = true)
    {
        if (subresource == "status")
        {
            set = set.Only(StatusField);
        }
        else if (_statusIsSubresource)
        {
            set = set.Without(StatusField);
        }
        return strip ? set.Difference(_systemFields) : set;
    }

    private static void SetManagedFields(JsonObject obj, JsonArray managedFields)
    {
        if (obj["metadata"] is not JsonObject meta)
        {
            if (managedFields.Count == 0)
            {
                return;
            }
            obj["metadata"] = meta = [];
        }
        if (managedFields.Count == 0)
        {
            meta.Remove("managedFields");
        }
        else
        {
            meta["managedFields"] = managedFields;
        }
    }

    /// <summary>Upstream names a manager that gave no name "unknown".</summary>
    private static string ManagerName(string manager) => manager.Length == 0 ? "unknown" : manager;

    private static string? StringAt(JsonObject? obj, string name) =>
        obj is not null && obj.TryGetPropertyValue(name, out var v) && v is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    /// <summary>Go's GroupVersionKind.String(): <c>apps/v1, Kind=Deployment</c>, <c>/v1, Kind=Service</c>.</summary>
    private static string GroupVersionKind(string apiVersion, string kind)
    {
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var (group, version) = slash < 0 ? ("", apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        return $"{group}/{version}, Kind={kind}";
    }
}
