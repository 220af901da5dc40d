using System.Text.Json;
using k8s.Models;
using Switchboard.Api.Selectors;

namespace Switchboard.Api.Tests.Selectors;

public class LabelSelectorTests
{
    private const string NamePartRegexMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    private static Dictionary<string, string> Labels(params string[] pairs) =>
        pairs.Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private static JsonElement JsonLabels(string json) => JsonDocument.Parse(json).RootElement;

    private static V1LabelSelectorRequirement Req(string key, string op, List<string>? values) =>
        new() { Key = key, OperatorProperty = op, Values = values };

    [Theory]
    [InlineData("a=b", "a=b")]
    [InlineData("a==b", "a==b")]
    [InlineData("a!=b", "a!=b")]
    [InlineData("a in (y,x)", "a in (x,y)")]
    [InlineData("a notin (x)", "a notin (x)")]
    [InlineData("a", "a")]
    [InlineData("!a", "!a")]
    [InlineData("a>1", "a>1")]
    [InlineData("a<3", "a<3")]
    [InlineData("  z = 1 ,  a in ( p , q ) , !m ", "a in (p,q),!m,z=1")]
    [InlineData("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()")]
    [InlineData("in in (in),notin notin (notin)", "in in (in),notin notin (notin)")]
    [InlineData("a=", "a=")]
    [InlineData("app.kubernetes.io/name=web", "app.kubernetes.io/name=web")]
    [InlineData("", "")]
    public void Parse_ValidSyntax_RoundTripsToUpstreamString(string selector, string expected)
    {
        Assert.Equal(expected, LabelSelector.Parse(selector).ToString());
    }

    [Fact]
    public void Parse_Empty_IsEverything()
    {
        var s = LabelSelector.Parse("");
        Assert.True(s.IsEmpty);
        Assert.True(s.Matches((IDictionary<string, string>?)null));
        Assert.Same(LabelSelector.Everything, LabelSelector.Parse(null));
    }

