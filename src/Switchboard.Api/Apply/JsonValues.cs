using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Apply;

/// <summary>
/// Value semantics of structured-merge-diff (sigs.k8s.io/structured-merge-diff/value) over JSON nodes: equality,
/// the total order used to sort keys and set items, the Go-compatible JSON text inside <c>k:</c>/<c>v:</c> path
/// elements, and the printable form used in conflict messages. A C# <c>null</c> node is JSON null.
/// </summary>
internal static class JsonValues
{
    private enum Rank
    {
        Number,
        String,
        Bool,
        List,
        Map,
        Null,
    }

    public static bool DeepEquals(JsonNode? a, JsonNode? b)
    {
        var ra = RankOf(a);
        if (ra != RankOf(b))
        {
            return false;
        }
        switch (ra)
        {
            case Rank.Null:
                return true;
            case Rank.Map:
            {
                var oa = (JsonObject)a!;
                var ob = (JsonObject)b!;
                if (oa.Count != ob.Count)
                {
                    return false;
                }
                foreach (var (key, value) in oa)
                {
                    if (!ob.TryGetPropertyValue(key, out var other) || !DeepEquals(value, other))
                    {
                        return false;
                    }
                }
                return true;
            }
            case Rank.List:
            {
                var la = (JsonArray)a!;
                var lb = (JsonArray)b!;
                if (la.Count != lb.Count)
                {
                    return false;
                }
                for (var i = 0; i < la.Count; i++)
                {
                    if (!DeepEquals(la[i], lb[i]))
                    {
                        return false;
                    }
                }
                return true;
            }
            default:
                return Compare(a, b) == 0;
        }
    }

    /// <summary>Upstream value.Compare: numbers &lt; strings &lt; booleans &lt; lists &lt; maps &lt; null.</summary>
    public static int Compare(JsonNode? a, JsonNode? b)
    {
        var ra = RankOf(a);
        var rb = RankOf(b);
        if (ra != rb)
        {
            return ra.CompareTo(rb);
        }
        switch (ra)
        {
            case Rank.Number:
            {
                var va = (JsonValue)a!;
                var vb = (JsonValue)b!;
                if (va.TryGetValue<long>(out var la) && vb.TryGetValue<long>(out var lb))
                {
                    return la.CompareTo(lb);
                }
                return AsDouble(va).CompareTo(AsDouble(vb));
            }
            case Rank.String:
                return string.CompareOrdinal(a!.GetValue<string>(), b!.GetValue<string>());
            case Rank.Bool:
                return a!.GetValue<bool>().CompareTo(b!.GetValue<bool>());
            case Rank.List:
            {
                var la = (JsonArray)a!;
                var lb = (JsonArray)b!;
                for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
                {
                    var c = Compare(la[i], lb[i]);
                    if (c != 0)
                    {
                        return c;
                    }
                }
                return la.Count.CompareTo(lb.Count);
            }
            case Rank.Map:
            {
                var ka = ((JsonObject)a!).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
                var kb = ((JsonObject)b!).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
                for (var i = 0; i < Math.Min(ka.Count, kb.Count); i++)
                {
                    var c = string.CompareOrdinal(ka[i], kb[i]);
                    if (c == 0)
                    {
                        c = Compare(a![ka[i]], b![kb[i]]);
                    }
                    if (c != 0)
                    {
                        return c;
                    }
                }
                return ka.Count.CompareTo(kb.Count);
            }
            default:
                return 0;
        }
    }

    public static bool IsScalar(JsonNode? node) => node is null or JsonValue;

    /// <summary>
    /// JSON text as Go's encoding/json writes it (the form inside <c>k:</c> and <c>v:</c> elements): object keys
    /// sorted, HTML characters escaped, integers without a fraction. Equal values always give equal text.
    /// </summary>
    public static string ToCanonicalJson(JsonNode? node)
    {
        var sb = new StringBuilder();
        WriteCanonical(sb, node);
        return sb.ToString();
    }

