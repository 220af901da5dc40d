using System.Text;

namespace Switchboard.Agnhost.Http;

/// <summary>The parts of Go's net/url that handlers see: query values, path unescaping, path cleaning.</summary>
internal static class GoUrl
{
    /// <summary>
    /// url.Values.Get over a raw query: the first value for <paramref name="key"/>. Pairs with a bad escape or a
    /// semicolon are skipped, as url.ParseQuery does. Null when absent.
    /// </summary>
    public static string? QueryGet(string rawQuery, string key)
    {
        var rest = rawQuery.AsSpan();
        while (!rest.IsEmpty)
        {
            var amp = rest.IndexOf('&');
            var pair = amp >= 0 ? rest[..amp] : rest;
            rest = amp >= 0 ? rest[(amp + 1)..] : [];
            if (pair.IsEmpty || pair.Contains(';'))
            {
                continue;
            }

            var eq = pair.IndexOf('=');
            var rawKey = eq >= 0 ? pair[..eq] : pair;
            var rawValue = eq >= 0 ? pair[(eq + 1)..] : [];
            if (!TryUnescape(rawKey, true, out var k) || k != key)
            {
                continue;
            }

            if (TryUnescape(rawValue, true, out var v))
            {
                return v;
            }
        }

        return null;
    }

    /// <summary>Percent-decoding as url.QueryUnescape (plus=true) or url.PathUnescape; false on a bad escape.</summary>
    public static bool TryUnescape(ReadOnlySpan<char> s, bool plusIsSpace, out string value)
    {
        if (s.IndexOfAny('%', '+') < 0)
        {
            value = s.ToString();
            return true;
        }

        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(s.Length)];
        var n = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '%')
            {
                if (i + 2 >= s.Length || !IsHex(s[i + 1]) || !IsHex(s[i + 2]))
                {
                    value = string.Empty;
                    return false;
                }

                bytes[n++] = (byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2]));
                i += 2;
            }
            else if (c == '+' && plusIsSpace)
            {
                bytes[n++] = (byte)' ';
            }
            else
            {
                n += Encoding.UTF8.GetBytes(s.Slice(i, char.IsHighSurrogate(c) && i + 1 < s.Length ? 2 : 1), bytes.AsSpan(n));
                if (char.IsHighSurrogate(c) && i + 1 < s.Length)
                {
                    i++;
                }
            }
        }

        value = Encoding.UTF8.GetString(bytes, 0, n);
        return true;
    }

    /// <summary>Go's ServeMux cleanPath: path.Clean, keeping a trailing slash.</summary>
    public static string CleanPath(string p)
    {
        if (p.Length == 0)
        {
            return "/";
        }

        if (p[0] != '/')
        {
            p = "/" + p;
        }

        var cleaned = Clean(p);
        if (p[^1] == '/' && cleaned != "/")
        {
            cleaned += "/";
        }

        return cleaned;
    }

    /// <summary>path.Clean for a rooted or relative slash-separated path.</summary>
    public static string Clean(string p)
    {
        if (p.Length == 0)
        {
            return ".";
        }

        var rooted = p[0] == '/';
        var parts = new List<string>();
        foreach (var segment in p.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                else if (!rooted)
                {
                    parts.Add("..");
                }

                continue;
            }

            parts.Add(segment);
        }

        var joined = string.Join('/', parts);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    /// <summary>html.EscapeString-like escaping used by http.Redirect's body.</summary>
    public static string HtmlEscape(string s) => s
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&#34;", StringComparison.Ordinal)
        .Replace("'", "&#39;", StringComparison.Ordinal);

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
