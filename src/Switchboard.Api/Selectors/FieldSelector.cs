using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Switchboard.Api.Selectors;

/// <summary>Field selector operators; "=" and "==" are the same requirement upstream.</summary>
public enum FieldSelectorOperator
{
    Equals,
    NotEquals,
}

/// <summary>One <c>field=value</c> or <c>field!=value</c> term, value unescaped.</summary>
public sealed class FieldSelectorRequirement
{
    internal FieldSelectorRequirement(string field, FieldSelectorOperator op, string value)
    {
        Field = field;
        Operator = op;
        Value = value;
        ValueUtf8 = Encoding.UTF8.GetBytes(value);
    }

    public string Field { get; }

    public FieldSelectorOperator Operator { get; }

    public string Value { get; }

    internal byte[] ValueUtf8 { get; }

    /// <summary>Upstream hasTerm/notHasTerm String(), value re-escaped.</summary>
    public override string ToString() =>
        Field + (Operator == FieldSelectorOperator.Equals ? "=" : "!=") + FieldSelector.EscapeValue(Value);
}

/// <summary>
/// A field selector with upstream k8s.io/apimachinery/pkg/fields semantics: comma-separated
/// <c>field=value</c>, <c>field==value</c>, <c>field!=value</c> terms ANDed, with <c>\,</c> <c>\=</c> <c>\\</c>
/// escapes in values. A field an object does not carry reads as "". Immutable.
/// </summary>
public sealed class FieldSelector
{
    private readonly FieldSelectorRequirement[] _requirements;

    private FieldSelector(FieldSelectorRequirement[] requirements)
    {
        _requirements = requirements;
    }

    /// <summary>Matches everything.</summary>
    public static FieldSelector Everything { get; } = new([]);

    public bool IsEmpty => _requirements.Length == 0;

    /// <summary>The terms in upstream's order (sorted by their source text).</summary>
    public IReadOnlyList<FieldSelectorRequirement> Requirements => _requirements;

