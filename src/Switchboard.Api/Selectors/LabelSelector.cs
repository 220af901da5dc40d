using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.Api.Selectors;

/// <summary>Operators of a label requirement (k8s.io/apimachinery/pkg/selection).</summary>
public enum LabelSelectorOperator
{
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// <summary>
/// One requirement of a label selector (upstream labels.Requirement). Keys and values are kept as UTF-8
/// too, so matching a stored object's JSON labels needs no transcoding or allocation.
/// </summary>
public sealed class LabelSelectorRequirement
{
    private readonly byte[] _keyUtf8;
    private readonly byte[][] _valuesUtf8;
    private readonly long _bound;

    private LabelSelectorRequirement(string key, LabelSelectorOperator op, ImmutableArray<string> values)
    {
        Key = key;
        Operator = op;
        Values = values;
        _keyUtf8 = Encoding.UTF8.GetBytes(key);
        _valuesUtf8 = new byte[values.Length][];
        for (var i = 0; i < values.Length; i++)
        {
            _valuesUtf8[i] = Encoding.UTF8.GetBytes(values[i]);
        }
        if (op is LabelSelectorOperator.GreaterThan or LabelSelectorOperator.LessThan)
        {
            _ = TryParseInt64(values[0], out _bound);
        }
    }

    public string Key { get; }

    public LabelSelectorOperator Operator { get; }

    /// <summary>The values in the order given (parsed selectors give them sorted and de-duplicated, as upstream).</summary>
    public ImmutableArray<string> Values { get; }

    /// <summary>
    /// Upstream NewRequirement: validates the key, the value count for the operator and every value.
    /// Throws <see cref="SelectorException"/> with upstream's aggregated field-error text.
    /// </summary>
    public static LabelSelectorRequirement Create(string key, LabelSelectorOperator op, IEnumerable<string>? values)
    {
        ArgumentNullException.ThrowIfNull(key);
        var list = values?.ToList();
        var errors = Validate(key, op, list);
        if (errors is not null)
        {
            throw new SelectorException(Aggregate(errors));
        }
        return new LabelSelectorRequirement(key, op, list is null ? [] : [.. list]);
    }

    internal static LabelSelectorRequirement CreateUnchecked(string key, LabelSelectorOperator op, ImmutableArray<string> values) => new(key, op, values);

    /// <summary>Upstream Requirement.Matches.</summary>
    public bool Matches(IDictionary<string, string>? labels)
    {
        string? value = null;
        var exists = labels is not null && labels.TryGetValue(Key, out value);
        switch (Operator)
        {
            case LabelSelectorOperator.In or LabelSelectorOperator.Equals or LabelSelectorOperator.DoubleEquals:
                return exists && HasValue(value!);
            case LabelSelectorOperator.NotIn or LabelSelectorOperator.NotEquals:
                return !exists || !HasValue(value!);
            case LabelSelectorOperator.Exists:
                return exists;
            case LabelSelectorOperator.DoesNotExist:
                return !exists;
            case LabelSelectorOperator.GreaterThan or LabelSelectorOperator.LessThan:
                return exists && TryParseInt64(value!, out var n) && Compare(n);
            default:
                return false;
        }
    }

    /// <summary>Matches against a labels JSON object (or an undefined/null element: no labels). Allocation-free.</summary>
    public bool Matches(JsonElement labels)
    {
        var exists = false;
        var value = default(JsonElement);
        if (labels.ValueKind == JsonValueKind.Object)
        {
            exists = labels.TryGetProperty(_keyUtf8, out value);
        }
        switch (Operator)
        {
            case LabelSelectorOperator.In or LabelSelectorOperator.Equals or LabelSelectorOperator.DoubleEquals:
                return exists && HasValue(value);
            case LabelSelectorOperator.NotIn or LabelSelectorOperator.NotEquals:
                return !exists || !HasValue(value);
            case LabelSelectorOperator.Exists:
                return exists;
            case LabelSelectorOperator.DoesNotExist:
                return !exists;
            case LabelSelectorOperator.GreaterThan or LabelSelectorOperator.LessThan:
                return exists && TryParseInt64(value, out var n) && Compare(n);
            default:
                return false;
        }
    }

    /// <summary>Upstream Requirement.String: "k=v", "k in (a,b)", "!k", values sorted for display.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendTo(sb);
        return sb.ToString();
    }