    [Theory]
    [InlineData("app:monolith", "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": " + NamePartRegexMessage)]
    [InlineData("*bar", "unable to parse requirement: <nil>: Invalid value: \"*bar\": " + NamePartRegexMessage)]
    [InlineData("a/b/c ?=? def", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]
    [InlineData("app.kubernetes_io/name=x", "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    [InlineData("a/=b", "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; " + NamePartRegexMessage)]
    [InlineData("a=b c", "found 'c', expected: ',' or 'end of string'")]
    [InlineData("a=b,", "found '', expected: identifier after ','")]
    [InlineData("=b", "found '=', expected: !, identifier, or 'end of string'")]
    [InlineData("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt")]
    [InlineData("x in a", "unable to parse requirement: found 'a' expected: '('")]
    [InlineData("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'")]
    [InlineData("x in (a", "unable to parse requirement: found '', expected: ',' or ')'")]
    [InlineData("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier")]
    [InlineData("x=(", "unable to parse requirement: found '(', expected: identifier")]
    [InlineData("!", "unable to parse requirement: found '', expected: identifier")]
    [InlineData("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer")]
    [InlineData("x<-3", "unable to parse requirement: values[0][x]: Invalid value: \"-3\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")]
    public void Parse_InvalidSelector_ReportsUpstreamMessage(string selector, string message)
    {
        var e = Assert.Throws<SelectorException>(() => LabelSelector.Parse(selector));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Parse_ValueTooLong_ReportsValuePath()
    {
        var value = new string('z', 64);
        var e = Assert.Throws<SelectorException>(() => LabelSelector.Parse("good-key=" + value));
        Assert.Equal("unable to parse requirement: values[0][good-key]: Invalid value: \"" + value + "\": must be no more than 63 characters", e.Message);
    }

    [Fact]
    public void Parse_InvalidValueCharacters_ReportsRegexMessage()
    {
        var e = Assert.Throws<SelectorException>(() => LabelSelector.Parse("a in (ok,-bad)"));
        Assert.Equal("unable to parse requirement: values[0][a]: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')", e.Message);
    }

    [Fact]
    public void TryParse_Invalid_ReturnsMessage()
    {
        Assert.False(LabelSelector.TryParse("a b", out var s, out var error));
        Assert.Null(s);
        Assert.NotNull(error);
        Assert.True(LabelSelector.TryParse("a=b", out s, out error));
        Assert.Null(error);
        Assert.Equal("a=b", s.ToString());
    }

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app!=web", false)]
    [InlineData("app!=db", true)]
    [InlineData("missing!=x", true)]
    [InlineData("app in (db,web)", true)]
    [InlineData("app notin (db,web)", false)]
    [InlineData("missing notin (x)", true)]
    [InlineData("missing in (x)", false)]
    [InlineData("app", true)]
    [InlineData("!app", false)]
    [InlineData("!missing", true)]
    [InlineData("empty=", true)]
    [InlineData("empty", true)]
    [InlineData("replicas>2", true)]
    [InlineData("replicas>3", false)]
    [InlineData("replicas<4", true)]
    [InlineData("app>1", false)]
    [InlineData("missing>1", false)]
    [InlineData("app=web,tier=front", true)]
    [InlineData("app=web,tier=back", false)]
    public void Matches_DictionaryAndJson_AgreeWithUpstreamSemantics(string selector, bool expected)
    {
        var s = LabelSelector.Parse(selector);
        Assert.Equal(expected, s.Matches(Labels("app=web", "tier=front", "empty=", "replicas=3")));
        Assert.Equal(expected, s.Matches(JsonLabels("""{"app":"web","tier":"front","empty":"","replicas":"3"}""")));
    }

    [Fact]
    public void Matches_UndefinedOrNullLabels_AreNoLabels()
    {
        var exists = LabelSelector.Parse("a");
        var notExists = LabelSelector.Parse("!a");
        Assert.False(exists.Matches(default(JsonElement)));
        Assert.True(notExists.Matches(default(JsonElement)));
        Assert.True(notExists.Matches(JsonLabels("null")));
        Assert.True(notExists.Matches((IDictionary<string, string>?)null));
    }

    [Fact]
    public void Matches_Json_DoesNotAllocate()
    {
        var s = LabelSelector.Parse("app=web,tier in (front,back),!canary,version notin (v1),replicas>1");
        var labels = JsonLabels("""{"app":"web","tier":"front","version":"v2","replicas":"3"}""");
        Assert.True(s.Matches(labels));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var matched = 0;
        for (var i = 0; i < 1000; i++)
        {
            if (s.Matches(labels))
            {
                matched++;
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, matched);
    }

    [Fact]
    public void FromLabelSelector_NullIsNothing_EmptyIsEverything()
    {
        Assert.True(LabelSelector.FromLabelSelector(null).MatchesNothing);
        Assert.False(LabelSelector.FromLabelSelector(null).Matches(Labels("a=b")));
        Assert.False(LabelSelector.FromLabelSelector(null).IsEmpty);
        Assert.True(LabelSelector.FromLabelSelector(new V1LabelSelector()).IsEmpty);
        Assert.True(LabelSelector.FromLabelSelector(new V1LabelSelector()).Matches(Labels("a=b")));
    }

    [Fact]
    public void FromLabelSelector_LabelsAndExpressions_AreAndedAndSortedByKey()
    {
        var s = LabelSelector.FromLabelSelector(new V1LabelSelector
        {
            MatchLabels = new Dictionary<string, string> { ["z"] = "1", ["app"] = "web" },
            MatchExpressions =
            [
                Req("tier", "In", ["front", "back"]),
                Req("canary", "DoesNotExist", null),
                Req("env", "Exists", null),
                Req("zone", "NotIn", ["b"]),
            ],
        });
        Assert.Equal("app=web,!canary,env,tier in (back,front),z=1,zone notin (b)", s.ToString());
        Assert.True(s.Matches(Labels("app=web", "z=1", "tier=back", "env=prod")));
        Assert.False(s.Matches(Labels("app=web", "z=1", "tier=back", "env=prod", "canary=yes")));
    }

    [Theory]
    [InlineData("Foo", null, "\"Foo\" is not a valid label selector operator")]
    [InlineData("In", null, "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty")]
    [InlineData("Exists", "a", "values: Invalid value: []string{\"a\"}: values set must be empty for exists and does not exist")]
    public void FromLabelSelector_InvalidExpression_ReportsUpstreamMessage(string op, string? value, string message)
    {
        var e = Assert.Throws<SelectorException>(() => LabelSelector.FromLabelSelector(new V1LabelSelector
        {
            MatchExpressions = [Req("k", op, value is null ? null : [value])],
        }));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void FromLabelSelector_InvalidKeyAndValue_AggregatesErrors()
    {
        var e = Assert.Throws<SelectorException>(() => LabelSelector.FromLabelSelector(new V1LabelSelector
        {
            MatchLabels = new Dictionary<string, string> { ["bad key"] = "bad value" },
        }));
        Assert.StartsWith("[key: Invalid value: \"bad key\": name part must consist", e.Message, StringComparison.Ordinal);
        Assert.Contains(", values[0][bad key]: Invalid value: \"bad value\": a valid label must be", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_MatchesStructuredForm()
    {
        var selector = JsonDocument.Parse("""{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]}""").RootElement;
        var s = LabelSelector.FromJson(selector);
        Assert.Equal("app=web,tier notin (db)", s.ToString());
        Assert.True(LabelSelector.FromJson(default).MatchesNothing);
        Assert.True(LabelSelector.FromJson(JsonDocument.Parse("{}").RootElement).IsEmpty);
    }

    [Fact]
    public void FromSet_IsUnvalidatedEqualities()
    {
        var s = LabelSelector.FromSet(new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });
        Assert.Equal("a=1,b=2", s.ToString());
        Assert.True(s.Matches(Labels("a=1", "b=2", "c=3")));
        Assert.True(LabelSelector.FromSet(null).IsEmpty);
        Assert.True(LabelSelector.FromSet(new Dictionary<string, string>()).IsEmpty);
    }

    [Fact]
    public void TryGetExactMatch_ReportsSingleValueEqualityOrIn()
    {
        var s = LabelSelector.Parse("a=1,b in (2),c in (3,4),d!=5");
        Assert.True(s.TryGetExactMatch("a", out var a));
        Assert.Equal("1", a);
        Assert.True(s.TryGetExactMatch("b", out var b));
        Assert.Equal("2", b);
        Assert.False(s.TryGetExactMatch("c", out _));
        Assert.False(s.TryGetExactMatch("d", out _));
        Assert.False(s.TryGetExactMatch("e", out _));
    }

    [Fact]
    public void Requirement_Create_ValidatesLikeNewRequirement()
    {
        var r = LabelSelectorRequirement.Create("app", LabelSelectorOperator.In, ["b", "a"]);
        Assert.Equal(["b", "a"], r.Values.ToArray());
        Assert.Equal("app in (a,b)", r.ToString());
        var e = Assert.Throws<SelectorException>(() => LabelSelectorRequirement.Create("app", LabelSelectorOperator.Equals, ["a", "b"]));
        Assert.Equal("values: Invalid value: []string{\"a\", \"b\"}: exact-match compatibility requires one single value", e.Message);
    }
}