    /// <summary>Parses the <c>fieldSelector</c> query parameter; null or empty is <see cref="Everything"/>.
    /// This is syntax only: <see cref="ValidateFor"/> applies the per-kind field list.</summary>
    /// <exception cref="SelectorException">With upstream's message.</exception>
    public static FieldSelector Parse(string? selector)
    {
        if (string.IsNullOrEmpty(selector))
        {
            return Everything;
        }
        var parts = SplitTerms(selector);
        parts.Sort(StringComparer.Ordinal);
        var items = new List<FieldSelectorRequirement>(parts.Count);
        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                continue;
            }
            if (!TrySplitTerm(part, out var lhs, out var op, out var rhs))
            {
                throw new SelectorException($"invalid selector: '{selector}'; can't understand '{part}'");
            }
            items.Add(new FieldSelectorRequirement(lhs, op, UnescapeValue(rhs)));
        }
        return items.Count == 0 ? Everything : new FieldSelector([.. items]);
    }

    public static bool TryParse(string? selector, [NotNullWhen(true)] out FieldSelector? result, [NotNullWhen(false)] out string? error)
    {
        try
        {
            result = Parse(selector);
            error = null;
            return true;
        }
        catch (SelectorException e)
        {
            result = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Upstream's per-kind field label conversion (what the apiserver runs on every list, watch and
    /// deletecollection): rejects fields the kind does not support and rewrites legacy aliases
    /// (pods' <c>spec.host</c>). The exception message is the text kube-apiserver puts in its 400 Status.
    /// </summary>
    /// <exception cref="SelectorException">"field label not supported: x" or
    /// "\"x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"".</exception>
    public FieldSelector ValidateFor(FieldSelectorFields fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        if (_requirements.Length == 0)
        {
            return this;
        }
        var converted = new FieldSelectorRequirement[_requirements.Length];
        var changed = false;
        for (var i = 0; i < _requirements.Length; i++)
        {
            var r = _requirements[i];
            if (!fields.TryConvert(r.Field, out var canonical, out var error))
            {
                throw new SelectorException(error);
            }
            if (!string.Equals(canonical, r.Field, StringComparison.Ordinal))
            {
                changed = true;
                r = new FieldSelectorRequirement(canonical, r.Operator, r.Value);
            }
            converted[i] = r;
        }
        return changed ? new FieldSelector(converted) : this;
    }

    /// <summary>True when every term holds; <paramref name="fieldValue"/> returning null means "".</summary>
    public bool Matches(Func<string, string?> fieldValue)
    {
        ArgumentNullException.ThrowIfNull(fieldValue);
        foreach (var r in _requirements)
        {
            var equal = string.Equals(fieldValue(r.Field) ?? "", r.Value, StringComparison.Ordinal);
            if (equal != (r.Operator == FieldSelectorOperator.Equals))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Matches a stored object using the kind's field extractors; allocation-free.</summary>
    public bool Matches(JsonElement obj, FieldSelectorFields fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        foreach (var r in _requirements)
        {
            var equal = fields.FieldEquals(obj, r.Field, r.ValueUtf8);
            if (equal != (r.Operator == FieldSelectorOperator.Equals))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Upstream RequiresExactMatch: the value an "=" term demands for <paramref name="field"/>.</summary>
    public bool TryGetExactMatch(string field, [NotNullWhen(true)] out string? value)
    {
        foreach (var r in _requirements)
        {
            if (r.Operator == FieldSelectorOperator.Equals && string.Equals(r.Field, field, StringComparison.Ordinal))
            {
                value = r.Value;
                return true;
            }
        }
        value = null;
        return false;
    }

    public override string ToString() => string.Join(",", (IEnumerable<FieldSelectorRequirement>)_requirements);

    /// <summary>Upstream fields.EscapeValue: \ , = become \\ \, \=.</summary>
    public static string EscapeValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny('\\', ',', '=') < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length + 4);
        foreach (var c in value)
        {
            if (c is '\\' or ',' or '=')
            {
                sb.Append('\\');
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Upstream fields.UnescapeValue, with its error texts.</summary>
    /// <exception cref="SelectorException">An unknown escape or an unescaped ',' or '='.</exception>
    public static string UnescapeValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny('\\', ',', '=') < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length);
        var inSlash = false;
        foreach (var rune in value.EnumerateRunes())
        {
            var c = rune.Value;
            if (inSlash)
            {
                if (c is '\\' or ',' or '=')
                {
                    sb.Append((char)c);
                }
                else
                {
                    throw new SelectorException("invalid field selector: invalid escape sequence: \\" + rune.ToString());
                }
                inSlash = false;
                continue;
            }
            switch (c)
            {
                case '\\':
                    inSlash = true;
                    break;
                case ',' or '=':
                    // Go prints the rune with %v: its code point number.
                    throw new SelectorException("invalid field selector: unescaped character in value: " + c.ToString(System.Globalization.CultureInfo.InvariantCulture));
                default:
                    sb.Append(rune.ToString());
                    break;
            }
        }
        if (inSlash)
        {
            throw new SelectorException("invalid field selector: invalid escape sequence: \\");
        }
        return sb.ToString();
    }

    // Commas escaped with a backslash are data; the backslash stays for UnescapeValue.
    private static List<string> SplitTerms(string s)
    {
        var terms = new List<string>(1);
        var start = 0;
        var inSlash = false;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (inSlash)
            {
                inSlash = false;
            }
            else if (c == '\\')
            {
                inSlash = true;
            }
            else if (c == ',')
            {
                terms.Add(s[start..i]);
                start = i + 1;
            }
        }
        terms.Add(s[start..]);
        return terms;
    }

    // The first operator occurrence splits the term; "!=" and "==" are tried before "=" at each position.
    private static bool TrySplitTerm(string term, out string lhs, out FieldSelectorOperator op, out string rhs)
    {
        for (var i = 0; i < term.Length; i++)
        {
            var rest = term.AsSpan(i);
            if (rest.StartsWith("!=", StringComparison.Ordinal))
            {
                (lhs, op, rhs) = (term[..i], FieldSelectorOperator.NotEquals, term[(i + 2)..]);
                return true;
            }
            if (rest.StartsWith("==", StringComparison.Ordinal))
            {
                (lhs, op, rhs) = (term[..i], FieldSelectorOperator.Equals, term[(i + 2)..]);
                return true;
            }
            if (rest[0] == '=')
            {
                (lhs, op, rhs) = (term[..i], FieldSelectorOperator.Equals, term[(i + 1)..]);
                return true;
            }
        }
        (lhs, op, rhs) = ("", FieldSelectorOperator.Equals, "");
        return false;
    }
}
