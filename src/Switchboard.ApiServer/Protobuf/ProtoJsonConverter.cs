using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Protobuf;

/// <summary>
/// Turns one protobuf message into the JSON that Go's encoder would write for the same Go value, driven only by
/// <see cref="KubeProtoSchema"/>. Proto semantics are kept: the last occurrence of a scalar wins, occurrences of a
/// message field merge, repeated fields append (in wire order, even when interleaved) and map entries replace by key.
/// Unknown fields are skipped. One instance decodes one body; it is not shared.
/// </summary>
internal sealed class ProtoJsonConverter(KubeProtoSchema schema)
{
    /// <summary>Kubernetes objects nest about a dozen messages deep; anything past this is hostile.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Cap on JSON values produced. A 3 MiB body of two-byte empty messages would otherwise become ~1.5 million JSON
    /// nodes (hundreds of MB); real objects stay far below this.
    /// </summary>
    public const int MaxValues = 1 << 18;

    private readonly List<(string Name, int Index)> _path = [];
    private int _values;

    /// <summary>Where the decoder was when it failed, as a JSON path (spec.template.spec.containers[0].ports[1]).</summary>
    public string Path
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var (name, index) in _path)
            {
                if (index >= 0)
                {
                    sb.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
                }
                else
                {
                    sb.Append(sb.Length == 0 ? "" : ".").Append(name);
                }
            }
            return sb.ToString();
        }
    }

    /// <summary>Decodes <paramref name="data"/> as <paramref name="message"/> into <paramref name="target"/>.</summary>
    public void DecodeInto(ReadOnlySpan<byte> data, ProtoMessage message, JsonObject target, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ProtoFormatException($"messages nested deeper than {MaxDepth}");
        }
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out var number, out var wireType))
        {
            var field = message.Find(number);
            if (field is null)
            {
                reader.Skip(number, wireType, MaxDepth - depth);
                continue;
            }
            // Embedded structs add no level to the JSON path, as their fields sit in the parent object.
            if (!field.Inline)
            {
                _path.Add((field.JsonName, -1));
            }
            switch (field.Shape)
            {
                case ProtoShape.Single:
                    ReadSingle(ref reader, wireType, field, target, depth);
                    break;
                case ProtoShape.Repeated:
                    ReadRepeated(ref reader, wireType, field, target, depth);
                    break;
                default:
                    ReadMapEntry(ref reader, wireType, field, target, depth);
                    break;
            }
            if (!field.Inline)
            {
                _path.RemoveAt(_path.Count - 1);
            }
        }
    }

    private void ReadSingle(ref ProtoReader reader, WireType wireType, ProtoField field, JsonObject target, int depth)
    {
        if (field.Kind != ProtoKind.Message)
        {
            var (value, zero) = ReadScalar(ref reader, wireType, field);
            Set(target, field, zero && !field.Presence ? null : value);
            return;
        }
        Expect(wireType, WireType.LengthDelimited, field);
        var payload = reader.ReadLengthDelimited();
        var type = schema.Message(field.MessageType!);
        if (type.Rendering != ProtoRendering.Object)
        {
            var (value, zero) = Render(payload, type, depth + 1);
            Set(target, field, zero && !field.Presence ? null : value);
        }
        else if (field.Inline)
        {
            DecodeInto(payload, type, target, depth + 1);
        }
        else
        {
            // A message field seen twice merges, as proto does; a present empty message is {} (Go writes value structs).
            if (target[field.JsonName] is not JsonObject obj)
            {
                obj = new JsonObject();
                Set(target, field, obj);
            }
            DecodeInto(payload, type, obj, depth + 1);
        }
    }

    private void ReadRepeated(ref ProtoReader reader, WireType wireType, ProtoField field, JsonObject target, int depth)
    {
        if (target[field.JsonName] is not JsonArray array)
        {
            array = new JsonArray();
            Set(target, field, array);
        }
        var varintKind = field.Kind is ProtoKind.Bool or ProtoKind.Int32 or ProtoKind.Int64;
        if (varintKind && wireType == WireType.LengthDelimited)
        {
            // Packed: one length-delimited run of varints.
            var packed = new ProtoReader(reader.ReadLengthDelimited());
            while (!packed.End)
            {
                _path.Add(("", array.Count));
                Add(array, Varint(packed.ReadVarint(), field.Kind).Value);
                _path.RemoveAt(_path.Count - 1);
            }
            return;
        }
        _path.Add(("", array.Count));
        if (field.Kind == ProtoKind.Message)
        {
            Expect(wireType, WireType.LengthDelimited, field);
            var payload = reader.ReadLengthDelimited();
            var type = schema.Message(field.MessageType!);
            if (type.Rendering == ProtoRendering.Object)
            {
                var obj = new JsonObject();
                Add(array, obj);
                DecodeInto(payload, type, obj, depth + 1);
            }
            else
            {
                Add(array, Render(payload, type, depth + 1).Value);
            }
        }
        else
        {
            Add(array, ReadScalar(ref reader, wireType, field).Value);
        }
        _path.RemoveAt(_path.Count - 1);
    }

    private void ReadMapEntry(ref ProtoReader reader, WireType wireType, ProtoField field, JsonObject target, int depth)
    {
        Expect(wireType, WireType.LengthDelimited, field);
        var entry = new ProtoReader(reader.ReadLengthDelimited());
        if (target[field.JsonName] is not JsonObject map)
        {
            map = new JsonObject();
            Set(target, field, map);
        }
        // A missing key or value is the zero value, as in Go's map-entry decoding.
        var key = "";
        JsonNode? value = null;
        while (entry.TryReadTag(out var number, out var entryType))
        {
            if (number == 1)
            {
                Expect(entryType, WireType.LengthDelimited, field);
                key = Utf8(entry.ReadLengthDelimited());
            }
            else if (number == 2 && field.Kind == ProtoKind.Message)
            {
                Expect(entryType, WireType.LengthDelimited, field);
                value = Render(entry.ReadLengthDelimited(), schema.Message(field.MessageType!), depth + 1).Value;
            }
            else if (number == 2)
            {
                value = ReadScalar(ref entry, entryType, field).Value;
            }
            else
            {
                entry.Skip(number, entryType, MaxDepth - depth);
            }
        }
        value ??= field.Kind switch
        {
            ProtoKind.Message => JsonValue.Create("0"),
            _ => JsonValue.Create(""),
        };
        Count();
        map[key] = value;
    }

    /// <summary>A scalar of <paramref name="field"/>'s kind, and whether it is the kind's zero value.</summary>
    private static (JsonNode? Value, bool Zero) ReadScalar(ref ProtoReader reader, WireType wireType, ProtoField field)
    {
        switch (field.Kind)
        {
            case ProtoKind.String:
                Expect(wireType, WireType.LengthDelimited, field);
                var text = reader.ReadLengthDelimited();
                return (JsonValue.Create(Utf8(text)), text.IsEmpty);
            case ProtoKind.Bytes:
                Expect(wireType, WireType.LengthDelimited, field);
                var bytes = reader.ReadLengthDelimited();
                // Go encodes []byte as standard base64 in JSON.
                return (JsonValue.Create(Convert.ToBase64String(bytes)), bytes.IsEmpty);
            default:
                Expect(wireType, WireType.Varint, field);
                return Varint(reader.ReadVarint(), field.Kind);
        }
    }

    private static (JsonNode? Value, bool Zero) Varint(ulong raw, ProtoKind kind) => kind switch
    {
        ProtoKind.Bool => (JsonValue.Create(raw != 0), raw == 0),
        // Go's generated decoder accumulates into the field's own width, so int32 keeps the low 32 bits.
        ProtoKind.Int32 => (JsonValue.Create(unchecked((int)raw)), unchecked((int)raw) == 0),
        _ => (JsonValue.Create(unchecked((long)raw)), raw == 0),
    };

    /// <summary>The JSON form of a message with a custom rendering; a null value means "omit the field".</summary>
    private static (JsonNode? Value, bool Zero) Render(ReadOnlySpan<byte> payload, ProtoMessage type, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ProtoFormatException($"messages nested deeper than {MaxDepth}");
        }
        long seconds = 0;
        long intOrStringType = 0;
        var intVal = 0;
        var text = "";
        ReadOnlySpan<byte> raw = default;
        var reader = new ProtoReader(payload);
        while (reader.TryReadTag(out var number, out var wireType))
        {
            var field = type.Find(number);
            if (field is null)
            {
                reader.Skip(number, wireType, MaxDepth - depth);
                continue;
            }
            switch (field.JsonName)
            {
                case "seconds":
                    Expect(wireType, WireType.Varint, field);
                    seconds = unchecked((long)reader.ReadVarint());
                    break;
                case "type":
                    Expect(wireType, WireType.Varint, field);
                    intOrStringType = unchecked((long)reader.ReadVarint());
                    break;
                case "intVal":
                    Expect(wireType, WireType.Varint, field);
                    intVal = unchecked((int)reader.ReadVarint());
                    break;
                case "strVal" or "string":
                    Expect(wireType, WireType.LengthDelimited, field);
                    text = Utf8(reader.ReadLengthDelimited());
                    break;
                case "Raw":
                    Expect(wireType, WireType.LengthDelimited, field);
                    raw = reader.ReadLengthDelimited();
                    break;
                default:
                    // Time.nanos: read for well-formedness, not rendered (see RenderTime).
                    ReadScalar(ref reader, wireType, field);
                    break;
            }
        }
        return type.Rendering switch
        {
            ProtoRendering.Time => RenderTime(payload.IsEmpty, seconds),
            ProtoRendering.Quantity => (JsonValue.Create(text.Length == 0 ? "0" : text), text.Length == 0),
            ProtoRendering.IntOrString => intOrStringType switch
            {
                0 => (JsonValue.Create(intVal), intVal == 0),
                1 => (JsonValue.Create(text), text.Length == 0),
                _ => throw new ProtoFormatException($"impossible IntOrString type {intOrStringType}"),
            },
            _ => RenderRawJson(raw),
        };
    }

    /// <summary>
    /// metav1.Time: RFC 3339 in UTC with whole seconds, which is all its JSON carries (upstream's protobuf decoder drops
    /// nanos for the same reason). Go's zero time, sent as an empty message, is omitted as Go writes it as null.
    /// </summary>
    private static (JsonNode? Value, bool Zero) RenderTime(bool empty, long seconds)
    {
        const long GoZeroTime = -62135596800; // 0001-01-01T00:00:00Z
        const long MaxTime = 253402300799; // 9999-12-31T23:59:59Z
        if (empty || seconds == GoZeroTime)
        {
            return (null, true);
        }
        if (seconds is < GoZeroTime or > MaxTime)
        {
            throw new ProtoFormatException($"time {seconds} seconds is outside years 1 to 9999");
        }
        var time = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
        return (JsonValue.Create(time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)), false);
    }

    private static (JsonNode? Value, bool Zero) RenderRawJson(ReadOnlySpan<byte> raw)
    {
        if (raw.IsEmpty)
        {
            return (null, true);
        }
        try
        {
            return (JsonNode.Parse(raw, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth }), false);
        }
        catch (JsonException e)
        {
            throw new ProtoFormatException("fieldsV1 is not valid JSON: " + e.Message);
        }
    }

    private void Set(JsonObject target, ProtoField field, JsonNode? value)
    {
        if (value is null)
        {
            target.Remove(field.JsonName);
            return;
        }
        Count();
        target[field.JsonName] = value;
    }

    private void Add(JsonArray array, JsonNode? value)
    {
        Count();
        array.Add(value);
    }

    private void Count()
    {
        if (++_values > MaxValues)
        {
            throw new ProtoFormatException($"more than {MaxValues} values");
        }
    }

    private static void Expect(WireType actual, WireType expected, ProtoField field)
    {
        if (actual != expected)
        {
            throw new ProtoFormatException($"wrong wire type {(int)actual} for field {field.Number} ({field.JsonName}), expected {(int)expected}");
        }
    }

    /// <summary>Invalid UTF-8 becomes U+FFFD, as Go's JSON encoder does with such strings.</summary>
    private static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
