using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Switchboard.Api.Selectors;

/// <summary>
/// Which field selectors a kind accepts and how each reads from a stored object, transcribed from
/// kube-apiserver v1.33. Upstream has two independent lists and so does this table:
/// <list type="bullet">
/// <item>acceptance — the conversion funcs registered with AddFieldLabelConversionFunc
/// (pkg/apis/core/v1/conversion.go); a kind without one falls back to
/// runtime.DefaultMetaV1FieldSelectorConversion (metadata.name and metadata.namespace only), which is
/// every kind outside core/v1 — apps/v1 registers none, so ReplicaSets reject status.replicas;</item>
/// <item>values — the registry strategies' GetAttrs/ToSelectableFields (pkg/registry/.../strategy.go).</item>
/// </list>
/// An accepted field the object does not set reads as "" (fields.Set.Get), e.g. pods' status.podIPs,
/// which the conversion accepts but PodToSelectableFields never sets.
/// </summary>
public sealed class FieldSelectorFields
{
    private const string NotSupportedPrefix = "field label not supported: ";

    private static readonly FieldSource MetadataName = FieldSource.Path("metadata.name");
    private static readonly FieldSource MetadataNamespace = FieldSource.Path("metadata.namespace");

    private static readonly FieldSelectorFields Default = new(
        "",
        new Dictionary<string, FieldSource>
        {
            ["metadata.name"] = MetadataName,
            ["metadata.namespace"] = MetadataNamespace,
        },
        aliases: null,
        defaultConversion: true);

