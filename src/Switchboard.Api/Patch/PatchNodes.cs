using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Patch;

/// <summary>
/// JSON value helpers shared by the patch engines (and, later, server-side apply): bounded parsing and depth checks,
/// value equality with upstream's scalar semantics, and Go-style rendering for error messages.
/// </summary>
internal static class PatchNodes
{
    /// <summary>Parses a request body; duplicate member names are rejected up front rather than failing lazily later.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8, string what)
    {
        var options = new JsonDocumentOptions { MaxDepth = PatchLimits.MaxDepth, AllowDuplicateProperties = false };
        try
        {
            return JsonNode.Parse(utf8, nodeOptions: null, options);
        }
        catch (JsonException e)
        {
            throw PatchException.BadRequest("error decoding " + what + ": " + e.Message, e);
        }
    }

    /// <summary>
    /// Rejects a patch nested deeper than <see cref="PatchLimits.MaxDepth"/> (400). Walking the tree also materialises
    /// lazily parsed objects, so a duplicate member name surfaces here as a 400 and never mid-merge.
    /// </summary>
    public static void EnsurePatchShape(JsonNode? patch)
    {
        int depth;
        try
        {
            depth = Depth(patch, PatchLimits.MaxDepth);
        }
        catch (ArgumentException e)
        {
            throw PatchException.BadRequest("error decoding patch: " + e.Message, e);
        }
        if (depth > PatchLimits.MaxDepth)
        {
            throw PatchException.BadRequest($"error decoding patch: nesting exceeds the maximum depth of {PatchLimits.MaxDepth}");
        }
    }

    /// <summary>The live object must obey the same bound: every recursion here relies on it.</summary>
    public static void EnsureDocumentShape(JsonNode document)
    {
        int depth;
        try
        {
            depth = Depth(document, PatchLimits.MaxDepth);
        }
        catch (ArgumentException e)
        {
            throw PatchException.Invalid("the object to patch is not valid JSON: " + e.Message);
        }
        if (depth > PatchLimits.MaxDepth)
        {
            throw PatchException.Invalid($"the object to patch nests deeper than {PatchLimits.MaxDepth} levels");
        }
    }

