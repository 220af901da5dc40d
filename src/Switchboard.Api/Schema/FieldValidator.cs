using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Switchboard.Api.Resources;

namespace Switchboard.Api.Schema;

/// <summary>
/// Server-side field validation (<c>fieldValidation=Strict|Warn</c>): finds fields the model does not know and fields
/// that appear twice in one object, reported in upstream's wording — <c>unknown field "spec.ports[0].bogus"</c>,
/// <c>duplicate field "metadata.name"</c> — with paths relative to the object root. Runs on every create/update/patch
/// body, so it is one forward pass with <see cref="Utf8JsonReader"/> (which, unlike a DOM, sees duplicates), looks
/// names up without allocating, and allocates only when there is something to report.
/// </summary>
public sealed class FieldValidator
{
    private const int MaxDepth = 64;
    private readonly SchemaCatalog _schemas;
    private readonly TypeSchema _objectMeta;

    public FieldValidator(SchemaCatalog schemas)
    {
        ArgumentNullException.ThrowIfNull(schemas);
        _schemas = schemas;
        _objectMeta = schemas.Find(typeof(k8s.Models.V1ObjectMeta))
            ?? throw new InvalidOperationException("schema catalogue lacks ObjectMeta");
    }

    /// <summary>Problems in the JSON body of an object of <paramref name="resource"/>'s kind; empty when clean.</summary>
    public IReadOnlyList<string> Validate(ReadOnlySpan<byte> json, ResourceInfo resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return Validate(json, resource.ModelType);
    }

    /// <summary>
    /// Problems in a JSON body decoded as <paramref name="modelType"/>, in document order. Malformed JSON yields what
    /// was found before the damage: the decoder that runs next reports the syntax error itself.
    /// </summary>
    public IReadOnlyList<string> Validate(ReadOnlySpan<byte> json, Type modelType)
    {
        ArgumentNullException.ThrowIfNull(modelType);
        var schema = _schemas.Find(modelType)
            ?? throw new ArgumentException($"{modelType} is not a served model type", nameof(modelType));
        var walker = new Walker(json, stackalloc char[128], _objectMeta);
        try
        {
            walker.Run(schema);
        }
        catch (JsonException)
        {
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader signals some malformed input (e.g. invalid UTF-8 in a name) this way.
        }
        // Not a conditional with []: that would type the empty case as a new List<string>.
        return walker.Problems ?? (IReadOnlyList<string>)[];
    }

    /// <summary>One step of the path to the current value: a known field, a list index, or a raw map key.</summary>
    private readonly record struct Segment(string? Name, int Index, int KeyStart, int KeyLength);

    [InlineArray(MaxDepth + 1)]
    private struct PathBuffer
    {
#pragma warning disable IDE0044, IDE0051 // The inline-array element is only reached through the indexer.
        private Segment _element;
#pragma warning restore IDE0044, IDE0051
    }

