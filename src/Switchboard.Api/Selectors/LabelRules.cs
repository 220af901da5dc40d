using System.Globalization;
using System.Text;

namespace Switchboard.Api.Selectors;

/// <summary>
/// Label key and value rules with kube-apiserver v1.33's messages (k8s.io/apimachinery/pkg/util/validation:
/// IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain). Hand-written character checks instead of
/// regular expressions: they run on every selector parse, and .NET's '$' would accept a trailing newline
/// that Go's RE2 rejects.
/// </summary>
internal static class LabelRules
{
    private const string QualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    private const string LabelValueFmt = "(" + QualifiedNameFmt + ")?";
    private const string Dns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    private const string QualifiedNameErrMsg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    private const string LabelValueErrMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    private const string Dns1123SubdomainErrMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    private const int QualifiedNameMaxLength = 63;
    private const int LabelValueMaxLength = 63;
    private const int Dns1123SubdomainMaxLength = 253;

    private static readonly string QualifiedNameRegexError = RegexError(QualifiedNameErrMsg, QualifiedNameFmt, "MyName", "my.name", "123-abc");
    private static readonly string LabelValueRegexError = RegexError(LabelValueErrMsg, LabelValueFmt, "MyValue", "my_value", "12345");
    private static readonly string Dns1123SubdomainRegexError = RegexError(Dns1123SubdomainErrMsg, Dns1123SubdomainFmt, "example.com");

    /// <summary>Upstream IsQualifiedName (label keys); null when valid.</summary>
    public static List<string>? KeyErrors(string value)
    {
        List<string>? errs = null;
        string name;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            name = value;
        }
        else if (value.IndexOf('/', slash + 1) >= 0)
        {
            return
            [
                "a qualified name " + QualifiedNameRegexError + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            ];
        }
        else
        {
            var prefix = value[..slash];
            name = value[(slash + 1)..];
            if (prefix.Length == 0)
            {
                (errs ??= []).Add("prefix part must be non-empty");
            }
            else
            {
                if (ByteLength(prefix) > Dns1123SubdomainMaxLength)
                {
                    (errs ??= []).Add("prefix part " + MaxLenError(Dns1123SubdomainMaxLength));
                }
                if (!IsDns1123Subdomain(prefix))
                {
                    (errs ??= []).Add("prefix part " + Dns1123SubdomainRegexError);
                }
            }
        }

        if (name.Length == 0)
        {
            (errs ??= []).Add("name part must be non-empty");
        }
        else if (ByteLength(name) > QualifiedNameMaxLength)
        {
            (errs ??= []).Add("name part " + MaxLenError(QualifiedNameMaxLength));
        }
        // Upstream runs the regex even on an empty name, so "" reports both messages.
        if (!IsQualifiedNamePart(name))
        {
            (errs ??= []).Add("name part " + QualifiedNameRegexError);
        }
        return errs;
    }

    /// <summary>Upstream IsValidLabelValue; null when valid.</summary>
    public static List<string>? ValueErrors(string value)
    {
        List<string>? errs = null;
        if (ByteLength(value) > LabelValueMaxLength)
        {
            (errs ??= []).Add(MaxLenError(LabelValueMaxLength));
        }
        if (value.Length != 0 && !IsQualifiedNamePart(value))
        {
            (errs ??= []).Add(LabelValueRegexError);
        }
        return errs;
    }

    /// <summary>field.Error text for an Invalid string value: "path: Invalid value: "v": detail".</summary>
    public static string Invalid(string path, string value, string detail) =>
        path + ": Invalid value: " + GoQuote(value) + ": " + detail;

    /// <summary>Go's %q for a string (strconv.Quote): printable runes kept, quotes and controls escaped.</summary>
    public static string GoQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\v': sb.Append("\\v"); break;
                default:
                    if (c < 0x20 || c == 0x7f)
                    {
                        sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Go's %#v for a []string: []string{"a", "b"}, []string{} or []string(nil).</summary>
    public static string GoStringSlice(IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return "[]string(nil)";
        }
        var sb = new StringBuilder("[]string{");
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(GoQuote(values[i]));
        }
        return sb.Append('}').ToString();
    }

    private static bool IsQualifiedNamePart(string s)
    {
        if (s.Length == 0 || !IsAlphaNumeric(s[0]) || !IsAlphaNumeric(s[^1]))
        {
            return false;
        }
        foreach (var c in s)
        {
            if (!IsAlphaNumeric(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsDns1123Subdomain(string s)
    {
        foreach (var label in s.Split('.'))
        {
            if (label.Length == 0 || !IsLowerAlphaNumeric(label[0]) || !IsLowerAlphaNumeric(label[^1]))
            {
                return false;
            }
            foreach (var c in label)
            {
                if (!IsLowerAlphaNumeric(c) && c != '-')
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool IsAlphaNumeric(char c) => char.IsAsciiLetterOrDigit(c);

    private static bool IsLowerAlphaNumeric(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);

    // Go measures strings in bytes.
    private static int ByteLength(string s) => Encoding.UTF8.GetByteCount(s);

    // v1.33 wording; later releases say "bytes".
    private static string MaxLenError(int length) => "must be no more than " + length.ToString(CultureInfo.InvariantCulture) + " characters";

    // Upstream validation.RegexError, including its doubled spaces before " or ".
    private static string RegexError(string msg, string fmt, params string[] examples)
    {
        var sb = new StringBuilder(msg).Append(" (e.g. ");
        for (var i = 0; i < examples.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(" or ");
            }
            sb.Append('\'').Append(examples[i]).Append("', ");
        }
        return sb.Append("regex used for validation is '").Append(fmt).Append("')").ToString();
    }
}