    internal void AppendTo(StringBuilder sb)
    {
        if (Operator == LabelSelectorOperator.DoesNotExist)
        {
            sb.Append('!');
        }
        sb.Append(Key);
        switch (Operator)
        {
            case LabelSelectorOperator.Equals: sb.Append('='); break;
            case LabelSelectorOperator.DoubleEquals: sb.Append("=="); break;
            case LabelSelectorOperator.NotEquals: sb.Append("!="); break;
            case LabelSelectorOperator.In: sb.Append(" in "); break;
            case LabelSelectorOperator.NotIn: sb.Append(" notin "); break;
            case LabelSelectorOperator.GreaterThan: sb.Append('>'); break;
            case LabelSelectorOperator.LessThan: sb.Append('<'); break;
            default: return;
        }
        var set = Operator is LabelSelectorOperator.In or LabelSelectorOperator.NotIn;
        if (set)
        {
            sb.Append('(');
        }
        if (Values.Length == 1)
        {
            sb.Append(Values[0]);
        }
        else
        {
            var sorted = Values.ToArray();
            Array.Sort(sorted, StringComparer.Ordinal);
            sb.AppendJoin(',', sorted);
        }
        if (set)
        {
            sb.Append(')');
        }
    }

    internal static List<string>? Validate(string key, LabelSelectorOperator op, IReadOnlyList<string>? values)
    {
        List<string>? errors = null;
        if (NameValidation.IsQualifiedName(key) is { Count: > 0 } keyErrors)
        {
            (errors ??= []).Add(FieldError.Invalid("key", key, string.Join("; ", keyErrors)).ToString());
        }
        var count = values?.Count ?? 0;
        switch (op)
        {
            case LabelSelectorOperator.In or LabelSelectorOperator.NotIn:
                if (count == 0)
                {
                    (errors ??= []).Add("values: Invalid value: " + GoText.StringSlice(values) + ": for 'in', 'notin' operators, values set can't be empty");
                }
                break;
            case LabelSelectorOperator.Equals or LabelSelectorOperator.DoubleEquals or LabelSelectorOperator.NotEquals:
                if (count != 1)
                {
                    (errors ??= []).Add("values: Invalid value: " + GoText.StringSlice(values) + ": exact-match compatibility requires one single value");
                }
                break;
            case LabelSelectorOperator.Exists or LabelSelectorOperator.DoesNotExist:
                if (count != 0)
                {
                    (errors ??= []).Add("values: Invalid value: " + GoText.StringSlice(values) + ": values set must be empty for exists and does not exist");
                }
                break;
            case LabelSelectorOperator.GreaterThan or LabelSelectorOperator.LessThan:
                if (count != 1)
                {
                    (errors ??= []).Add("values: Invalid value: " + GoText.StringSlice(values) + ": for 'Gt', 'Lt' operators, exactly one value is required");
                }
                for (var i = 0; i < count; i++)
                {
                    if (!TryParseInt64(values![i], out _))
                    {
                        (errors ??= []).Add(FieldError.Invalid(Index(i), values[i], "for 'Gt', 'Lt' operators, the value must be an integer").ToString());
                    }
                }
                break;
            default:
                (errors ??= []).Add("operator: Unsupported value: " + GoText.Quote(op.ToString()) + ": supported values: \"in\", \"notin\", \"=\", \"==\", \"!=\", \"gt\", \"lt\", \"exists\", \"!\"");
                break;
        }
        for (var i = 0; i < count; i++)
        {
            if (NameValidation.IsValidLabelValue(values![i]) is { Count: > 0 } valueErrors)
            {
                (errors ??= []).Add(FieldError.Invalid(Index(i) + "[" + key + "]", values[i], string.Join("; ", valueErrors)).ToString());
            }
        }
        return errors;

        static string Index(int i) => "values[" + i.ToString(CultureInfo.InvariantCulture) + "]";
    }

    /// <summary>utilerrors.NewAggregate(...).Error(): one message alone, several de-duplicated in brackets.</summary>
    internal static string Aggregate(List<string> errors)
    {
        if (errors.Count == 1)
        {
            return errors[0];
        }
        var seen = new List<string>(errors.Count);
        foreach (var e in errors)
        {
            if (!seen.Contains(e))
            {
                seen.Add(e);
            }
        }
        return seen.Count == 1 ? seen[0] : "[" + string.Join(", ", seen) + "]";
    }