    private ref struct Walker
    {
        private readonly ReadOnlySpan<byte> _json;
        private readonly Span<char> _name;
        private readonly TypeSchema _objectMeta;
        private Utf8JsonReader _reader;
        private PathBuffer _path;
        private int _depth;

        public Walker(ReadOnlySpan<byte> json, Span<char> nameBuffer, TypeSchema objectMeta)
        {
            _json = json;
            _name = nameBuffer;
            _objectMeta = objectMeta;
            _reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
        }

        public List<string>? Problems { get; private set; }

        public void Run(TypeSchema root)
        {
            if (_reader.Read() && _reader.TokenType == JsonTokenType.StartObject)
            {
                ValidateObject(root);
            }
        }

        /// <summary>Reader is on StartObject; leaves it on the matching EndObject.</summary>
        private void ValidateObject(TypeSchema schema)
        {
            var words = (schema.Fields.Length + 63) / 64;
            Span<ulong> seen = words <= 1 ? stackalloc ulong[1] : stackalloc ulong[words];
            while (_reader.Read() && _reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = Lookup(schema);
                if (field is null)
                {
                    var name = _reader.GetString()!;
                    _reader.Read();
                    if (_depth == 0 && name is "apiVersion" or "kind" or "metadata")
                    {
                        // Always known at the root, whatever the model declares.
                        Descend(name, name == "metadata" ? new ValueSchema { Kind = ValueKind.Object, Object = _objectMeta } : null);
                        continue;
                    }
                    Report("unknown field", name);
                    _reader.Skip();
                    continue;
                }

                ref var word = ref seen[field.Index >> 6];
                var bit = 1UL << (field.Index & 63);
                if ((word & bit) != 0)
                {
                    Report("duplicate field", field.JsonName);
                }
                word |= bit;
                _reader.Read();
                Descend(field.JsonName, field.Value);
            }
        }

        private void Descend(string name, ValueSchema? value)
        {
            if (value is null || IsLeaf(value))
            {
                _reader.Skip();
                return;
            }
            Push(new Segment(name, -1, 0, 0));
            ValidateValue(value);
            _depth--;
        }

        /// <summary>Reader is on the value's first token; leaves it on the value's last token.</summary>
        private void ValidateValue(ValueSchema value)
        {
            switch (value.Kind)
            {
                case ValueKind.Object when _reader.TokenType == JsonTokenType.StartObject:
                    ValidateObject(value.Object!);
                    break;
                case ValueKind.Array when _reader.TokenType == JsonTokenType.StartArray && !IsLeaf(value.Element!):
                    for (var index = 0; _reader.Read() && _reader.TokenType != JsonTokenType.EndArray; index++)
                    {
                        Push(new Segment(null, index, 0, 0));
                        ValidateValue(value.Element!);
                        _depth--;
                    }
                    break;
                case ValueKind.Map when _reader.TokenType == JsonTokenType.StartObject:
                    ValidateMap(value.Element!);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        /// <summary>Any key is allowed; a key repeated in the same map is reported as upstream does.</summary>
        private void ValidateMap(ValueSchema element)
        {
            // Keys are compared as raw bytes of the body: small maps (labels, annotations) cost no allocation.
            Span<(int Start, int Length)> keys = stackalloc (int, int)[16];
            var count = 0;
            HashSet<string>? many = null;
            var leaf = IsLeaf(element);
            while (_reader.Read() && _reader.TokenType == JsonTokenType.PropertyName)
            {
                var start = checked((int)_reader.TokenStartIndex) + 1;
                var raw = _reader.ValueSpan;
                var duplicate = false;
                if (many is null && count < keys.Length)
                {
                    foreach (var (s, l) in keys[..count])
                    {
                        duplicate |= _json.Slice(s, l).SequenceEqual(raw);
                    }
                    keys[count++] = (start, raw.Length);
                }
                else
                {
                    if (many is null)
                    {
                        many = new HashSet<string>(StringComparer.Ordinal);
                        foreach (var (s, l) in keys[..count])
                        {
                            many.Add(Encoding.UTF8.GetString(_json.Slice(s, l)));
                        }
                    }
                    duplicate = !many.Add(Encoding.UTF8.GetString(raw));
                }
                if (duplicate)
                {
                    Report("duplicate field", Encoding.UTF8.GetString(raw));
                }

                _reader.Read();
                if (leaf)
                {
                    _reader.Skip();
                    continue;
                }
                Push(new Segment(null, -1, start, raw.Length));
                ValidateValue(element);
                _depth--;
            }
        }

        private FieldSchema? Lookup(TypeSchema schema)
        {
            // A name longer than the buffer cannot be a field of ours; the unescaped form is never longer.
            if (_reader.ValueSpan.Length > _name.Length)
            {
                return null;
            }
            var length = _reader.CopyString(_name);
            return schema.FieldsBySpan.TryGetValue(_name[..length], out var field) ? field : null;
        }

        /// <summary>Values with no object inside to check: skipped wholesale.</summary>
        private static bool IsLeaf(ValueSchema value) => value.Kind switch
        {
            ValueKind.Object or ValueKind.Map => false,
            ValueKind.Array => IsLeaf(value.Element!),
            _ => true,
        };

        private void Push(Segment segment)
        {
            // The reader's MaxDepth bounds nesting, so this only guards against our own mistakes.
            if (_depth >= MaxDepth)
            {
                throw new JsonException("nesting too deep");
            }
            _path[_depth++] = segment;
        }

        private void Report(string problem, string leaf)
        {
            var path = new StringBuilder();
            for (var i = 0; i < _depth; i++)
            {
                var segment = _path[i];
                if (segment.Index >= 0)
                {
                    path.Append('[').Append(segment.Index).Append(']');
                    continue;
                }
                if (path.Length > 0)
                {
                    path.Append('.');
                }
                path.Append(segment.Name ?? Encoding.UTF8.GetString(_json.Slice(segment.KeyStart, segment.KeyLength)));
            }
            if (path.Length > 0)
            {
                path.Append('.');
            }
            path.Append(leaf);

            var message = problem + " \"" + path + "\"";
            Problems ??= [];
            if (!Problems.Contains(message))
            {
                Problems.Add(message);
            }
        }
    }
}
