namespace Switchboard.Api.Validation;

/// <summary>
/// String rules of k8s.io/apimachinery/pkg/util/validation (v1.33) with upstream's messages: DNS names, qualified
/// names and label values, port names and numbers, wildcard and fully qualified domains, domain-prefixed paths.
/// Each returns upstream's messages (empty when valid). Hand-written character checks instead of regular
/// expressions: they run on every selector parse, lengths are Go byte lengths, and .NET's '$' would accept a
/// trailing newline that Go's RE2 rejects.
/// </summary>
public static class NameValidation
{
    public const string Dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    public const string Dns1123SubdomainFmt = Dns1123LabelFmt + "(\\." + Dns1123LabelFmt + ")*";
    public const string Dns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
    public const string QualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    public const string LabelValueFmt = "(" + QualifiedNameFmt + ")?";
    public const string WildcardDns1123SubdomainFmt = "\\*\\." + Dns1123SubdomainFmt;
    public const string HttpPathFmt = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
    private const string Dns1123LabelWithUnderscoreFmt = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
    private const string Dns1123SubdomainWithUnderscoreFmt = Dns1123LabelWithUnderscoreFmt + "(\\." + Dns1123LabelWithUnderscoreFmt + ")*";

    public const int Dns1123LabelMaxLength = 63;
    public const int Dns1123SubdomainMaxLength = 253;
    public const int QualifiedNameMaxLength = 63;
    public const int LabelValueMaxLength = 63;

    private const string QualifiedNameErrMsg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

