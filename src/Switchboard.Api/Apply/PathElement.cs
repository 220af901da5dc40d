using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Apply;

/// <summary>The four kinds of step in a field path, in upstream's sort order.</summary>
internal enum PathElementKind : byte
{
    /// <summary>A struct field or map key: <c>f:name</c>, printed <c>.name</c>.</summary>
    Field,
    /// <summary>A list-map item by its key fields: <c>k:{"port":80,"protocol":"TCP"}</c>, printed <c>[port=80,protocol="TCP"]</c>.</summary>
    Key,
    /// <summary>A set item by its value: <c>v:"a"</c>, printed <c>[="a"]</c>.</summary>
    Value,
    /// <summary>A list item by position: <c>i:0</c>, printed <c>[0]</c>.</summary>
    Index,
}

/// <summary>
/// One step of a field path (sigs.k8s.io/structured-merge-diff/fieldpath.PathElement). Identity is the kind plus the
/// canonical text, so an element parsed from stored FieldsV1 equals one computed from an object.
/// </summary>
internal readonly struct PathElement : IEquatable<PathElement>, IComparable<PathElement>
{
    // Key: a JsonObject of the key fields sorted by name; Value: the item value. Never handed out for mutation.
    private readonly JsonNode? _node;

    private PathElement(PathElementKind kind, string text, JsonNode? node)
    {
        Kind = kind;
        Text = text;
        _node = node;
    }

    public PathElementKind Kind { get; }

    /// <summary>Field name, canonical JSON of the key object or of the value, or the decimal index.</summary>
    public string Text { get; }

    public static PathElement Field(string name) => new(PathElementKind.Field, name, null);

    public static PathElement Index(int index) => new(PathElementKind.Index, index.ToString(CultureInfo.InvariantCulture), null);

    public static PathElement Value(JsonNode? value)
    {
        var text = JsonValues.ToCanonicalJson(value);
        return new(PathElementKind.Value, text, value?.DeepClone());
    }

    /// <summary>A list-map key from its fields; the order of <paramref name="fields"/> does not matter.</summary>
    public static PathElement Key(IEnumerable<KeyValuePair<string, JsonNode?>> fields)
    {
        var sorted = new JsonObject();
        foreach (var (name, value) in fields.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            sorted[name] = value?.DeepClone();
        }
        return new(PathElementKind.Key, JsonValues.ToCanonicalJson(sorted), sorted);
    }

    /// <summary>The FieldsV1 member name: <c>f:</c>, <c>k:</c>, <c>v:</c> or <c>i:</c> plus the text.</summary>
    public string Token => Kind switch
    {
        PathElementKind.Field => "f:" + Text,
        PathElementKind.Key => "k:" + Text,
        PathElementKind.Value => "v:" + Text,
        _ => "i:" + Text,
    };

    /// <summary>Parses a FieldsV1 member name (not <c>.</c>); throws <see cref="FormatException"/> when invalid.</summary>
    public static PathElement Parse(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length < 2 || token[1] != ':')
        {
            throw new FormatException($"invalid path element \"{token}\"");
        }
        var rest = token[2..];
        try
        {
            switch (token[0])
            {
                case 'f':
                    return Field(rest);
                case 'k':
                    if (JsonNode.Parse(rest) is not JsonObject key)
                    {
                        throw new FormatException($"invalid key in path element \"{token}\"");
                    }
                    return Key(key.Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value)).ToList());
                case 'v':
                    return Value(JsonNode.Parse(rest));
                case 'i':
                    return Index(int.Parse(rest, NumberStyles.None, CultureInfo.InvariantCulture));
                default:
                    throw new FormatException($"unknown path element kind in \"{token}\"");
            }
        }
        catch (Exception e) when (e is JsonException or OverflowException)
        {
            throw new FormatException($"invalid path element \"{token}\": {e.Message}", e);
        }
    }

    public bool Equals(PathElement other) => Kind == other.Kind && string.Equals(Text, other.Text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is PathElement other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode(Text));

    public static bool operator ==(PathElement left, PathElement right) => left.Equals(right);

    public static bool operator !=(PathElement left, PathElement right) => !left.Equals(right);

    public static bool operator <(PathElement left, PathElement right) => left.CompareTo(right) < 0;

    public static bool operator >(PathElement left, PathElement right) => left.CompareTo(right) > 0;

    public static bool operator <=(PathElement left, PathElement right) => left.CompareTo(right) <= 0;

    public static bool operator >=(PathElement left, PathElement right) => left.CompareTo(right) >= 0;

    /// <summary>Upstream PathElement.Compare: fields, then keys, then values, then indices.</summary>
    public int CompareTo(PathElement other)
    {
        if (Kind != other.Kind)
        {
            return Kind.CompareTo(other.Kind);
        }
        switch (Kind)
        {
            case PathElementKind.Field:
                return string.CompareOrdinal(Text, other.Text);
            case PathElementKind.Key:
            {
                var a = ((JsonObject)_node!).ToList();
                var b = ((JsonObject)other._node!).ToList();
                for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
                {
                    var c = string.CompareOrdinal(a[i].Key, b[i].Key);
                    if (c == 0)
                    {
                        c = JsonValues.Compare(a[i].Value, b[i].Value);
                    }
                    if (c != 0)
                    {
                        return c;
                    }
                }
                return a.Count.CompareTo(b.Count);
            }
            case PathElementKind.Value:
                return JsonValues.Compare(_node, other._node);
            default:
                return int.Parse(Text, CultureInfo.InvariantCulture).CompareTo(int.Parse(other.Text, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Upstream's printable form, as in conflict messages.</summary>
    public override string ToString()
    {
        switch (Kind)
        {
            case PathElementKind.Field:
                return "." + Text;
            case PathElementKind.Key:
                var sb = new StringBuilder("[");
                var first = true;
                foreach (var (name, value) in (JsonObject)_node!)
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    sb.Append(name).Append('=').Append(JsonValues.ToPrintable(value));
                }
                return sb.Append(']').ToString();
            case PathElementKind.Value:
                return "[=" + JsonValues.ToPrintable(_node) + "]";
            default:
                return "[" + Text + "]";
        }
    }

    /// <summary>A whole path in upstream's printable form: <c>.spec.ports[port=80,protocol="TCP"].targetPort</c>.</summary>
    public static string PathToString(ReadOnlySpan<PathElement> path)
    {
        var sb = new StringBuilder();
        foreach (var pe in path)
        {
            sb.Append(pe.ToString());
        }
        return sb.ToString();
    }
}