    public static void WriteCanonical(StringBuilder sb, JsonNode? node)
    {
        switch (RankOf(node))
        {
            case Rank.Null:
                sb.Append("null");
                break;
            case Rank.Bool:
                sb.Append(node!.GetValue<bool>() ? "true" : "false");
                break;
            case Rank.Number:
                sb.Append(NumberText((JsonValue)node!, forPrint: false));
                break;
            case Rank.String:
                WriteGoJsonString(sb, node!.GetValue<string>());
                break;
            case Rank.List:
                sb.Append('[');
                var first = true;
                foreach (var item in (JsonArray)node!)
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    WriteCanonical(sb, item);
                }
                sb.Append(']');
                break;
            case Rank.Map:
                sb.Append('{');
                var firstKey = true;
                foreach (var (key, value) in ((JsonObject)node!).OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!firstKey)
                    {
                        sb.Append(',');
                    }
                    firstKey = false;
                    WriteGoJsonString(sb, key);
                    sb.Append(':');
                    WriteCanonical(sb, value);
                }
                sb.Append('}');
                break;
        }
    }

    /// <summary>Upstream value.ToString: strings Go-quoted (%q), numbers and booleans bare, as in conflict paths.</summary>
    public static string ToPrintable(JsonNode? node)
    {
        switch (RankOf(node))
        {
            case Rank.Null:
                return "null";
            case Rank.Bool:
                return node!.GetValue<bool>() ? "true" : "false";
            case Rank.Number:
                return NumberText((JsonValue)node!, forPrint: true);
            case Rank.String:
                return GoQuote(node!.GetValue<string>());
            case Rank.List:
                return "[" + string.Join(", ", ((JsonArray)node!).Select(ToPrintable)) + "]";
            default:
                return "{" + string.Join(", ", ((JsonObject)node!).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + ToPrintable(p.Value))) + "}";
        }
    }

    private static Rank RankOf(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return Rank.Null;
            case JsonObject:
                return Rank.Map;
            case JsonArray:
                return Rank.List;
            default:
                return node.GetValueKind() switch
                {
                    JsonValueKind.Number => Rank.Number,
                    JsonValueKind.String => Rank.String,
                    JsonValueKind.True or JsonValueKind.False => Rank.Bool,
                    JsonValueKind.Null => Rank.Null,
                    _ => Rank.String,
                };
        }
    }

    private static double AsDouble(JsonValue v) =>
        v.TryGetValue<double>(out var d) ? d : double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>
    /// Integers as digits; other numbers the shortest round-trip form, with Go's switch to exponent notation
    /// (encoding/json below 1e-6 or from 1e21; fmt's %v below 1e-4 or from 1e21).
    /// </summary>
    private static string NumberText(JsonValue v, bool forPrint)
    {
        if (v.TryGetValue<long>(out var l))
        {
            return l.ToString(CultureInfo.InvariantCulture);
        }
        var d = AsDouble(v);
        if (d == Math.Floor(d) && Math.Abs(d) < 1e15)
        {
            return ((long)d).ToString(CultureInfo.InvariantCulture);
        }
        var abs = Math.Abs(d);
        var small = forPrint ? 1e-4 : 1e-6;
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        if (abs != 0 && (abs < small || abs >= 1e21))
        {
            var e = d.ToString("0.################e+00", CultureInfo.InvariantCulture);
            // Go drops the leading zero of a two-digit negative exponent (e-07 → e-7) and keeps e+21 as is.
            return e.Replace("e-0", "e-", StringComparison.Ordinal);
        }
        if (!r.Contains('E', StringComparison.Ordinal))
        {
            return r;
        }
        return d.ToString("0.#############################", CultureInfo.InvariantCulture);
    }

    private static void WriteGoJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '<' or '>' or '&' or '\u2028' or '\u2029':
                case < ' ':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Go's strconv.Quote for the characters that occur in practice.</summary>
    private static string GoQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\a':
                    sb.Append("\\a");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\v':
                    sb.Append("\\v");
                    break;
                case < ' ' or '\u007f':
                    sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }
}
