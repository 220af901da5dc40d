using System.Collections.Frozen;

namespace Switchboard.ApiServer.Protobuf;

/// <summary>What a field holds on the wire; for maps, what the value holds (keys are always strings).</summary>
internal enum ProtoKind
{
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Message,
}

internal enum ProtoShape
{
    Single,
    /// <summary>A JSON array; varint kinds are accepted packed or unpacked, as Go's decoder does.</summary>
    Repeated,
    /// <summary><c>map&lt;string, V&gt;</c>: repeated entries {1: key, 2: value}, a JSON object.</summary>
    Map,
}

/// <summary>How a message appears in JSON. Most are objects; a few apimachinery types have their own JSON form.</summary>
internal enum ProtoRendering
{
    Object,
    /// <summary>metav1.Time {seconds, nanos}: an RFC 3339 string in UTC, whole seconds; the zero time is omitted.</summary>
    Time,
    /// <summary>resource.Quantity {string}: the quantity string.</summary>
    Quantity,
    /// <summary>intstr.IntOrString {type, intVal, strVal}: a number or a string.</summary>
    IntOrString,
    /// <summary>metav1.FieldsV1 {Raw}: Raw is itself JSON and is embedded as is.</summary>
    RawJson,
}

/// <summary>
/// One field: its number, its JSON name, what it holds and how. <paramref name="Presence"/> marks fields that are
/// pointers in the Go types (<c>*int32</c>, <c>*bool</c>, ...): Go's encoder writes them only when set, so a zero
/// value on the wire is meaningful (replicas: 0) and is kept. Other scalars are always on the wire, and a zero value
/// there means "unset", so it is omitted, as Go's JSON encoder does with <c>omitempty</c>. <paramref name="Inline"/>
/// marks Go's embedded structs (<c>json:",inline"</c>), whose fields appear in the parent JSON object.
/// </summary>
internal sealed record ProtoField(
    int Number,
    string JsonName,
    ProtoKind Kind,
    ProtoShape Shape = ProtoShape.Single,
    string? MessageType = null,
    bool Presence = false,
    bool Inline = false);

/// <summary>One message: its fields by number, and how it is rendered.</summary>
internal sealed class ProtoMessage
{
    public ProtoMessage(string name, ProtoRendering rendering, IEnumerable<ProtoField> fields)
    {
        Name = name;
        Rendering = rendering;
        Fields = fields.ToFrozenDictionary(f => f.Number);
    }

    public string Name { get; }

    public ProtoRendering Rendering { get; }

    public FrozenDictionary<int, ProtoField> Fields { get; }

    public ProtoField? Find(int number) => Fields.GetValueOrDefault(number);
}
