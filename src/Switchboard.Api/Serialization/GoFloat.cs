using System.Globalization;
using System.Text;

namespace Switchboard.Api.Serialization;

/// <summary>
/// Go's float formatting where our output must read like upstream's: encoding/json for float64 values
/// and strconv.FormatFloat(f, 'g', -1, 32) for float map keys (what sigs.k8s.io/yaml does).
/// Both start from .NET's shortest round-trip digits, which are the same digits Go picks.
/// </summary>
internal static class GoFloat
{
    /// <summary>encoding/json: positional for 1e-6 &lt;= |f| &lt; 1e21, else exponent with "e-07" cleaned to "e-7".</summary>
    public static string FormatJson(double f)
    {
        var (negative, digits, dp) = Decompose(f.ToString("R", CultureInfo.InvariantCulture));
        var abs = Math.Abs(f);
        if (abs != 0 && (abs < 1e-6 || abs >= 1e21))
        {
            var e = FormatExponent(negative, digits, dp);
            return e.Contains("e-0", StringComparison.Ordinal) ? e.Replace("e-0", "e-", StringComparison.Ordinal) : e;
        }
        return FormatPositional(negative, digits, dp);
    }

    /// <summary>strconv.FormatFloat(f, 'g', -1, 32) with go-yaml's .inf/.nan spellings.</summary>
    public static string FormatG32(double value)
    {
        var f = (float)value;
        if (float.IsNaN(f))
        {
            return ".nan";
        }
        if (float.IsInfinity(f))
        {
            return f > 0 ? ".inf" : "-.inf";
        }
        var (negative, digits, dp) = Decompose(f.ToString("R", CultureInfo.InvariantCulture));
        var exp = dp - 1;
        // Shortest 'g' switches to %e when the exponent is < -4 or >= 6.
        return digits.Length > 0 && (exp < -4 || exp >= 6) ? FormatExponent(negative, digits, dp) : FormatPositional(negative, digits, dp);
    }

    // Splits .NET's "R" text ("-1.25E-07", "123.5") into sign, significant digits and the decimal point
    // position: value = 0.d1d2d3... * 10^dp.
    private static (bool Negative, string Digits, int Dp) Decompose(string s)
    {
        var negative = s.StartsWith('-');
        if (negative)
        {
            s = s[1..];
        }
        var exponent = 0;
        var e = s.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            s = s[..e];
        }
        var point = s.IndexOf('.', StringComparison.Ordinal);
        var intPart = point < 0 ? s : s[..point];
        var fracPart = point < 0 ? "" : s[(point + 1)..];
        var digits = intPart + fracPart;
        var dp = intPart.Length;
        var lead = 0;
        while (lead < digits.Length && digits[lead] == '0')
        {
            lead++;
        }
        digits = digits[lead..].TrimEnd('0');
        dp -= lead;
        return digits.Length == 0 ? (negative, "", 0) : (negative, digits, dp + exponent);
    }

    private static string FormatPositional(bool negative, string digits, int dp)
    {
        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }
        if (digits.Length == 0)
        {
            return sb.Append('0').ToString();
        }
        if (dp <= 0)
        {
            sb.Append("0.").Append('0', -dp).Append(digits);
        }
        else if (dp >= digits.Length)
        {
            sb.Append(digits).Append('0', dp - digits.Length);
        }
        else
        {
            sb.Append(digits, 0, dp).Append('.').Append(digits, dp, digits.Length - dp);
        }
        return sb.ToString();
    }

    private static string FormatExponent(bool negative, string digits, int dp)
    {
        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }
        sb.Append(digits[0]);
        if (digits.Length > 1)
        {
            sb.Append('.').Append(digits, 1, digits.Length - 1);
        }
        var exp = dp - 1;
        sb.Append('e').Append(exp < 0 ? '-' : '+');
        var abs = Math.Abs(exp);
        if (abs < 10)
        {
            sb.Append('0');
        }
        return sb.Append(abs.ToString(CultureInfo.InvariantCulture)).ToString();
    }
}
