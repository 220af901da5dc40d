using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using k8s.Models;

namespace Switchboard.Api.Schema;

/// <summary>Writing component schemas in upstream's OpenAPI v3 shape (keys sorted, refs wrapped in allOf).</summary>
public sealed partial class SchemaCatalog
{
    private const string RefPrefix = "#/components/schemas/";

    /// <summary>Schemas with no model class behind them: (type, format, description).</summary>
    private static readonly FrozenDictionary<string, (string Type, string? Format, string Description)> SpecialSchemas =
        new Dictionary<string, (string, string?, string)>(StringComparer.Ordinal)
        {
            [SchemaNaming.IntOrString] = ("string", "int-or-string",
                "IntOrString holds either an int32 or a string; as JSON it is a number or a string."),
            [SchemaNaming.Quantity] = ("string", null,
                "Quantity is a fixed-point number with an optional SI or binary suffix, e.g. \"100m\", \"1Gi\", \"2\"."),
            [SchemaNaming.Time] = ("string", "date-time",
                "Time is an RFC 3339 timestamp with second precision, in UTC."),
            [SchemaNaming.MicroTime] = ("string", "date-time",
                "MicroTime is an RFC 3339 timestamp with microsecond precision, in UTC."),
            [SchemaNaming.FieldsV1] = ("object", null,
                "FieldsV1 is the JSON set of fields a manager owns, in the fieldsV1 trie format of server-side apply."),
            [SchemaNaming.Patch] = ("object", null,
                "Patch is the body of a PATCH request; its format depends on the request's Content-Type."),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// Names of every schema reachable from <paramref name="roots"/> (the types themselves included), plus Status,
    /// DeleteOptions and Patch which every group-version document's operations refer to. Sorted ordinally.
    /// </summary>
    internal SortedSet<string> Closure(IEnumerable<Type> roots)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal) { SchemaNaming.Patch };
        var pending = new Stack<TypeSchema>();
        foreach (var root in roots.Append(typeof(V1Status)).Append(typeof(V1DeleteOptions)))
        {
            if (_byType.TryGetValue(root, out var schema))
            {
                pending.Push(schema);
            }
        }
        while (pending.TryPop(out var schema))
        {
            if (!names.Add(schema.Name))
            {
                continue;
            }
            foreach (var field in schema.Fields)
            {
                for (var value = field.Value; value is not null; value = value.Element)
                {
                    if (value.Object is { } target)
                    {
                        pending.Push(target);
                    }
                    else if (SpecialName(value.Kind) is { } special)
                    {
                        names.Add(special);
                    }
                }
            }
        }
        return names;
    }

    /// <summary>Writes <c>"name": { ...schema... }</c> into the currently open components.schemas object.</summary>
    internal void WriteSchema(Utf8JsonWriter writer, string name)
    {
        if (SpecialSchemas.TryGetValue(name, out var special))
        {
            writer.WriteStartObject(name);
            writer.WriteString("description"u8, special.Description);
            if (special.Format is not null)
            {
                writer.WriteString("format"u8, special.Format);
            }
            writer.WriteString("type"u8, special.Type);
            writer.WriteEndObject();
            return;
        }
        if (!_byName.TryGetValue(name, out var schema))
        {
            throw new ArgumentException($"unknown schema {name}", nameof(name));
        }

        writer.WriteStartObject(name);
        WriteDescription(writer, _descriptions.ForType(schema.ClrType));
        writer.WriteStartObject("properties"u8);
        foreach (var field in schema.Fields)
        {
            writer.WriteStartObject(field.JsonName);
            WriteValue(writer, field.Value, _descriptions.ForProperty(field.Property), field.Patch);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteString("type"u8, "object"u8);
        if (schema.ClrType.GetCustomAttribute<KubernetesEntityAttribute>() is { } entity)
        {
            writer.WriteStartArray("x-kubernetes-group-version-kind"u8);
            WriteGroupVersionKind(writer, entity.Group ?? "", entity.ApiVersion, entity.Kind);
            writer.WriteEndArray();
        }
        if (PatchStrategies.IsAtomicStruct(schema.ClrType))
        {
            writer.WriteString("x-kubernetes-map-type"u8, "atomic"u8);
        }
        writer.WriteEndObject();
    }

    internal static void WriteGroupVersionKind(Utf8JsonWriter writer, string group, string version, string kind)
    {
        writer.WriteStartObject();
        writer.WriteString("group"u8, group);
        writer.WriteString("kind"u8, kind);
        writer.WriteString("version"u8, version);
        writer.WriteEndObject();
    }

    private static string? SpecialName(ValueKind kind) => kind switch
    {
        ValueKind.IntOrString => SchemaNaming.IntOrString,
        ValueKind.Quantity => SchemaNaming.Quantity,
        ValueKind.Time => SchemaNaming.Time,
        ValueKind.MicroTime => SchemaNaming.MicroTime,
        ValueKind.FieldsV1 => SchemaNaming.FieldsV1,
        _ => null,
    };

    private static void WriteDescription(Utf8JsonWriter writer, string? description)
    {
        if (!string.IsNullOrEmpty(description))
        {
            writer.WriteString("description"u8, description);
        }
    }

    /// <summary>Members of one property (or list item / map value) schema, keys in sorted order as upstream.</summary>
    private static void WriteValue(Utf8JsonWriter writer, ValueSchema value, string? description, FieldPatchInfo? patch)
    {
        var target = value.Object?.Name ?? SpecialName(value.Kind);
        switch (value.Kind)
        {
            case ValueKind.Map:
                writer.WriteStartObject("additionalProperties"u8);
                WriteMapValue(writer, value.Element!);
                writer.WriteEndObject();
                WriteDescription(writer, description);
                writer.WriteString("type"u8, "object"u8);
                break;
            case ValueKind.Array:
                WriteDescription(writer, description);
                writer.WriteStartObject("items"u8);
                WriteValue(writer, value.Element!, null, null);
                writer.WriteEndObject();
                writer.WriteString("type"u8, "array"u8);
                break;
            case ValueKind.Any:
                WriteDescription(writer, description);
                writer.WriteString("type"u8, "object"u8);
                break;
            case var _ when target is not null:
                // Upstream v3 wraps a $ref in allOf so the property can carry its own description.
                writer.WriteStartArray("allOf"u8);
                writer.WriteStartObject();
                writer.WriteString("$ref"u8, RefPrefix + target);
                writer.WriteEndObject();
                writer.WriteEndArray();
                WriteDescription(writer, description);
                break;
            default:
                WriteDescription(writer, description);
                WriteScalarType(writer, value);
                break;
        }

        if (patch is not null)
        {
            if (!patch.ListMapKeys.IsDefaultOrEmpty)
            {
                writer.WriteStartArray("x-kubernetes-list-map-keys"u8);
                foreach (var key in patch.ListMapKeys)
                {
                    writer.WriteStringValue(key);
                }
                writer.WriteEndArray();
            }
            WriteOptional(writer, "x-kubernetes-list-type"u8, patch.ListType);
            WriteOptional(writer, "x-kubernetes-map-type"u8, patch.MapType);
            WriteOptional(writer, "x-kubernetes-patch-merge-key"u8, patch.PatchMergeKey);
            WriteOptional(writer, "x-kubernetes-patch-strategy"u8, patch.PatchStrategy);
        }
        if (value.Kind == ValueKind.Any)
        {
            writer.WriteBoolean("x-kubernetes-preserve-unknown-fields"u8, true);
        }
    }

    /// <summary>additionalProperties: a plain $ref for object values (as upstream), inline schema otherwise.</summary>
    private static void WriteMapValue(Utf8JsonWriter writer, ValueSchema element)
    {
        var target = element.Object?.Name ?? SpecialName(element.Kind);
        if (target is not null)
        {
            writer.WriteString("$ref"u8, RefPrefix + target);
            return;
        }
        WriteValue(writer, element, null, null);
    }

    private static void WriteScalarType(Utf8JsonWriter writer, ValueSchema value)
    {
        switch (value.Kind)
        {
            case ValueKind.Bytes:
                writer.WriteString("format"u8, "byte"u8);
                writer.WriteString("type"u8, "string"u8);
                break;
            case ValueKind.Integer:
            case ValueKind.Number:
                if (value.Format is not null)
                {
                    writer.WriteString("format"u8, value.Format);
                }
                writer.WriteString("type"u8, value.Kind == ValueKind.Integer ? "integer"u8 : "number"u8);
                break;
            case ValueKind.Boolean:
                writer.WriteString("type"u8, "boolean"u8);
                break;
            default:
                writer.WriteString("type"u8, "string"u8);
                break;
        }
    }

    private static void WriteOptional(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