    private static readonly FrozenDictionary<(string Group, string Plural), FieldSelectorFields> Kinds =
        new Dictionary<(string, string), FieldSelectorFields>
        {
            [("", "pods")] = new(
                "pods",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["metadata.namespace"] = MetadataNamespace,
                    ["spec.nodeName"] = FieldSource.Path("spec.nodeName"),
                    ["spec.restartPolicy"] = FieldSource.Path("spec.restartPolicy"),
                    ["spec.schedulerName"] = FieldSource.Path("spec.schedulerName"),
                    ["spec.serviceAccountName"] = FieldSource.Path("spec.serviceAccountName"),
                    // Upstream reads the internal SecurityContext.HostNetwork; v1 JSON carries spec.hostNetwork.
                    ["spec.hostNetwork"] = FieldSource.Bool("spec.hostNetwork"),
                    ["status.phase"] = FieldSource.Path("status.phase"),
                    // Upstream reads status.podIPs[0].ip; status.podIP is its v1 mirror.
                    ["status.podIP"] = FieldSource.Path("status.podIPs.0.ip", "status.podIP"),
                    ["status.podIPs"] = FieldSource.Unset,
                    ["status.nominatedNodeName"] = FieldSource.Path("status.nominatedNodeName"),
                },
                aliases: new Dictionary<string, string> { ["spec.host"] = "spec.nodeName" }),
            [("", "nodes")] = new(
                "nodes",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["spec.unschedulable"] = FieldSource.Bool("spec.unschedulable"),
                },
                aliases: null),
            [("", "namespaces")] = new(
                "namespaces",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["status.phase"] = FieldSource.Path("status.phase"),
                },
                aliases: null),
            [("", "secrets")] = new(
                "secrets",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["metadata.namespace"] = MetadataNamespace,
                    ["type"] = FieldSource.Path("type"),
                },
                aliases: null),
            [("", "services")] = new(
                "services",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["metadata.namespace"] = MetadataNamespace,
                    ["spec.clusterIP"] = FieldSource.Path("spec.clusterIP"),
                    ["spec.type"] = FieldSource.Path("spec.type"),
                },
                aliases: null),
            [("", "events")] = new(
                "events",
                new Dictionary<string, FieldSource>
                {
                    ["metadata.name"] = MetadataName,
                    ["metadata.namespace"] = MetadataNamespace,
                    ["involvedObject.kind"] = FieldSource.Path("involvedObject.kind"),
                    ["involvedObject.namespace"] = FieldSource.Path("involvedObject.namespace"),
                    ["involvedObject.name"] = FieldSource.Path("involvedObject.name"),
                    ["involvedObject.uid"] = FieldSource.Path("involvedObject.uid"),
                    ["involvedObject.apiVersion"] = FieldSource.Path("involvedObject.apiVersion"),
                    ["involvedObject.resourceVersion"] = FieldSource.Path("involvedObject.resourceVersion"),
                    ["involvedObject.fieldPath"] = FieldSource.Path("involvedObject.fieldPath"),
                    ["reason"] = FieldSource.Path("reason"),
                    ["reportingComponent"] = FieldSource.Path("reportingComponent"),
                    // Source.Component, falling back to ReportingController (core/v1 reportingComponent).
                    ["source"] = FieldSource.Path("source.component", "reportingComponent"),
                    ["type"] = FieldSource.Path("type"),
                },
                aliases: null),
        }.ToFrozenDictionary();

    private readonly FrozenDictionary<string, FieldSource> _fields;
    private readonly FrozenDictionary<string, string> _aliases;
    private readonly bool _defaultConversion;

    private FieldSelectorFields(string plural, Dictionary<string, FieldSource> fields, Dictionary<string, string>? aliases, bool defaultConversion = false)
    {
        Plural = plural;
        _fields = fields.ToFrozenDictionary(StringComparer.Ordinal);
        _aliases = (aliases ?? []).ToFrozenDictionary(StringComparer.Ordinal);
        _defaultConversion = defaultConversion;
        Supported = [.. _fields.Keys.Concat(_aliases.Keys).Order(StringComparer.Ordinal)];
    }

    /// <summary>The resource this table is for; "" for the metadata-only default.</summary>
    public string Plural { get; }

    /// <summary>Every field label the kind accepts, legacy aliases included.</summary>
    public IReadOnlyList<string> Supported { get; }

    /// <summary>The table for a resource; kinds upstream registers no conversion for get the
    /// metadata.name/metadata.namespace default (every custom resource does too).</summary>
    public static FieldSelectorFields For(string group, string plural) =>
        Kinds.TryGetValue((group, plural), out var fields) ? fields : Default;

    /// <summary>Upstream ConvertFieldLabel: the canonical field for a client's label, or upstream's error text.</summary>
    public bool TryConvert(string label, [NotNullWhen(true)] out string? canonical, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (_fields.ContainsKey(label))
        {
            (canonical, error) = (label, null);
            return true;
        }
        if (_aliases.TryGetValue(label, out var target))
        {
            (canonical, error) = (target, null);
            return true;
        }
        canonical = null;
        error = _defaultConversion
            ? $"\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            : NotSupportedPrefix + label;
        return false;
    }

    /// <summary>
    /// The value upstream's fields.Set holds for a canonical field of a stored object: strings as stored,
    /// booleans as "true"/"false" (unset is "false"), "" for anything absent or not selectable.
    /// </summary>
    public string GetField(JsonElement obj, string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return _fields.TryGetValue(field, out var source) ? source.Read(obj) : "";
    }

    internal bool FieldEquals(JsonElement obj, string field, ReadOnlySpan<byte> expected) =>
        _fields.TryGetValue(field, out var source) ? source.ValueEquals(obj, expected) : expected.IsEmpty;

    /// <summary>
    /// Reads a dotted path ("spec.clusterIP", "status.podIPs.0.ip") from a JSON object: strings as stored,
    /// numbers and booleans as their JSON text; null when absent, null or not a scalar.
    /// </summary>
    public static string? ReadPath(JsonElement obj, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var e = Navigate(obj, path.Split('.'));
        return e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.Number => e.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        };
    }

    internal static JsonElement Navigate(JsonElement e, string[] segments)
    {
        foreach (var segment in segments)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                if (!e.TryGetProperty(segment, out e))
                {
                    return default;
                }
            }
            else if (e.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var index) && index >= 0 && index < e.GetArrayLength())
            {
                e = e[index];
            }
            else
            {
                return default;
            }
        }
        return e;
    }

    /// <summary>Where one selectable field lives: candidate paths (first non-empty wins) and how to render it.</summary>
    private sealed class FieldSource
    {
        private readonly string[][] _paths;
        private readonly bool _bool;

        private FieldSource(string[][] paths, bool isBool)
        {
            _paths = paths;
            _bool = isBool;
        }

        public static FieldSource Unset { get; } = new([], isBool: false);

        public static FieldSource Path(params string[] paths) => new([.. paths.Select(p => p.Split('.'))], isBool: false);

        // strconv.FormatBool of a Go bool: an absent field is false.
        public static FieldSource Bool(string path) => new([path.Split('.')], isBool: true);

        public string Read(JsonElement obj)
        {
            if (_bool)
            {
                return Navigate(obj, _paths[0]).ValueKind == JsonValueKind.True ? "true" : "false";
            }
            foreach (var path in _paths)
            {
                var e = Navigate(obj, path);
                if (e.ValueKind == JsonValueKind.String && !e.ValueEquals(""u8))
                {
                    return e.GetString()!;
                }
            }
            return "";
        }

        public bool ValueEquals(JsonElement obj, ReadOnlySpan<byte> expected)
        {
            if (_bool)
            {
                var value = Navigate(obj, _paths[0]).ValueKind == JsonValueKind.True ? "true"u8 : "false"u8;
                return expected.SequenceEqual(value);
            }
            foreach (var path in _paths)
            {
                var e = Navigate(obj, path);
                if (e.ValueKind == JsonValueKind.String && JsonMarshal.GetRawUtf8Value(e).Length > 2)
                {
                    return e.ValueEquals(expected);
                }
            }
            return expected.IsEmpty;
        }
    }
}
