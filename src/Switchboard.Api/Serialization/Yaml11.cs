using System.Globalization;
using System.Text;

namespace Switchboard.Api.Serialization;

internal enum YamlScalarKind
{
    Null,
    Bool,
    Int,
    UInt,
    Float,
    String,
}

/// <summary>A resolved YAML scalar.</summary>
internal readonly record struct YamlScalar(YamlScalarKind Kind, string Text, long Int = 0, ulong UInt = 0, double Float = 0, bool Bool = false);

/// <summary>
/// Scalar resolution as go-yaml v2 does it (resolve.go), which is what kube-apiserver applies to YAML
/// bodies through sigs.k8s.io/yaml: YAML 1.1 booleans (y, yes, on, off, n, no and their case variants),
/// null as "", ~, null, Null, NULL; integers through Go's strconv.ParseInt base 0 after removing
/// underscores (so 0x1F, 0o17, 0b101 and C-style octal 0777); floats matching go-yaml's float pattern;
/// .inf/.nan; timestamps stay strings.
/// </summary>
internal static class Yaml11
{
    public const string StrTag = "tag:yaml.org,2002:str";
    public const string BoolTag = "tag:yaml.org,2002:bool";
    public const string IntTag = "tag:yaml.org,2002:int";
    public const string FloatTag = "tag:yaml.org,2002:float";
    public const string NullTag = "tag:yaml.org,2002:null";
    public const string TimestampTag = "tag:yaml.org,2002:timestamp";
    public const string BinaryTag = "tag:yaml.org,2002:binary";
    public const string MergeTag = "tag:yaml.org,2002:merge";

    private static readonly Dictionary<string, (string Tag, YamlScalar Value)> Map = BuildMap();

    /// <summary>Resolves a scalar with its tag ("" when untagged); null with an error text on a tag mismatch.</summary>
    public static YamlScalar? Resolve(string tag, string input, out string? error)
    {
        error = null;
        if (tag is not ("" or StrTag or BoolTag or IntTag or FloatTag or TimestampTag))
        {
            // go-yaml hands unresolvable tags (custom ones, !!null, !!merge) back as the string itself.
            if (tag == BinaryTag)
            {
                try
                {
                    var bytes = Convert.FromBase64String(input.Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal));
                    return new YamlScalar(YamlScalarKind.String, Encoding.UTF8.GetString(bytes));
                }
                catch (FormatException)
                {
                    error = "!!binary value contains invalid base64 data";
                    return null;
                }
            }
            return new YamlScalar(YamlScalarKind.String, input);
        }