    private bool HasValue(string value)
    {
        foreach (var v in Values)
        {
            if (string.Equals(v, value, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private bool HasValue(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        foreach (var v in _valuesUtf8)
        {
            if (value.ValueEquals(v))
            {
                return true;
            }
        }
        return false;
    }

    private bool Compare(long labelValue) =>
        (Operator == LabelSelectorOperator.GreaterThan && labelValue > _bound) ||
        (Operator == LabelSelectorOperator.LessThan && labelValue < _bound);

    // Go strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else.
    private static bool TryParseInt64(string s, out long value) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    private static bool TryParseInt64(JsonElement value, out long n)
    {
        n = 0;
        // The raw token includes its quotes; an escaped value can never be an integer anyway.
        return value.ValueKind == JsonValueKind.String && TryParseInt64(JsonMarshal.GetRawUtf8Value(value)[1..^1], out n);
    }

    private static bool TryParseInt64(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (s.Length > 0 && s[0] is (byte)'+' or (byte)'-')
        {
            negative = s[0] == (byte)'-';
            i = 1;
        }
        if (i == s.Length)
        {
            return false;
        }
        var limit = negative ? (ulong)long.MaxValue + 1 : long.MaxValue;
        ulong acc = 0;
        for (; i < s.Length; i++)
        {
            var d = (uint)(s[i] - '0');
            if (d > 9 || acc > (limit - d) / 10)
            {
                return false;
            }
            acc = (acc * 10) + d;
        }
        value = negative ? (long)(0 - acc) : (long)acc;
        return true;
    }
}

/// <summary>
/// A label selector with upstream k8s.io/apimachinery/pkg/labels semantics: the string syntax
/// (<c>a=b,c!=d,e in (f,g),h notin (i),j,!k,l&gt;1,m&lt;2</c>), key and value validation with upstream's messages,
/// and the structured metav1.LabelSelector form. Immutable; safe to share between threads.
/// </summary>
public sealed class LabelSelector
{
    private readonly LabelSelectorRequirement[] _requirements;
    private readonly bool _nothing;

    private LabelSelector(LabelSelectorRequirement[] requirements, bool nothing)
    {
        _requirements = requirements;
        _nothing = nothing;
    }

    /// <summary>Matches every object (labels.Everything()).</summary>
    public static LabelSelector Everything { get; } = new([], nothing: false);

    /// <summary>Matches no object (labels.Nothing(); what a nil metav1.LabelSelector means).</summary>
    public static LabelSelector Nothing { get; } = new([], nothing: true);

    /// <summary>True when the selector does not restrict anything (upstream Empty(); false for Nothing).</summary>
    public bool IsEmpty => !_nothing && _requirements.Length == 0;

    /// <summary>True for <see cref="Nothing"/>.</summary>
    public bool MatchesNothing => _nothing;

    /// <summary>The requirements, sorted by key as upstream keeps them.</summary>
    public IReadOnlyList<LabelSelectorRequirement> Requirements => _requirements;

    /// <summary>Parses the <c>labelSelector</c> query parameter; null or empty is <see cref="Everything"/>.</summary>
    /// <exception cref="SelectorException">With upstream's message, e.g. "unable to parse requirement: ...".</exception>
    public static LabelSelector Parse(string? selector)
    {
        if (string.IsNullOrEmpty(selector))
        {
            return Everything;
        }
        var requirements = new LabelSelectorParser(selector).Parse();
        return requirements.Count == 0 ? Everything : new LabelSelector(SortByKey(requirements), nothing: false);
    }

    public static bool TryParse(string? selector, [NotNullWhen(true)] out LabelSelector? result, [NotNullWhen(false)] out string? error)
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
    /// Upstream metav1.LabelSelectorAsSelector: null is <see cref="Nothing"/>, no labels and no expressions is
    /// <see cref="Everything"/>, otherwise matchLabels (as "=") and matchExpressions ANDed.
    /// </summary>
    /// <exception cref="SelectorException">An invalid key, value or operator.</exception>
    public static LabelSelector FromLabelSelector(V1LabelSelector? selector)
    {
        if (selector is null)
        {
            return Nothing;
        }
        var labels = selector.MatchLabels;
        var expressions = selector.MatchExpressions;
        if ((labels?.Count ?? 0) + (expressions?.Count ?? 0) == 0)
        {
            return Everything;
        }
        var requirements = new List<LabelSelectorRequirement>();
        if (labels is not null)
        {
            foreach (var (k, v) in labels)
            {
                requirements.Add(LabelSelectorRequirement.Create(k, LabelSelectorOperator.Equals, [v]));
            }
        }
        if (expressions is not null)
        {
            foreach (var e in expressions)
            {
                requirements.Add(LabelSelectorRequirement.Create(e.Key ?? "", ParseStructuredOperator(e.OperatorProperty), e.Values));
            }
        }
        return new LabelSelector(SortByKey(requirements), nothing: false);
    }

    /// <summary>The same as <see cref="FromLabelSelector(V1LabelSelector?)"/> for a selector still in stored JSON
    /// (an undefined or null element is <see cref="Nothing"/>).</summary>
    /// <exception cref="SelectorException">An invalid key, value or operator, or a malformed selector.</exception>
    public static LabelSelector FromJson(JsonElement selector)
    {
        if (selector.ValueKind != JsonValueKind.Object)
        {
            return Nothing;
        }
        var requirements = new List<LabelSelectorRequirement>();
        if (selector.TryGetProperty("matchLabels"u8, out var labels) && labels.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in labels.EnumerateObject())
            {
                requirements.Add(LabelSelectorRequirement.Create(p.Name, LabelSelectorOperator.Equals, [p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()]));
            }
        }
        if (selector.TryGetProperty("matchExpressions"u8, out var expressions) && expressions.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in expressions.EnumerateArray())
            {
                var key = e.TryGetProperty("key"u8, out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
                var op = e.TryGetProperty("operator"u8, out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                List<string>? values = null;
                if (e.TryGetProperty("values"u8, out var vs) && vs.ValueKind == JsonValueKind.Array)
                {
                    values = [];
                    foreach (var v in vs.EnumerateArray())
                    {
                        values.Add(v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText());
                    }
                }
                requirements.Add(LabelSelectorRequirement.Create(key, ParseStructuredOperator(op), values));
            }
        }
        return requirements.Count == 0 ? Everything : new LabelSelector(SortByKey(requirements), nothing: false);
    }

    /// <summary>
    /// Upstream labels.SelectorFromSet: every pair as "=", no validation (a Service's spec.selector).
    /// Null or empty is <see cref="Everything"/>.
    /// </summary>
    public static LabelSelector FromSet(IEnumerable<KeyValuePair<string, string>>? set)
    {
        if (set is null)
        {
            return Everything;
        }
        var requirements = new List<LabelSelectorRequirement>();
        foreach (var (k, v) in set)
        {
            requirements.Add(LabelSelectorRequirement.CreateUnchecked(k, LabelSelectorOperator.Equals, [v]));
        }
        return requirements.Count == 0 ? Everything : new LabelSelector(SortByKey(requirements), nothing: false);
    }

    /// <summary>True when every requirement matches the labels (null means no labels).</summary>
    public bool Matches(IDictionary<string, string>? labels)
    {
        if (_nothing)
        {
            return false;
        }
        foreach (var r in _requirements)
        {
            if (!r.Matches(labels))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Matches an object's <c>metadata.labels</c> JSON element; undefined or null means no labels.
    /// Allocation-free.
    /// </summary>
    public bool Matches(JsonElement labelsObject)
    {
        if (_nothing)
        {
            return false;
        }
        foreach (var r in _requirements)
        {
            if (!r.Matches(labelsObject))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Upstream RequiresExactMatch: the single value the selector demands for <paramref name="label"/>, if any.</summary>
    public bool TryGetExactMatch(string label, [NotNullWhen(true)] out string? value)
    {
        foreach (var r in _requirements)
        {
            if (string.Equals(r.Key, label, StringComparison.Ordinal))
            {
                if (r.Operator is LabelSelectorOperator.Equals or LabelSelectorOperator.DoubleEquals or LabelSelectorOperator.In && r.Values.Length == 1)
                {
                    value = r.Values[0];
                    return true;
                }
                break;
            }
        }
        value = null;
        return false;
    }

    /// <summary>Upstream Selector.String(): requirements joined by ","; "" for Everything and Nothing.</summary>
    public override string ToString()
    {
        if (_requirements.Length == 0)
        {
            return "";
        }
        var sb = new StringBuilder();
        for (var i = 0; i < _requirements.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }
            _requirements[i].AppendTo(sb);
        }
        return sb.ToString();
    }

    private static LabelSelectorOperator ParseStructuredOperator(string? op) => op switch
    {
        "In" => LabelSelectorOperator.In,
        "NotIn" => LabelSelectorOperator.NotIn,
        "Exists" => LabelSelectorOperator.Exists,
        "DoesNotExist" => LabelSelectorOperator.DoesNotExist,
        _ => throw new SelectorException(GoText.Quote(op ?? "") + " is not a valid label selector operator"),
    };

    // Upstream sorts by key for a deterministic String(); a stable sort keeps equal keys in input order.
    private static LabelSelectorRequirement[] SortByKey(List<LabelSelectorRequirement> requirements)
    {
        var array = requirements.ToArray();
        for (var i = 1; i < array.Length; i++)
        {
            var item = array[i];
            var j = i - 1;
            while (j >= 0 && string.CompareOrdinal(array[j].Key, item.Key) > 0)
            {
                array[j + 1] = array[j];
                j--;
            }
            array[j + 1] = item;
        }
        return array;
    }
}
