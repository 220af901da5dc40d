using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after k8s.io/apimachinery/pkg/util/validation validation_test.go.</summary>
public class NameValidationTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("a-b")]
    [InlineData("1-2")]
    [InlineData("abc-123")]
    public void IsDns1123Label_Valid_NoErrors(string value) => Assert.Empty(NameValidation.IsDns1123Label(value));

    [Theory]
    [InlineData("")]
    [InlineData("A")]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("a_b")]
    [InlineData("a\n")]
    public void IsDns1123Label_Invalid_RegexMessage(string value) =>
        Assert.Equal([Dns1123Label], NameValidation.IsDns1123Label(value));

    [Fact]
    public void IsDns1123Label_TooLong_LengthThenNothingElse() =>
        Assert.Equal(["must be no more than 63 characters"], NameValidation.IsDns1123Label(new string('a', 64)));

    [Theory]
    [InlineData("*.example.com", true)]
    [InlineData("*.bar.com", true)]
    [InlineData("*.foo.bar.com", true)]
    [InlineData("*.*.bar.com", false)]
    [InlineData("*.foo.*.com", false)]
    [InlineData("*bar.com", false)]
    [InlineData("f*.bar.com", false)]
    [InlineData("*", false)]
    public void IsWildcardDns1123Subdomain_WildcardIsOneWholeFirstLabel(string value, bool valid) =>
        Assert.Equal(valid ? [] : [Wildcard], NameValidation.IsWildcardDns1123Subdomain(value));

    [Theory]
    [InlineData("http")]
    [InlineData("h-t-t-p")]
    [InlineData("a1")]
    [InlineData("abcdefghijklmno")]
    public void IsValidPortName_Valid(string value) => Assert.Empty(NameValidation.IsValidPortName(value));

    [Theory]
    [InlineData("", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)|must contain at least one letter (a-z)")]
    [InlineData("abcdefghijklmnop", "must be no more than 15 characters")]
    [InlineData("1234", "must contain at least one letter (a-z)")]
    [InlineData("a--b", "must not contain consecutive hyphens")]
    [InlineData("-ab", "must not begin or end with a hyphen")]
    [InlineData("Http", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")]
    [InlineData("a_b", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")]
    public void IsValidPortName_Invalid_UpstreamMessages(string value, string expected) =>
        Assert.Equal(expected.Split('|'), NameValidation.IsValidPortName(value));

    [Theory]
    [InlineData("simple")]
    [InlineData("now-with-dashes")]
    [InlineData("1-starts-with-num")]
    [InlineData("1234")]
    [InlineData("simple/simple")]
    [InlineData("example.com/Uppercase_Name")]
    [InlineData("a.b.c/name.with.dots")]
    public void IsQualifiedName_Valid(string value) => Assert.Empty(NameValidation.IsQualifiedName(value));

    [Fact]
    public void IsQualifiedName_EmptyName_ReportsEmptyAndRegex() =>
        Assert.Equal(["name part must be non-empty", NamePart], NameValidation.IsQualifiedName("example.com/"));

    [Fact]
    public void IsQualifiedName_EmptyPrefix_PrefixMessage() =>
        Assert.Equal(["prefix part must be non-empty"], NameValidation.IsQualifiedName("/name"));

    [Fact]
    public void IsQualifiedName_TwoSlashes_WholeValueMessage() =>
        Assert.Equal(
            ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
            NameValidation.IsQualifiedName("a/b/c"));

    [Fact]
    public void IsValidLabelValue_TrailingNewline_Rejected() =>
        Assert.Equal([LabelValue], NameValidation.IsValidLabelValue("abc\n"));

    [Fact]
    public void IsValidLabelValue_MeasuresBytes() =>
        // 32 two-byte characters: 64 bytes, over the limit even though 32 chars are not.
        Assert.Equal(["must be no more than 63 characters", LabelValue], NameValidation.IsValidLabelValue(new string('é', 32)));

    [Theory]
    [InlineData("acme.io/foo", new string[0])]
    [InlineData("acme.io/foo/bar:baz", new string[0])]
    [InlineData("", new[] { "spec.controller: Required value" })]
    [InlineData("acme.io", new[] { "spec.controller: Invalid value: \"acme.io\": must be a domain-prefixed path (such as \"acme.io/foo\")" })]
    [InlineData("/foo", new[] { "spec.controller: Invalid value: \"/foo\": must be a domain-prefixed path (such as \"acme.io/foo\")" })]
    [InlineData("acme.io/", new[] { "spec.controller: Invalid value: \"acme.io/\": must be a domain-prefixed path (such as \"acme.io/foo\")" })]
    [InlineData("acme.io/foo bar", new[] { "spec.controller: Invalid value: \"foo bar\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')" })]
    public void IsDomainPrefixedPath_UpstreamErrors(string value, string[] expected)
    {
        var errors = new List<FieldError>();
        NameValidation.IsDomainPrefixedPath("spec.controller", value, errors);
        AssertErrors(errors, expected);
    }

    [Fact]
    public void IsDomainPrefixedPath_BadHost_NamesTheHost()
    {
        var errors = new List<FieldError>();
        NameValidation.IsDomainPrefixedPath("f", "Acme.io/foo", errors);
        AssertErrors(errors, "f: Invalid value: \"Acme.io\": " + Dns1123Subdomain);
    }

    [Theory]
    [InlineData("a.com")]
    [InlineData("a.b.c.d.e")]
    [InlineData("example.com.")]
    [InlineData("1.2.3.4")]
    public void IsFullyQualifiedDomainName_Valid(string value)
    {
        var errors = new List<FieldError>();
        NameValidation.IsFullyQualifiedDomainName("f", value, errors);
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("", "f: Required value")]
    [InlineData("a", "f: Invalid value: \"a\": should be a domain with at least two segments separated by dots")]
    [InlineData("a..com", "f: Invalid value: \"a..com\": " + Dns1123Subdomain)]
    [InlineData("A.com", "f: Invalid value: \"A.com\": " + Dns1123Subdomain)]
    public void IsFullyQualifiedDomainName_Invalid(string value, string expected)
    {
        var errors = new List<FieldError>();
        NameValidation.IsFullyQualifiedDomainName("f", value, errors);
        AssertErrors(errors, expected);
    }

    [Fact]
    public void IsDns1123SubdomainWithUnderscore_AllowsLeadingUnderscoreLabels()
    {
        Assert.Empty(NameValidation.IsDns1123SubdomainWithUnderscore("_sip._tcp.example.com"));
        Assert.Single(NameValidation.IsDns1123SubdomainWithUnderscore("a__.com"));
    }

    [Fact]
    public void FieldError_QuotesLikeGo() =>
        Assert.Equal("f: Invalid value: \"a\\tb\\\"\": x", FieldError.Invalid("f", "a\tb\"", "x").ToString());
}
