using System.Globalization;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Apply;

/// <summary>One <c>metadata.managedFields</c> entry: who, how, in which version, when, and the fields it owns.</summary>
internal sealed class ManagerEntry
{
    public required string Manager { get; init; }

    /// <summary><c>Apply</c> or <c>Update</c>.</summary>
    public required string Operation { get; init; }

    public required string ApiVersion { get; init; }

    public string? Subresource { get; init; }

    public DateTimeOffset? Time { get; set; }

    public required FieldSet Set { get; set; }

    public bool IsApply => Operation == ManagedFields.ApplyOperation;

    /// <summary>Upstream's manager identifier: the entry without fields and time, and without apiVersion for appliers.</summary>
    public string Identity => ManagedFields.Identity(Manager, Operation, ApiVersion, Subresource);

    public ManagerEntry With(FieldSet set) => new()
    {
        Manager = Manager,
        Operation = Operation,
        ApiVersion = ApiVersion,
        Subresource = Subresource,
        Time = Time,
        Set = set,
    };
}

/// <summary>
/// Reading and writing <c>metadata.managedFields</c> as upstream's managedfields package does: entries keyed by
/// manager identifier (manager, operation, subresource, and apiVersion for updates), FieldsV1 only, written sorted by
/// operation, time, manager, apiVersion and subresource.
/// </summary>
internal static class ManagedFields
{
    public const string ApplyOperation = "Apply";
    public const string UpdateOperation = "Update";
    public const string FieldsType = "FieldsV1";

    public static string Identity(string manager, string operation, string apiVersion, string? subresource)
    {
        // Same members and order as upstream's JSON-encoded ManagedFieldsEntry, so sorting identifiers sorts alike.
        var obj = new JsonObject { ["manager"] = manager, ["operation"] = operation };
        if (operation != ApplyOperation)
        {
            obj["apiVersion"] = apiVersion;
        }
        if (!string.IsNullOrEmpty(subresource))
        {
            obj["subresource"] = subresource;
        }
        return obj.ToJsonString();
    }

    /// <summary>
    /// The request's way of clearing managedFields: exactly one entry, and that entry empty (upstream
    /// isResetManagedFields). An empty list does not reset, so clients unaware of the field cannot drop it.
    /// </summary>
    public static bool IsReset(JsonNode? managedFields) =>
        managedFields is JsonArray { Count: 1 } list && list[0] is JsonObject { Count: 0 };

    /// <summary>Decodes entries; throws <see cref="FormatException"/> as upstream's DecodeManagedFields errs.</summary>
    public static Dictionary<string, ManagerEntry> Decode(JsonNode? managedFields)
    {
        var result = new Dictionary<string, ManagerEntry>(StringComparer.Ordinal);
        if (managedFields is null)
        {
            return result;
        }
        if (managedFields is not JsonArray list)
        {
            throw new FormatException("managedFields must be a list");
        }
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is not JsonObject e)
            {
                throw new FormatException($"managed fields entry {i} must be an object");
            }
            var operation = Str(e, "operation");
            if (operation is not (ApplyOperation or UpdateOperation))
            {
                throw new FormatException("operation must be `Apply` or `Update`");
            }
            var apiVersion = Str(e, "apiVersion");
            if (string.IsNullOrEmpty(apiVersion))
            {
                throw new FormatException("apiVersion must not be empty");
            }
            switch (Str(e, "fieldsType"))
            {
                case FieldsType:
                    break;
                case null or "":
                    throw new FormatException($"missing fieldsType in managed fields entry {i}");
                case var other:
                    throw new FormatException($"invalid fieldsType \"{other}\" in managed fields entry {i}");
            }
            DateTimeOffset? time = null;
            if (Str(e, "time") is { Length: > 0 } t)
            {
                time = DateTimeOffset.Parse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            }
            var entry = new ManagerEntry
            {
                Manager = Str(e, "manager") ?? "",
                Operation = operation,
                ApiVersion = apiVersion,
                Subresource = Str(e, "subresource") is { Length: > 0 } s ? s : null,
                Time = time,
                Set = FieldSet.FromFieldsV1(e["fieldsV1"]),
            };
            // A repeated identifier replaces the earlier entry, as upstream's decoding does.
            result[entry.Identity] = entry;
        }
        return result;
    }

    private static string? Str(JsonObject obj, string name) =>
        obj.TryGetPropertyValue(name, out var v) && v is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    /// <summary>Entries with a non-empty field set, in upstream's order.</summary>
    public static JsonArray Encode(IEnumerable<ManagerEntry> entries)
    {
        var sorted = entries
            .Where(e => !e.Set.IsEmpty)
            .OrderBy(e => e.Operation, StringComparer.Ordinal)
            .ThenBy(e => e.Time?.ToUnixTimeSeconds() ?? 0)
            .ThenBy(e => e.Manager, StringComparer.Ordinal)
            .ThenBy(e => e.ApiVersion, StringComparer.Ordinal)
            .ThenBy(e => e.Subresource ?? "", StringComparer.Ordinal);
        var array = new JsonArray();
        foreach (var e in sorted)
        {
            var obj = new JsonObject
            {
                ["manager"] = e.Manager,
                ["operation"] = e.Operation,
                ["apiVersion"] = e.ApiVersion,
            };
            if (e.Time is { } time)
            {
                obj["time"] = FormatTime(time);
            }
            obj["fieldsType"] = FieldsType;
            obj["fieldsV1"] = e.Set.ToFieldsV1();
            if (!string.IsNullOrEmpty(e.Subresource))
            {
                obj["subresource"] = e.Subresource;
            }
            array.Add(obj);
        }
        return array;
    }

    /// <summary>RFC 3339 in UTC with whole seconds, as metav1.Time encodes.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// How conflict messages name a manager (upstream printManager): the quoted name, the subresource if any, and
    /// for updaters the API version they wrote (<c>"kube-controller-manager" using v1</c>).
    /// </summary>
    public static string Describe(ManagerEntry e)
    {
        var text = "\"" + e.Manager.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        if (!string.IsNullOrEmpty(e.Subresource))
        {
            text += " with subresource \"" + e.Subresource + "\"";
        }
        return e.IsApply ? text : text + " using " + e.ApiVersion;
    }
}
