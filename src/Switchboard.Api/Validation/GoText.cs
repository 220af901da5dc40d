using System.Globalization;
using System.Text;

namespace Switchboard.Api.Validation;

/// <summary>
/// Go's formatting of values and upstream's shared message builders (k8s.io/apimachinery/pkg/util/validation
/// RegexError, MaxLenError, InclusiveRangeError), so that error text matches kube-apiserver byte for byte.
/// </summary>
public static class GoText
{
    /// <summary>Go's %q for a string (strconv.Quote): printable runes kept, quotes and controls escaped.</summary>
    public static string Quote(string s)
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
    public static string StringSlice(IReadOnlyList<string>? values) => Slice("[]string", values, Quote);

    /// <summary>Go's %#v for a slice of a named string type, e.g. []networking.PolicyType{"Ingress"}.</summary>
    public static string Slice(string goType, IReadOnlyList<string>? values, Func<string, string> element)
    {
        ArgumentNullException.ThrowIfNull(element);
        if (values is null)
        {
            return goType + "(nil)";
        }
        var sb = new StringBuilder(goType).Append('{');
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(element(values[i]));
        }
        return sb.Append('}').ToString();
    }

    /// <summary>Upstream RegexError, including its doubled spaces before " or ".</summary>
    public static string RegexError(string msg, string fmt, params string[] examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Length == 0)
        {
            return msg + " (regex used for validation is '" + fmt + "')";
        }
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

    /// <summary>v1.33 wording; later releases say "bytes".</summary>
    public static string MaxLenError(int length) => "must be no more than " + length.ToString(CultureInfo.InvariantCulture) + " characters";

    public static string EmptyError() => "must be non-empty";

    public static string InclusiveRangeError(long lo, long hi) =>
        string.Create(CultureInfo.InvariantCulture, $"must be between {lo} and {hi}, inclusive");

    /// <summary>Go measures strings in bytes.</summary>
    public static int ByteLength(string s) => Encoding.UTF8.GetByteCount(s);
}
