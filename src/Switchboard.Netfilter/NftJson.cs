using System.Globalization;
using System.Text.Json;

namespace Switchboard.Netfilter;

/// <summary>Turns nft's JSON set/map elements back into <see cref="NftElement"/> parts as nft prints them in text.</summary>
internal static class NftJson
{
    public static NftElement Element(JsonElement elem, string? set, string? map)
    {
        string? comment = null;
        JsonElement key;
        JsonElement? value = null;
        if (elem.ValueKind == JsonValueKind.Array)
        {
            // map element: [key, value]
            key = elem[0];
            value = elem[1];
        }
        else
        {
            key = elem;
        }
        if (key.ValueKind == JsonValueKind.Object && key.TryGetProperty("elem", out var inner))
        {
            comment = inner.TryGetProperty("comment", out var c) ? c.GetString() : null;
            key = inner.GetProperty("val");
        }
        return new NftElement
        {
            Set = set,
            Map = map,
            Key = Parts(key),
            Value = value is { } v ? Parts(v) : [],
            Comment = comment,
        };
    }

    private static EquatableArray<string> Parts(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("concat", out var concat)
            ? concat.EnumerateArray().Select(Part).ToEquatableArray()
            : [Part(e)];

    private static string Part(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return e.GetString()!;
            case JsonValueKind.Number:
                return e.GetRawText();
            case JsonValueKind.Object:
                if (e.TryGetProperty("prefix", out var prefix))
                {
                    return Part(prefix.GetProperty("addr")) + "/" + prefix.GetProperty("len").GetInt32().ToString(CultureInfo.InvariantCulture);
                }
                if (e.TryGetProperty("range", out var range))
                {
                    return Part(range[0]) + "-" + Part(range[1]);
                }
                if (e.TryGetProperty("goto", out var g))
                {
                    return "goto " + g.GetProperty("target").GetString();
                }
                if (e.TryGetProperty("jump", out var j))
                {
                    return "jump " + j.GetProperty("target").GetString();
                }
                foreach (var verdict in (string[])["accept", "drop", "continue", "return"])
                {
                    if (e.TryGetProperty(verdict, out _))
                    {
                        return verdict;
                    }
                }
                return e.GetRawText();
            default:
                return e.GetRawText();
        }
    }
}
