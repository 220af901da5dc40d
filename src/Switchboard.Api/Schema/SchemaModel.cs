using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Reflection;

namespace Switchboard.Api.Schema;

/// <summary>What a JSON value of a field is, as far as OpenAPI and field validation care.</summary>
internal enum ValueKind
{
    String,
    Integer,
    Number,
    Boolean,
    /// <summary>base64 string (byte[]).</summary>
    Bytes,
    Time,
    MicroTime,
    IntOrString,
    Quantity,
    /// <summary>managedFields[].fieldsV1: an opaque object.</summary>
    FieldsV1,
    /// <summary>Untyped (C# <c>object</c>): anything goes, nothing inside is checked.</summary>
    Any,
    Object,
    Array,
    Map,
}

/// <summary>The shape of one value: scalar kind, referenced object type, or list/map element.</summary>
internal sealed class ValueSchema
{
    public required ValueKind Kind { get; init; }
    /// <summary>int32 / int64 / double for numbers.</summary>
    public string? Format { get; init; }
    /// <summary>Set when <see cref="Kind"/> is <see cref="ValueKind.Object"/>.</summary>
    public TypeSchema? Object { get; init; }
    /// <summary>Set when <see cref="Kind"/> is <see cref="ValueKind.Array"/> or <see cref="ValueKind.Map"/>.</summary>
    public ValueSchema? Element { get; init; }
}

/// <summary>One JSON property of a model type.</summary>
internal sealed class FieldSchema
{
    public required string JsonName { get; init; }
    public required PropertyInfo Property { get; init; }
    public required ValueSchema Value { get; init; }
    public FieldPatchInfo? Patch { get; init; }
    /// <summary>Position in <see cref="TypeSchema.Fields"/>; the validator's duplicate bitset uses it.</summary>
    public required int Index { get; init; }
}

/// <summary>
/// One model type and its upstream component-schema name. Created empty first and completed once every reachable
/// type has a name, because the type graph has cycles (and fields must point at their target schema).
/// </summary>
internal sealed class TypeSchema(Type clrType, string name)
{
    private FrozenDictionary<string, FieldSchema> _byName = FrozenDictionary<string, FieldSchema>.Empty;

    public Type ClrType { get; } = clrType;
    public string Name { get; } = name;

    /// <summary>Fields sorted by JSON name (ordinal), as upstream prints them.</summary>
    public ImmutableArray<FieldSchema> Fields { get; private set; } = [];

    /// <summary>Span-keyed view of the fields so the validator can look names up without allocating.</summary>
    public FrozenDictionary<string, FieldSchema>.AlternateLookup<ReadOnlySpan<char>> FieldsBySpan { get; private set; }

    public FieldSchema? Find(string jsonName) => _byName.GetValueOrDefault(jsonName);

    public void Complete(ImmutableArray<FieldSchema> fields)
    {
        Fields = fields;
        _byName = fields.ToFrozenDictionary(f => f.JsonName, StringComparer.Ordinal);
        FieldsBySpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }
}
