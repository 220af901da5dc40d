using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Switchboard.Api.Serialization;

/// <summary>
/// YAML request bodies to JSON and JSON responses to YAML, with kube-apiserver's semantics
/// (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1 scalars, anchors and aliases expanded, merge keys,
/// non-string keys turned into strings. Works on YamlDotNet's parser and emitter events, not its object
/// serializer, so no CLR type resolution gets in the way.
/// </summary>
public static class YamlJson
{
    private const string YamlToJsonPrefix = "error converting YAML to JSON: ";
    private const string JsonToYamlPrefix = "error converting JSON to YAML: ";

    // Deep enough for any Kubernetes object; stops hostile nesting before the stack does.
    private const int MaxDepth = 1000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Keep non-ASCII and HTML characters readable; JSON only requires quotes, backslashes and controls escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>
    /// Converts one YAML document to JSON. An empty stream is JSON null. Trailing documents that are empty
    /// (a closing "---") are ignored; a second document with content is an error, since a request body
    /// carries one object (upstream would silently keep only the first).
    /// </summary>
    /// <exception cref="YamlJsonException">Invalid YAML (message carries line and column), an unsupported key,
    /// a NaN/Inf value, excessive aliasing or a second document.</exception>
    public static byte[] YamlToJson(ReadOnlySpan<byte> yaml)
    {
        if (yaml.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            yaml = yaml[3..];
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(yaml);
        }
        catch (DecoderFallbackException e)
        {
            throw new YamlJsonException(YamlToJsonPrefix + "yaml: invalid UTF-8 in input", e);
        }

        var root = new YamlTreeReader(text).ReadSingleDocument();
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, yaml.Length));
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            try
            {
                new JsonTreeWriter(writer).Write(root);
            }
            catch (InvalidOperationException e)
            {
                // Aliases can nest a document deeper than the writer's depth limit.
                throw new YamlJsonException(YamlToJsonPrefix + "yaml: " + e.Message, e);
            }
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Converts JSON to block-style YAML the way kube-apiserver renders <c>application/yaml</c>: keys sorted,
    /// sequences not indented under their key, multi-line strings as literal blocks, and strings quoted
    /// whenever YAML 1.1 would read them as something else ("yes", "1.0", "null", timestamps).
    /// Numbers keep their JSON text; long lines are not folded.
    /// </summary>
    /// <exception cref="YamlJsonException">The input is not JSON.</exception>
    public static byte[] JsonToYaml(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new YamlJsonException(JsonToYamlPrefix + e.Message, e.LineNumber is { } l ? l + 1 : 0, e.BytePositionInLine is { } c ? c + 1 : 0, e);
        }
        using (document)
        {
            using var text = new StringWriter(CultureInfo.InvariantCulture);
            var emitter = new Emitter(text, bestIndent: 2, bestWidth: int.MaxValue, isCanonical: false);
            emitter.Emit(new StreamStart());
            emitter.Emit(new DocumentStart());
            EmitValue(emitter, document.RootElement);
            emitter.Emit(new DocumentEnd(isImplicit: true));
            emitter.Emit(new StreamEnd());
            return Encoding.UTF8.GetBytes(text.ToString());
        }
    }

    private static void EmitValue(IEmitter emitter, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, isImplicit: true, MappingStyle.Block));
                foreach (var property in SortedUniqueProperties(value))
                {
                    EmitString(emitter, property.Name, isKey: true);
                    EmitValue(emitter, property.Value);
                }
                emitter.Emit(new MappingEnd());
                break;
            case JsonValueKind.Array:
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, SequenceStyle.Block));
                foreach (var item in value.EnumerateArray())
                {
                    EmitValue(emitter, item);
                }
                emitter.Emit(new SequenceEnd());
                break;
            case JsonValueKind.String:
                EmitString(emitter, value.GetString()!, isKey: false);
                break;
            case JsonValueKind.Number:
                EmitPlain(emitter, value.GetRawText());
                break;
            case JsonValueKind.True:
                EmitPlain(emitter, "true");
                break;
            case JsonValueKind.False:
                EmitPlain(emitter, "false");
                break;
            default:
                EmitPlain(emitter, "null");
                break;
        }
    }

    private static void EmitPlain(IEmitter emitter, string text) =>
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));

    private static void EmitString(IEmitter emitter, string s, bool isKey)
    {
        // go-yaml v2: literal blocks for multi-line values, double quotes when plain text would resolve to
        // another type, otherwise plain (the emitter falls back to quotes when plain is not allowed).
        var style = Yaml11.NeedsQuotes(s) || !SurvivesUnquoted(s) ? ScalarStyle.DoubleQuoted
            : !isKey && s.Contains('\n', StringComparison.Ordinal) ? ScalarStyle.Literal
            : ScalarStyle.Plain;
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, s, style, isPlainImplicit: style == ScalarStyle.Plain, isQuotedImplicit: style != ScalarStyle.Plain));
    }

    // Line-break normalisation would turn "\r\n" into "\n" in a literal block, and a plain scalar loses
    // leading or trailing tabs; only double quotes keep such strings exact.
    private static bool SurvivesUnquoted(string s)
    {
        if (s.Length > 0 && (s[0] == '\t' || s[^1] == '\t'))
        {
            return false;
        }
        foreach (var c in s)
        {
            if (char.IsControl(c) && c is not ('\n' or '\t'))
            {
                return false;
            }
        }
        return true;
    }

    // Go's map marshalling sorts keys; a duplicated JSON key keeps its last value, as go-yaml's map does.
    private static List<JsonProperty> SortedUniqueProperties(JsonElement obj)
    {
        var list = new List<JsonProperty>();
        foreach (var p in obj.EnumerateObject())
        {
            list.Add(p);
        }
        var sorted = list.Select((p, i) => (p, i)).OrderBy(x => x.p.Name, StringComparer.Ordinal).ThenBy(x => x.i).ToList();
        var result = new List<JsonProperty>(sorted.Count);
        for (var i = 0; i < sorted.Count; i++)
        {
            if (i + 1 < sorted.Count && string.Equals(sorted[i].p.Name, sorted[i + 1].p.Name, StringComparison.Ordinal))
            {
                continue;
            }
            result.Add(sorted[i].p);
        }
        return result;
    }

    private static YamlJsonException Error(string message, Mark mark, Exception? inner = null) =>
        new(YamlToJsonPrefix + "yaml: line " + mark.Line.ToString(CultureInfo.InvariantCulture) + ", column " + mark.Column.ToString(CultureInfo.InvariantCulture) + ": " + message, mark.Line, mark.Column, inner);

    private abstract class YamlNode
    {
        protected YamlNode(Mark start)
        {
            Start = start;
        }

        public Mark Start { get; }
    }

    private sealed class ScalarNode(Mark start, string value, ScalarStyle style, string tag) : YamlNode(start)
    {
        public string Value { get; } = value;

        public ScalarStyle Style { get; } = style;

        public string Tag { get; } = tag;

        public bool IsMergeKey => Value == "<<" && ((Style == ScalarStyle.Plain && Tag.Length == 0) || Tag == Yaml11.MergeTag);

        public YamlScalar Resolve()
        {
            // Quoted and block scalars without a tag are strings; plain ones and tagged ones resolve.
            if (Tag.Length == 0 && Style != ScalarStyle.Plain)
            {
                return new YamlScalar(YamlScalarKind.String, Value);
            }
            return Yaml11.Resolve(Tag, Value, out var error) ?? throw Error(error!, Start);
        }
    }

    private sealed class SequenceNode(Mark start) : YamlNode(start)
    {
        public List<YamlNode> Items { get; } = [];
    }

    private sealed class MappingNode(Mark start) : YamlNode(start)
    {
        public List<(YamlNode Key, YamlNode Value)> Pairs { get; } = [];
    }

    private sealed class AliasNode(Mark start, YamlNode target) : YamlNode(start)
    {
        public YamlNode Target { get; } = target;
    }

    /// <summary>Builds the node tree of the first document from parser events; resolves aliases to their anchors.</summary>
    private sealed class YamlTreeReader(string text)
    {
        private readonly Parser _parser = new(new StringReader(text));
        private readonly Dictionary<string, YamlNode> _anchors = new(StringComparer.Ordinal);

        public YamlNode? ReadSingleDocument()
        {
            try
            {
                _parser.Consume<StreamStart>();
                if (_parser.TryConsume<StreamEnd>(out _))
                {
                    return null;
                }
                _parser.Consume<DocumentStart>();
                var root = ReadNode(0);
                _parser.Consume<DocumentEnd>();
                while (_parser.TryConsume<DocumentStart>(out var next))
                {
                    _anchors.Clear();
                    var extra = ReadNode(0);
                    _parser.Consume<DocumentEnd>();
                    if (extra is not ScalarNode { Style: ScalarStyle.Plain, Tag.Length: 0, Value.Length: 0 })
                    {
                        throw Error("expected one document, found more (a multi-document stream is not a single object)", next.Start);
                    }
                }
                _parser.Consume<StreamEnd>();
                return root;
            }
            catch (YamlException e)
            {
                throw Error(StripMarks(e.Message), e.Start, e);
            }
        }

        private YamlNode ReadNode(int depth)
        {
            if (depth > MaxDepth)
            {
                throw Error($"exceeded max depth of {MaxDepth}", _parser.Current!.Start);
            }
            var ev = _parser.Current ?? throw Error("unexpected end of input", Mark.Empty);
            _parser.MoveNext();
            switch (ev)
            {
                case AnchorAlias alias:
                    return _anchors.TryGetValue(alias.Value.Value, out var target)
                        ? new AliasNode(alias.Start, target)
                        : throw Error($"unknown anchor '{alias.Value.Value}' referenced", alias.Start);
                case Scalar scalar:
                    return Anchor(scalar, new ScalarNode(scalar.Start, scalar.Value, scalar.Style, scalar.Tag.IsEmpty ? "" : scalar.Tag.Value));
                case SequenceStart start:
                    var sequence = new SequenceNode(start.Start);
                    while (!_parser.TryConsume<SequenceEnd>(out _))
                    {
                        sequence.Items.Add(ReadNode(depth + 1));
                    }
                    return Anchor(start, sequence);
                case MappingStart start:
                    var mapping = new MappingNode(start.Start);
                    while (!_parser.TryConsume<MappingEnd>(out _))
                    {
                        var key = ReadNode(depth + 1);
                        mapping.Pairs.Add((key, ReadNode(depth + 1)));
                    }
                    return Anchor(start, mapping);
                default:
                    throw Error($"unexpected {ev.GetType().Name}", ev.Start);
            }
        }

        // Registered once the node is complete, so a node cannot alias itself (go-yaml rejects that too).
        private YamlNode Anchor(NodeEvent ev, YamlNode node)
        {
            if (!ev.Anchor.IsEmpty)
            {
                _anchors[ev.Anchor.Value] = node;
            }
            return node;
        }

        // YamlDotNet prefixes "(Line: 1, Col: 2, Idx: 1) - (Line: ...): "; we print our own position.
        private static string StripMarks(string message)
        {
            if (!message.StartsWith("(Line:", StringComparison.Ordinal))
            {
                return message;
            }
            var end = message.IndexOf("): ", message.IndexOf(" - ", StringComparison.Ordinal) + 1, StringComparison.Ordinal);
            return end < 0 ? message : message[(end + 3)..];
        }
    }

    /// <summary>Writes the node tree as JSON, expanding aliases under go-yaml's alias budget.</summary>
    private sealed class JsonTreeWriter(Utf8JsonWriter writer)
    {
        private long _decodeCount;
        private long _aliasCount;
        private int _aliasDepth;

        public void Write(YamlNode? root)
        {
            if (root is null)
            {
                writer.WriteNullValue();
                return;
            }
            WriteNode(root);
        }

        private void WriteNode(YamlNode node)
        {
            Count(node);
            switch (node)
            {
                case AliasNode alias:
                    _aliasDepth++;
                    WriteNode(alias.Target);
                    _aliasDepth--;
                    break;
                case ScalarNode scalar:
                    WriteScalar(scalar);
                    break;
                case SequenceNode sequence:
                    writer.WriteStartArray();
                    foreach (var item in sequence.Items)
                    {
                        WriteNode(item);
                    }
                    writer.WriteEndArray();
                    break;
                case MappingNode mapping:
                    writer.WriteStartObject();
                    var pairs = new List<KeyValuePair<string, YamlNode>>();
                    var index = new Dictionary<string, int>(StringComparer.Ordinal);
                    Collect(mapping, pairs, index);
                    foreach (var (key, value) in pairs)
                    {
                        writer.WritePropertyName(key);
                        WriteNode(value);
                    }
                    writer.WriteEndObject();
                    break;
            }
        }

        // go-yaml v2 decodes a mapping pair by pair into one map: a merge ("<<") copies the merged mapping's
        // entries (earlier mappings of a merge list win), later keys overwrite earlier ones. JSON keeps the
        // position of a key's first appearance.
        private void Collect(MappingNode mapping, List<KeyValuePair<string, YamlNode>> pairs, Dictionary<string, int> index)
        {
            foreach (var (key, value) in mapping.Pairs)
            {
                if (Unalias(key) is ScalarNode { IsMergeKey: true } mergeKey)
                {
                    Merge(mergeKey, value, pairs, index);
                    continue;
                }
                Count(key);
                var name = KeyString(key);
                if (index.TryGetValue(name, out var at))
                {
                    pairs[at] = new(name, value);
                }
                else
                {
                    index[name] = pairs.Count;
                    pairs.Add(new(name, value));
                }
            }
        }

        private void Merge(ScalarNode mergeKey, YamlNode value, List<KeyValuePair<string, YamlNode>> pairs, Dictionary<string, int> index)
        {
            const string wantMap = "map merge requires map or sequence of maps as the value";
            Count(value);
            switch (Unalias(value))
            {
                case MappingNode m:
                    Collect(m, pairs, index);
                    break;
                case SequenceNode s:
                    for (var i = s.Items.Count - 1; i >= 0; i--)
                    {
                        Count(s.Items[i]);
                        if (Unalias(s.Items[i]) is not MappingNode m)
                        {
                            throw Error(wantMap, s.Items[i].Start);
                        }
                        Collect(m, pairs, index);
                    }
                    break;
                default:
                    throw Error(wantMap, mergeKey.Start);
            }
        }

        // sigs.k8s.io/yaml turns int, float and bool keys into strings; other key types are errors.
        private static string KeyString(YamlNode key)
        {
            if (Unalias(key) is not ScalarNode scalar)
            {
                throw Error("invalid map key: a mapping or sequence cannot be a key", key.Start);
            }
            var v = scalar.Resolve();
            return v.Kind switch
            {
                YamlScalarKind.String => v.Text,
                YamlScalarKind.Int => v.Int.ToString(CultureInfo.InvariantCulture),
                YamlScalarKind.Float => GoFloat.FormatG32(v.Float),
                YamlScalarKind.Bool => v.Bool ? "true" : "false",
                YamlScalarKind.UInt => throw Error("unsupported map key of type: uint64, key: " + v.Text, key.Start),
                _ => throw Error("unsupported map key of type: <nil>", key.Start),
            };
        }

        private void WriteScalar(ScalarNode scalar)
        {
            var v = scalar.Resolve();
            switch (v.Kind)
            {
                case YamlScalarKind.Null:
                    writer.WriteNullValue();
                    break;
                case YamlScalarKind.Bool:
                    writer.WriteBooleanValue(v.Bool);
                    break;
                case YamlScalarKind.Int:
                    writer.WriteNumberValue(v.Int);
                    break;
                case YamlScalarKind.UInt:
                    writer.WriteNumberValue(v.UInt);
                    break;
                case YamlScalarKind.Float:
                    if (!double.IsFinite(v.Float))
                    {
                        // encoding/json refuses these, and so does upstream's conversion.
                        var text = double.IsNaN(v.Float) ? "NaN" : v.Float > 0 ? "+Inf" : "-Inf";
                        throw Error("json: unsupported value: " + text, scalar.Start);
                    }
                    writer.WriteRawValue(GoFloat.FormatJson(v.Float), skipInputValidation: true);
                    break;
                default:
                    try
                    {
                        writer.WriteStringValue(v.Text);
                    }
                    catch (ArgumentException e)
                    {
                        throw Error("invalid string: " + e.Message, scalar.Start, e);
                    }
                    break;
            }
        }

        // go-yaml v2's guard against alias bombs ("billion laughs"): once past 1000 decoded nodes, at most
        // 99% of them may come from alias expansion (falling to 10% for very large documents).
        private void Count(YamlNode node)
        {
            _decodeCount++;
            if (_aliasDepth > 0)
            {
                _aliasCount++;
            }
            if (_aliasCount > 100 && _decodeCount > 1000 && (double)_aliasCount / _decodeCount > AllowedAliasRatio(_decodeCount))
            {
                throw Error("document contains excessive aliasing", node.Start);
            }
        }

        private static double AllowedAliasRatio(long decodeCount)
        {
            const double low = 400_000;
            const double high = 4_000_000;
            return decodeCount <= low ? 0.99
                : decodeCount >= high ? 0.10
                : 0.99 - (0.89 * ((decodeCount - low) / (high - low)));
        }

        private static YamlNode Unalias(YamlNode node)
        {
            while (node is AliasNode alias)
            {
                node = alias.Target;
            }
            return node;
        }
    }
}