    private static readonly string Dns1123LabelError = GoText.RegexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        Dns1123LabelFmt, "my-name", "123-abc");

    private static readonly string Dns1123SubdomainError = GoText.RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        Dns1123SubdomainFmt, "example.com");

    private static readonly string Dns1123SubdomainWithUnderscoreError = GoText.RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character",
        Dns1123SubdomainWithUnderscoreFmt, "example.com");

    private static readonly string Dns1035LabelError = GoText.RegexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        Dns1035LabelFmt, "my-name", "abc-123");

    private static readonly string WildcardError = GoText.RegexError(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        WildcardDns1123SubdomainFmt, "*.example.com");

    private static readonly string QualifiedNameError = GoText.RegexError(QualifiedNameErrMsg, QualifiedNameFmt, "MyName", "my.name", "123-abc");

    private static readonly string LabelValueError = GoText.RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LabelValueFmt, "MyValue", "my_value", "12345");

    private static readonly string HttpPathError = GoText.RegexError("Invalid path", HttpPathFmt);

    public static IReadOnlyList<string> IsDns1123Label(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > Dns1123LabelMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(Dns1123LabelMaxLength));
        }
        if (!MatchesDns1123Label(value))
        {
            (errs ??= []).Add(Dns1123LabelError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    public static IReadOnlyList<string> IsDns1123Subdomain(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > Dns1123SubdomainMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(Dns1123SubdomainMaxLength));
        }
        if (!MatchesDns1123Subdomain(value))
        {
            (errs ??= []).Add(Dns1123SubdomainError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream IsDNS1123SubdomainWithUnderscore (pod dnsConfig.searches under RelaxedDNSSearchValidation).</summary>
    public static IReadOnlyList<string> IsDns1123SubdomainWithUnderscore(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > Dns1123SubdomainMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(Dns1123SubdomainMaxLength));
        }
        if (!AllLabels(value, MatchesDns1123LabelWithUnderscore))
        {
            (errs ??= []).Add(Dns1123SubdomainWithUnderscoreError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    public static IReadOnlyList<string> IsDns1035Label(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > Dns1123LabelMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(Dns1123LabelMaxLength));
        }
        if (value.Length == 0 || !char.IsAsciiLetterLower(value[0]) || !MatchesDns1123Label(value))
        {
            (errs ??= []).Add(Dns1035LabelError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream IsWildcardDNS1123Subdomain: "*." then a DNS subdomain (the wildcard is one whole first label).</summary>
    public static IReadOnlyList<string> IsWildcardDns1123Subdomain(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > Dns1123SubdomainMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(Dns1123SubdomainMaxLength));
        }
        if (!value.StartsWith("*.", StringComparison.Ordinal) || !MatchesDns1123Subdomain(value[2..]))
        {
            (errs ??= []).Add(WildcardError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream path.IsValidPathSegmentName: not '.' or '..', no '/' or '%'.</summary>
    public static IReadOnlyList<string> IsPathSegmentName(string value)
    {
        if (value is "." or "..")
        {
            return [$"may not be '{value}'"];
        }
        List<string>? errs = null;
        if (value.Contains('/', StringComparison.Ordinal))
        {
            (errs ??= []).Add("may not contain '/'");
        }
        if (value.Contains('%', StringComparison.Ordinal))
        {
            (errs ??= []).Add("may not contain '%'");
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream IsQualifiedName (label keys, annotation keys, finalizers): [DNS-subdomain prefix '/'] name.</summary>
    public static IReadOnlyList<string> IsQualifiedName(string value)
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
            return ["a qualified name " + QualifiedNameError + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
        }
        else
        {
            var prefix = value[..slash];
            name = value[(slash + 1)..];
            if (prefix.Length == 0)
            {
                (errs ??= []).Add("prefix part " + GoText.EmptyError());
            }
            else
            {
                foreach (var msg in IsDns1123Subdomain(prefix))
                {
                    (errs ??= []).Add("prefix part " + msg);
                }
            }
        }

        if (name.Length == 0)
        {
            (errs ??= []).Add("name part " + GoText.EmptyError());
        }
        else if (GoText.ByteLength(name) > QualifiedNameMaxLength)
        {
            (errs ??= []).Add("name part " + GoText.MaxLenError(QualifiedNameMaxLength));
        }
        // Upstream runs the regex even on an empty name, so "" reports both messages.
        if (!MatchesQualifiedNamePart(name))
        {
            (errs ??= []).Add("name part " + QualifiedNameError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    public static IReadOnlyList<string> IsValidLabelValue(string value)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(value) > LabelValueMaxLength)
        {
            (errs ??= []).Add(GoText.MaxLenError(LabelValueMaxLength));
        }
        if (value.Length != 0 && !MatchesQualifiedNamePart(value))
        {
            (errs ??= []).Add(LabelValueError);
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream IsValidPortName (IANA_SVC_NAME): 1-15 of [-a-z0-9], a letter, no "--", no hyphen at either end.</summary>
    public static IReadOnlyList<string> IsValidPortName(string port)
    {
        List<string>? errs = null;
        if (GoText.ByteLength(port) > 15)
        {
            (errs ??= []).Add(GoText.MaxLenError(15));
        }
        var charset = port.Length > 0;
        var letter = false;
        foreach (var c in port)
        {
            if (char.IsAsciiLetterLower(c))
            {
                letter = true;
            }
            else if (!char.IsAsciiDigit(c) && c != '-')
            {
                charset = false;
            }
        }
        if (!charset)
        {
            (errs ??= []).Add("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
        }
        if (!letter)
        {
            (errs ??= []).Add("must contain at least one letter (a-z)");
        }
        if (port.Contains("--", StringComparison.Ordinal))
        {
            (errs ??= []).Add("must not contain consecutive hyphens");
        }
        if (port.Length > 0 && (port[0] == '-' || port[^1] == '-'))
        {
            (errs ??= []).Add("must not begin or end with a hyphen");
        }
        return errs ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Upstream IsValidPortNum: 1 to 65535.</summary>
    public static IReadOnlyList<string> IsValidPortNum(long port) =>
        port is >= 1 and <= 65535 ? [] : [GoText.InclusiveRangeError(1, 65535)];

    /// <summary>
    /// Upstream IsDomainPrefixedPath (IngressClass controller): a DNS subdomain, '/', then HTTP path characters.
    /// Errors name the part that failed as the bad value, as upstream does.
    /// </summary>
    public static void IsDomainPrefixedPath(string field, string value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (value.Length == 0)
        {
            errors.Add(FieldError.Required(field));
            return;
        }
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == value.Length - 1)
        {
            errors.Add(FieldError.Invalid(field, value, "must be a domain-prefixed path (such as \"acme.io/foo\")"));
            return;
        }
        var host = value[..slash];
        foreach (var msg in IsDns1123Subdomain(host))
        {
            errors.Add(FieldError.Invalid(field, host, msg));
        }
        var path = value[(slash + 1)..];
        foreach (var c in path)
        {
            if (!IsHttpPathChar(c))
            {
                errors.Add(FieldError.Invalid(field, path, HttpPathError));
                return;
            }
        }
    }

    /// <summary>Upstream IsFullyQualifiedDomainName: a DNS subdomain of at least two labels; one trailing dot allowed.</summary>
    public static void IsFullyQualifiedDomainName(string field, string value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (value.Length == 0)
        {
            errors.Add(FieldError.Required(field));
            return;
        }
        var name = value.EndsWith('.') ? value[..^1] : value;
        if (IsDns1123Subdomain(name) is { Count: > 0 } subdomainErrors)
        {
            errors.Add(FieldError.Invalid(field, name, string.Join(",", subdomainErrors)));
            return;
        }
        var labels = name.Split('.');
        if (labels.Length < 2)
        {
            errors.Add(FieldError.Invalid(field, name, "should be a domain with at least two segments separated by dots"));
            return;
        }
        foreach (var label in labels)
        {
            if (IsDns1123Label(label) is { Count: > 0 } labelErrors)
            {
                errors.Add(FieldError.Invalid(field, label, string.Join(",", labelErrors)));
                return;
            }
        }
    }

    private static bool IsHttpPathChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '.' or '_' or '~' or '%' or '!' or '$' or '&' or '\'' or '(' or ')' or '*' or '+' or ',' or ';' or '=' or ':';

    private static bool MatchesDns1123Subdomain(string s) => AllLabels(s, MatchesDns1123Label);

    private static bool AllLabels(string s, Func<string, bool> label)
    {
        if (s.Length == 0)
        {
            return false;
        }
        foreach (var part in s.Split('.'))
        {
            if (!label(part))
            {
                return false;
            }
        }
        return true;
    }

    private static bool MatchesDns1123Label(string s)
    {
        if (s.Length == 0 || !IsLowerAlphaNumeric(s[0]) || !IsLowerAlphaNumeric(s[^1]))
        {
            return false;
        }
        foreach (var c in s)
        {
            if (!IsLowerAlphaNumeric(c) && c != '-')
            {
                return false;
            }
        }
        return true;
    }

    private static bool MatchesDns1123LabelWithUnderscore(string s)
    {
        var body = s.StartsWith('_') ? s[1..] : s;
        if (body.Length == 0 || !IsLowerAlphaNumeric(body[0]) || !IsLowerAlphaNumeric(body[^1]))
        {
            return false;
        }
        foreach (var c in body)
        {
            if (!IsLowerAlphaNumeric(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool MatchesQualifiedNamePart(string s)
    {
        if (s.Length == 0 || !char.IsAsciiLetterOrDigit(s[0]) || !char.IsAsciiLetterOrDigit(s[^1]))
        {
            return false;
        }
        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsLowerAlphaNumeric(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);
}
