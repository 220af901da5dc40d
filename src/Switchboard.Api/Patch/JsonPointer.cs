using System.Text;

namespace Switchboard.Api.Patch;

/// <summary>RFC 6901 JSON pointers: "" is the whole document, "/a/0" member a then index 0; "~1" is "/" and "~0" is "~".</summary>
internal static class JsonPointer
{
    /// <summary>
    /// Splits and unescapes <paramref name="pointer"/>. False when it is neither empty nor starts with "/". Unknown
    /// escapes ("~2") are kept literally, as upstream's decoder does.
    /// </summary>
    public static bool TryParse(string pointer, out string[] tokens)
    {
        if (pointer.Length == 0)
        {
            tokens = [];
            return true;
        }
        if (pointer[0] != '/')
        {
            tokens = [];
            return false;
        }
        tokens = pointer[1..].Split('/');
        for (var i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].Contains('~', StringComparison.Ordinal))
            {
                tokens[i] = Unescape(tokens[i]);
            }
        }
        return true;
    }

    // One left-to-right pass, so "~01" is "~1" and not "/" (RFC 6901 §4).
    private static string Unescape(string token)
    {
        var text = new StringBuilder(token.Length);
        for (var i = 0; i < token.Length; i++)
        {
            if (token[i] == '~' && i + 1 < token.Length && token[i + 1] is '0' or '1')
            {
                text.Append(token[i + 1] == '0' ? '~' : '/');
                i++;
            }
            else
            {
                text.Append(token[i]);
            }
        }
        return text.ToString();
    }
}