        var (rtag, value) = ResolveImplicit(tag, input);
        if (tag.Length == 0 || tag == rtag || tag == StrTag)
        {
            return value;
        }
        if (tag == FloatTag && rtag == IntTag)
        {
            var f = value.Kind == YamlScalarKind.UInt ? value.UInt : (double)value.Int;
            return new YamlScalar(YamlScalarKind.Float, input, Float: f);
        }
        error = $"cannot decode {ShortTag(rtag)} `{input}` as a {ShortTag(tag)}";
        return null;
    }

    /// <summary>
    /// True when go-yaml would not read this string back as a string if written plain: it resolves to
    /// another type, looks like a timestamp, or is a base-60 number (go-yaml quotes those too).
    /// </summary>
    /// <remarks>"&lt;&lt;" is quoted too, which go-yaml does not do: written plain as a key it would read back as a merge.</remarks>
    public static bool NeedsQuotes(string s) =>
        ResolveImplicit("", s).Tag != StrTag || IsTimestampLike(s) || IsBase60Float(s) || s == "<<";

    private static (string Tag, YamlScalar Value) ResolveImplicit(string tag, string input)
    {
        var hint = input.Length == 0 ? 'N' : Hint(input[0]);
        if (hint != '\0' && tag != StrTag)
        {
            if (Map.TryGetValue(input, out var item))
            {
                return item;
            }
            switch (hint)
            {
                case '.':
                    if (IsYamlStyleFloat(input) && TryParseFiniteDouble(input, out var dot))
                    {
                        return (FloatTag, new YamlScalar(YamlScalarKind.Float, input, Float: dot));
                    }
                    break;
                case 'D' or 'S':
                    if ((tag.Length == 0 || tag == TimestampTag) && IsTimestampLike(input))
                    {
                        return (TimestampTag, new YamlScalar(YamlScalarKind.String, input));
                    }
                    var plain = input.Replace("_", "", StringComparison.Ordinal);
                    if (TryParseGoInt(plain, out var i))
                    {
                        return (IntTag, new YamlScalar(YamlScalarKind.Int, input, Int: i));
                    }
                    if (TryParseGoUint(plain, out var u))
                    {
                        return (IntTag, new YamlScalar(YamlScalarKind.UInt, input, UInt: u));
                    }
                    if (IsYamlStyleFloat(plain) && TryParseFiniteDouble(plain, out var f))
                    {
                        return (FloatTag, new YamlScalar(YamlScalarKind.Float, input, Float: f));
                    }
                    break;
            }
        }
        return (StrTag, new YamlScalar(YamlScalarKind.String, input));
    }

    private static char Hint(char c) => c switch
    {
        '+' or '-' => 'S',
        >= '0' and <= '9' => 'D',
        'y' or 'Y' or 'n' or 'N' or 't' or 'T' or 'f' or 'F' or 'o' or 'O' or '~' => 'M',
        '.' => '.',
        _ => '\0',
    };

    private static Dictionary<string, (string, YamlScalar)> BuildMap()
    {
        var map = new Dictionary<string, (string, YamlScalar)>(StringComparer.Ordinal);
        foreach (var s in new[] { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON" })
        {
            map[s] = (BoolTag, new YamlScalar(YamlScalarKind.Bool, s, Bool: true));
        }
        foreach (var s in new[] { "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF" })
        {
            map[s] = (BoolTag, new YamlScalar(YamlScalarKind.Bool, s, Bool: false));
        }
        foreach (var s in new[] { "", "~", "null", "Null", "NULL" })
        {
            map[s] = (NullTag, new YamlScalar(YamlScalarKind.Null, s));
        }
        foreach (var s in new[] { ".nan", ".NaN", ".NAN" })
        {
            map[s] = (FloatTag, new YamlScalar(YamlScalarKind.Float, s, Float: double.NaN));
        }
        foreach (var s in new[] { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF" })
        {
            map[s] = (FloatTag, new YamlScalar(YamlScalarKind.Float, s, Float: double.PositiveInfinity));
        }
        foreach (var s in new[] { "-.inf", "-.Inf", "-.INF" })
        {
            map[s] = (FloatTag, new YamlScalar(YamlScalarKind.Float, s, Float: double.NegativeInfinity));
        }
        map["<<"] = (MergeTag, new YamlScalar(YamlScalarKind.String, "<<"));
        return map;
    }

    private static string ShortTag(string tag) =>
        tag.StartsWith("tag:yaml.org,2002:", StringComparison.Ordinal) ? "!!" + tag["tag:yaml.org,2002:".Length..] : tag;

    // Go strconv.ParseInt(s, 0, 64).
    private static bool TryParseGoInt(string s, out long value)
    {
        value = 0;
        if (s.Length == 0)
        {
            return false;
        }
        var negative = false;
        var body = s;
        if (s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            body = s[1..];
        }
        if (!TryParseGoUint(body, out var u))
        {
            return false;
        }
        if (!negative && u > long.MaxValue)
        {
            return false;
        }
        if (negative && u > (ulong)long.MaxValue + 1)
        {
            return false;
        }
        value = negative ? (long)(0 - u) : (long)u;
        return true;
    }

    // Go strconv.ParseUint(s, 0, 64): 0b/0o/0x prefixes, a bare leading 0 means octal.
    private static bool TryParseGoUint(string s, out ulong value)
    {
        value = 0;
        if (s.Length == 0)
        {
            return false;
        }
        var numberBase = 10u;
        var skip = 0;
        if (s[0] == '0')
        {
            var second = s.Length >= 3 ? char.ToLowerInvariant(s[1]) : '\0';
            (numberBase, skip) = second switch
            {
                'b' => (2u, 2),
                'o' => (8u, 2),
                'x' => (16u, 2),
                _ => (8u, 1),
            };
        }
        var digits = s.AsSpan(skip);
        ulong n = 0;
        foreach (var c in digits)
        {
            uint d = c switch
            {
                >= '0' and <= '9' => (uint)(c - '0'),
                >= 'a' and <= 'z' => (uint)(c - 'a' + 10),
                >= 'A' and <= 'Z' => (uint)(c - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (d >= numberBase)
            {
                return false;
            }
            if (n > (ulong.MaxValue - d) / numberBase)
            {
                return false;
            }
            n = (n * numberBase) + d;
        }
        value = n;
        return true;
    }

    // go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    private static bool IsYamlStyleFloat(string s)
    {
        var i = 0;
        if (i < s.Length && s[i] is '+' or '-')
        {
            i++;
        }
        if (i < s.Length && s[i] == '.')
        {
            i++;
            if (!Digits(s, ref i))
            {
                return false;
            }
        }
        else
        {
            if (!Digits(s, ref i))
            {
                return false;
            }
            if (i < s.Length && s[i] == '.')
            {
                i++;
                Digits(s, ref i);
            }
        }
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '+' or '-')
            {
                i++;
            }
            if (!Digits(s, ref i))
            {
                return false;
            }
        }
        return i == s.Length;
    }

    // Go's ParseFloat reports overflow as an error, so go-yaml keeps "1e400" a string.
    private static bool TryParseFiniteDouble(string s, out double value) =>
        double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value)
        && double.IsFinite(value);

    private static bool Digits(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }
        return i > start;
    }

    // go-yaml parseTimestamp's shapes (YYYY-M-D, optionally [Tt ]H:M:S[.frac][zone]), loosely: it only
    // decides quoting on output and the !!timestamp tag, never a value's type (timestamps stay strings).
    private static bool IsTimestampLike(string s)
    {
        if (s.Length < 8 || !char.IsAsciiDigit(s[0]) || !char.IsAsciiDigit(s[1]) || !char.IsAsciiDigit(s[2]) || !char.IsAsciiDigit(s[3]) || s[4] != '-')
        {
            return false;
        }
        var i = 5;
        if (!DigitsUpTo(s, ref i, 2) || i >= s.Length || s[i] != '-')
        {
            return false;
        }
        i++;
        if (!DigitsUpTo(s, ref i, 2))
        {
            return false;
        }
        if (i == s.Length)
        {
            return true;
        }
        if (s[i] is not ('T' or 't' or ' '))
        {
            return false;
        }
        for (i++; i < s.Length; i++)
        {
            if (!char.IsAsciiDigit(s[i]) && s[i] is not (':' or '.' or 'Z' or 'z' or '+' or '-'))
            {
                return false;
            }
        }
        return s.Contains(':', StringComparison.Ordinal);
    }

    private static bool DigitsUpTo(string s, ref int i, int max)
    {
        var start = i;
        while (i < s.Length && i - start < max && char.IsAsciiDigit(s[i]))
        {
            i++;
        }
        return i > start;
    }

    // go-yaml's isBase60Float: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    private static bool IsBase60Float(string s)
    {
        var i = 0;
        if (i < s.Length && s[i] is '+' or '-')
        {
            i++;
        }
        if (i >= s.Length || !char.IsAsciiDigit(s[i]))
        {
            return false;
        }
        i++;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '_'))
        {
            i++;
        }
        var groups = 0;
        while (i < s.Length && s[i] == ':')
        {
            i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 2)
            {
                i++;
            }
            var len = i - start;
            if (len == 0 || (len == 2 && s[start] > '5'))
            {
                return false;
            }
            groups++;
        }
        if (groups == 0)
        {
            return false;
        }
        if (i < s.Length && s[i] == '.')
        {
            i++;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '_'))
            {
                i++;
            }
        }
        return i == s.Length;
    }
}