    /// <summary>
    /// Object/array nesting of <paramref name="root"/> (0 for a scalar, 1 for <c>{}</c>), counted iteratively so a
    /// hostile tree cannot overflow the stack; stops as soon as the count passes <paramref name="limit"/>.
    /// </summary>
    public static int Depth(JsonNode? root, int limit)
    {
        if (root is not (JsonObject or JsonArray))
        {
            return 0;
        }
        var pending = new Stack<(JsonNode Node, int Depth)>();
        pending.Push((root, 1));
        var max = 0;
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > max)
            {
                max = depth;
                if (max > limit)
                {
                    return max;
                }
            }
            if (node is JsonObject obj)
            {
                foreach (var member in obj)
                {
                    if (member.Value is JsonObject or JsonArray)
                    {
                        pending.Push((member.Value, depth + 1));
                    }
                }
            }
            else
            {
                foreach (var item in (JsonArray)node)
                {
                    if (item is JsonObject or JsonArray)
                    {
                        pending.Push((item, depth + 1));
                    }
                }
            }
        }
        return max;
    }

    public static JsonValueKind KindOf(JsonNode? node) => node is null ? JsonValueKind.Null : node.GetValueKind();

    public static bool IsNull(JsonNode? node) => KindOf(node) == JsonValueKind.Null;

    /// <summary>The string in <paramref name="node"/>, or null when it is not a JSON string.</summary>
    public static string? AsString(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>
    /// Structural equality. Numbers compare by value (1 and 1.0 are equal; upstream compares their text, a difference
    /// no client can rely on because Kubernetes re-encodes numbers canonically).
    /// </summary>
    public static bool JsonEquals(JsonNode? a, JsonNode? b)
    {
        var kind = KindOf(a);
        if (kind != KindOf(b))
        {
            return false;
        }
        switch (a)
        {
            case null:
                return true;
            case JsonObject ao:
                var bo = (JsonObject)b!;
                if (ao.Count != bo.Count)
                {
                    return false;
                }
                foreach (var member in ao)
                {
                    if (!bo.TryGetPropertyValue(member.Key, out var other) || !JsonEquals(member.Value, other))
                    {
                        return false;
                    }
                }
                return true;
            case JsonArray aa:
                var ba = (JsonArray)b!;
                if (aa.Count != ba.Count)
                {
                    return false;
                }
                for (var i = 0; i < aa.Count; i++)
                {
                    if (!JsonEquals(aa[i], ba[i]))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return ScalarKey.TryCreate(a, out var ka) && ScalarKey.TryCreate(b, out var kb) && ka == kb;
        }
    }

    /// <summary>Go's <c>%v</c> rendering of a decoded JSON value (<c>map[k:v]</c>, <c>[a b]</c>), as upstream messages show it.</summary>
    public static string Describe(JsonNode? node)
    {
        var text = new StringBuilder();
        AppendGo(text, node);
        if (text.Length > PatchLimits.MaxMessageValueChars)
        {
            text.Length = PatchLimits.MaxMessageValueChars;
            text.Append("...");
        }
        return text.ToString();
    }

    /// <summary>Go's name for the dynamic type of a decoded JSON value, for upstream's "expected a X, but received a Y".</summary>
    public static string GoTypeName(JsonNode? node) => node switch
    {
        null => "%!s(<nil>)",
        JsonObject => "map[string]interface {}",
        JsonArray => "[]interface {}",
        _ => KindOf(node) switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "bool",
            JsonValueKind.Number => ScalarKey.IsIntegral(node.ToJsonString()) ? "int64" : "float64",
            _ => "%!s(<nil>)",
        },
    };

    private static void AppendGo(StringBuilder text, JsonNode? node)
    {
        // Stop early: the result is truncated anyway and a huge value must not cost a huge string.
        if (text.Length > PatchLimits.MaxMessageValueChars)
        {
            return;
        }
        switch (node)
        {
            case JsonObject obj:
                text.Append("map[");
                var first = true;
                foreach (var member in obj.OrderBy(m => m.Key, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        text.Append(' ');
                    }
                    first = false;
                    text.Append(member.Key).Append(':');
                    AppendGo(text, member.Value);
                }
                text.Append(']');
                break;
            case JsonArray array:
                text.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append(' ');
                    }
                    AppendGo(text, array[i]);
                }
                text.Append(']');
                break;
            default:
                text.Append(KindOf(node) switch
                {
                    JsonValueKind.Null => "<nil>",
                    JsonValueKind.String => node!.GetValue<string>(),
                    _ => node!.ToJsonString(),
                });
                break;
        }
    }
}

/// <summary>
/// A JSON scalar reduced to something hashable, mirroring Go's <c>==</c> on decoded values: strings, numbers (by
/// value), booleans and null compare; objects and arrays have no key (Go cannot compare them either).
/// </summary>
internal readonly record struct ScalarKey(JsonValueKind Kind, string Text)
{
    public static bool TryCreate(JsonNode? node, out ScalarKey key)
    {
        var kind = PatchNodes.KindOf(node);
        switch (kind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.True:
            case JsonValueKind.False:
                key = new ScalarKey(kind, "");
                return true;
            case JsonValueKind.String:
                key = new ScalarKey(kind, node!.GetValue<string>());
                return true;
            case JsonValueKind.Number:
                key = new ScalarKey(kind, CanonicalNumber(node!.ToJsonString()));
                return true;
            default:
                key = default;
                return false;
        }
    }

    public static bool IsIntegral(string numberText) =>
        long.TryParse(numberText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);

    private static string CanonicalNumber(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer.ToString(CultureInfo.InvariantCulture);
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
        {
            // 80.0 and 8e1 must meet 80 under one key.
            return real == Math.Floor(real) && Math.Abs(real) < 9e15
                ? ((long)real).ToString(CultureInfo.InvariantCulture)
                : real.ToString("R", CultureInfo.InvariantCulture);
        }
        return text;
    }
}
