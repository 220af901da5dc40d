using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Api.Serialization;

namespace Switchboard.Api.Tests.Serialization;

public class YamlJsonTests
{
    private static string ToJson(string yaml) => Encoding.UTF8.GetString(YamlJson.YamlToJson(Encoding.UTF8.GetBytes(yaml)));

    private static string ToYaml(string json) => Encoding.UTF8.GetString(YamlJson.JsonToYaml(Encoding.UTF8.GetBytes(json)));

    private static JsonNode? Value(string yamlValue) => JsonNode.Parse(ToJson("v: " + yamlValue))!["v"];

    [Theory]
    [InlineData("yes", true)]
    [InlineData("Yes", true)]
    [InlineData("YES", true)]
    [InlineData("y", true)]
    [InlineData("Y", true)]
    [InlineData("on", true)]
    [InlineData("On", true)]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData("no", false)]
    [InlineData("n", false)]
    [InlineData("off", false)]
    [InlineData("OFF", false)]
    [InlineData("false", false)]
    [InlineData("FALSE", false)]
    public void YamlToJson_Yaml11Booleans_BecomeJsonBooleans(string plain, bool expected)
    {
        Assert.Equal(expected, Value(plain)!.GetValue<bool>());
    }

    [Theory]
    [InlineData("\"yes\"")]
    [InlineData("'on'")]
    [InlineData("!!str yes")]
    [InlineData("yEs")]
    [InlineData("tRue")]
    public void YamlToJson_QuotedTaggedOrOddCaseBooleans_StayStrings(string value)
    {
        Assert.Equal(JsonValueKind.String, Value(value)!.GetValueKind());
    }

    [Theory]
    [InlineData("~")]
    [InlineData("null")]
    [InlineData("Null")]
    [InlineData("NULL")]
    [InlineData("")]
    public void YamlToJson_NullForms_BecomeNull(string value)
    {
        Assert.Null(Value(value));
        Assert.Contains("\"v\":null", ToJson("v: " + value), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("42", "42")]
    [InlineData("-7", "-7")]
    [InlineData("+5", "5")]
    [InlineData("0x1F", "31")]
    [InlineData("0o17", "15")]
    [InlineData("0777", "511")]
    [InlineData("0b101", "5")]
    [InlineData("-0x10", "-16")]
    [InlineData("1_000", "1000")]
    [InlineData("0", "0")]
    [InlineData("09", "9")]
    [InlineData("9223372036854775807", "9223372036854775807")]
    [InlineData("18446744073709551615", "18446744073709551615")]
    [InlineData("99999999999999999999", "100000000000000000000")]
    [InlineData("1.5", "1.5")]
    [InlineData("1.10", "1.1")]
    [InlineData("1e3", "1000")]
    [InlineData(".5", "0.5")]
    [InlineData("-1.5e-7", "-1.5e-7")]
    [InlineData("1e21", "1e+21")]
    [InlineData("6.02E23", "6.02e+23")]
    [InlineData("1.", "1")]
    public void YamlToJson_Numbers_FollowGoYamlAndEncodingJson(string yaml, string json)
    {
        Assert.Equal("{\"v\":" + json + "}", ToJson("v: " + yaml));
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("0x")]
    [InlineData("1.2.3")]
    [InlineData("2024-01-15T10:00:00Z")]
    [InlineData("2024-01-15")]
    [InlineData("12:30")]
    [InlineData("+")]
    [InlineData("0xZZ")]
    [InlineData("Infinity")]
    [InlineData("nan")]
    [InlineData("1_000.5x")]
    public void YamlToJson_NumberLookalikes_StayStrings(string value)
    {
        Assert.Equal(value, Value(value)!.GetValue<string>());
    }

    [Theory]
    [InlineData(".inf", "+Inf")]
    [InlineData("-.Inf", "-Inf")]
    [InlineData(".nan", "NaN")]
    public void YamlToJson_NonFiniteFloats_AreRejectedLikeEncodingJson(string value, string shown)
    {
        var e = Assert.Throws<YamlJsonException>(() => ToJson("v: " + value));
        Assert.Contains("json: unsupported value: " + shown, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlToJson_KubernetesManifest_ConvertsFaithfully()
    {
        const string yaml = """
            # a comment
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              labels: {app: web, tier: "1"}
              annotations:
                note: |
                  line one
                  line two
                folded: >
                  a
                  b
            spec:
              replicas: 3
              selector:
                matchLabels:
                  app: web
              template:
                spec:
                  containers:
                  - name: web
                    image: nginx:1.27
                    args: ["--port", "8080"]
                    env:
                    - name: DEBUG
                      value: "true"
                    ports:
                    - containerPort: 80
                      protocol: TCP
            """;
        var node = JsonNode.Parse(ToJson(yaml))!;
        Assert.Equal("apps/v1", (string?)node["apiVersion"]);
        Assert.Equal(3, (int)node["spec"]!["replicas"]!);
        Assert.Equal("1", (string?)node["metadata"]!["labels"]!["tier"]);
        Assert.Equal("line one\nline two\n", (string?)node["metadata"]!["annotations"]!["note"]);
        Assert.Equal("a b\n", (string?)node["metadata"]!["annotations"]!["folded"]);
        var container = node["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("nginx:1.27", (string?)container["image"]);
        Assert.Equal("true", (string?)container["env"]![0]!["value"]);
        Assert.Equal(80, (int)container["ports"]![0]!["containerPort"]!);
        Assert.Equal("--port", (string?)container["args"]![0]);
    }

    [Fact]
    public void YamlToJson_KeyOrder_IsDocumentOrder()
    {
        Assert.Equal("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"}}", ToJson("kind: Pod\napiVersion: v1\nmetadata:\n  name: p\n"));
    }

    [Fact]
    public void YamlToJson_DuplicateKeys_LastValueWins()
    {
        Assert.Equal("{\"a\":2,\"b\":3}", ToJson("a: 1\nb: 3\na: 2\n"));
    }

    [Fact]
    public void YamlToJson_AnchorsAndAliases_AreExpanded()
    {
        var json = ToJson("""
            base: &labels
              app: web
              tier: front
            copy: *labels
            list: [&x 1, *x]
            """);
        Assert.Equal("{\"base\":{\"app\":\"web\",\"tier\":\"front\"},\"copy\":{\"app\":\"web\",\"tier\":\"front\"},\"list\":[1,1]}", json);
    }

    [Fact]
    public void YamlToJson_MergeKeys_MergeWithExplicitKeysOverriding()
    {
        var json = ToJson("""
            defaults: &d {a: 1, b: 2}
            more: &m {b: 20, c: 30}
            one:
              <<: *d
              b: 3
            many:
              <<: [*d, *m]
              z: 0
            """);
        var node = JsonNode.Parse(json)!;
        Assert.Equal("{\"a\":1,\"b\":3}", node["one"]!.ToJsonString());
        // Earlier maps in a merge list take precedence.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("{\"a\":1,\"b\":2,\"c\":30,\"z\":0}"), node["many"]), node["many"]!.ToJsonString());
    }

    [Fact]
    public void YamlToJson_MergeOfScalar_IsRejected()
    {
        var e = Assert.Throws<YamlJsonException>(() => ToJson("a:\n  <<: 1\n"));
        Assert.Contains("map merge requires map or sequence of maps as the value", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlToJson_UnknownAlias_ReportsAnchorAndPosition()
    {
        var e = Assert.Throws<YamlJsonException>(() => ToJson("a: 1\nb: *nope\n"));
        Assert.Contains("unknown anchor 'nope' referenced", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void YamlToJson_AliasBomb_IsStopped()
    {
        var sb = new StringBuilder("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (var i = 1; i < 9; i++)
        {
            var prev = (char)('a' + i - 1);
            var cur = (char)('a' + i);
            sb.Append(cur).Append(": &").Append(cur).Append(" [");
            sb.AppendJoin(',', Enumerable.Repeat("*" + prev, 10));
            sb.Append("]\n");
        }
        var e = Assert.Throws<YamlJsonException>(() => ToJson(sb.ToString()));
        Assert.Contains("document contains excessive aliasing", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1: a", "1")]
    [InlineData("0x10: a", "16")]
    [InlineData("yes: a", "true")]
    [InlineData("off: a", "false")]
    [InlineData("1.5: a", "1.5")]
    [InlineData("1e6: a", "1e+06")]
    [InlineData("3.14159265358979: a", "3.1415927")]
    [InlineData("\"1\": a", "1")]
    [InlineData("2024-01-01: a", "2024-01-01")]
    public void YamlToJson_NonStringKeys_BecomeStringsLikeSigsK8sYaml(string yaml, string key)
    {
        Assert.Equal("{\"" + key + "\":\"a\"}", ToJson(yaml));
    }

    [Theory]
    [InlineData("~: a")]
    [InlineData("? [1, 2]\n: a")]
    public void YamlToJson_NullOrCollectionKeys_AreRejected(string yaml)
    {
        Assert.Throws<YamlJsonException>(() => ToJson(yaml));
    }

    [Theory]
    [InlineData("!!str 123", "\"123\"")]
    [InlineData("!!int \"12\"", "12")]
    [InlineData("!!float 1", "1")]
    [InlineData("!!bool yes", "true")]
    [InlineData("!custom 5", "\"5\"")]
    [InlineData("! 12", "\"12\"")]
    [InlineData("! yes", "\"yes\"")]
    [InlineData("!!binary aGVsbG8=", "\"hello\"")]
    [InlineData("!!timestamp 2001-12-14", "\"2001-12-14\"")]
    public void YamlToJson_ExplicitTags_ResolveAsGoYaml(string yaml, string json)
    {
        Assert.Equal("{\"v\":" + json + "}", ToJson("v: " + yaml));
    }

    [Fact]
    public void YamlToJson_TagMismatch_IsRejected()
    {
        var e = Assert.Throws<YamlJsonException>(() => ToJson("v: !!int abc"));
        Assert.Contains("cannot decode !!str `abc` as a !!int", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a: 1\n---\nb: 2\n")]
    [InlineData("---\na: 1\n---\n- x\n")]
    public void YamlToJson_SecondDocumentWithContent_IsRejected(string yaml)
    {
        var e = Assert.Throws<YamlJsonException>(() => ToJson(yaml));
        Assert.Contains("expected one document", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("---\na: 1\n")]
    [InlineData("a: 1\n---\n")]
    [InlineData("a: 1\n...\n")]
    [InlineData("\uFEFFa: 1\n")]
    public void YamlToJson_SingleDocumentWithMarkers_IsAccepted(string yaml)
    {
        Assert.Equal("{\"a\":1}", ToJson(yaml));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void YamlToJson_EmptyStream_IsNull(string yaml)
    {
        Assert.Equal("null", ToJson(yaml));
    }

    [Theory]
    [InlineData("a: b: c\n", 1)]
    [InlineData("a:\n  b: 1\n c: 2\n", 3)]
    [InlineData("a: [1, 2\n", 2)]
    [InlineData("x: 1\na: \"unterminated\n", 2)]
    [InlineData("x: 1\nkey: value\n\tbad: tab\n", 2)]
    public void YamlToJson_InvalidYaml_ThrowsWithLineAndColumn(string yaml, int line)
    {
        // YamlDotNet reports where the offending token starts, which can be a line before go-yaml's.
        var e = Assert.Throws<YamlJsonException>(() => ToJson(yaml));
        Assert.Equal(line, e.Line);
        Assert.True(e.Column > 0);
        Assert.StartsWith("error converting YAML to JSON: yaml: line " + line + ", column ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlToJson_HostileNesting_IsRejected()
    {
        var deep = new string('[', 5000) + new string(']', 5000);
        var e = Assert.Throws<YamlJsonException>(() => ToJson(deep));
        Assert.Contains("exceeded max depth", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlToJson_InvalidUtf8_IsRejected()
    {
        Assert.Throws<YamlJsonException>(() => YamlJson.YamlToJson([(byte)'a', (byte)':', (byte)' ', 0xC3, 0x28]));
    }

    [Fact]
    public void YamlToJson_Json_IsAcceptedAsYaml()
    {
        Assert.Equal("{\"a\":[1,\"x\",true,null],\"b\":{\"c\":1.5}}", ToJson("{\"a\": [1, \"x\", true, null], \"b\": {\"c\": 1.5}}"));
    }

    [Fact]
    public void YamlToJson_UnicodeAndEscapes_AreKept()
    {
        var node = JsonNode.Parse(ToJson("a: \"tab\\there \\u00e9\"\nb: héllo <&>\n"))!;
        Assert.Equal("tab\there é", (string?)node["a"]);
        Assert.Equal("héllo <&>", (string?)node["b"]);
    }

    [Fact]
    public void JsonToYaml_Object_IsBlockStyleWithSortedKeysAndCompactSequences()
    {
        var yaml = ToYaml("""{"metadata":{"name":"web","labels":{"b":"2","a":"1"}},"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80,"protocol":"TCP"}],"selector":{},"x":[]}}""");
        Assert.Equal(
            """
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                a: "1"
                b: "2"
              name: web
            spec:
              ports:
              - port: 80
                protocol: TCP
              selector: {}
              x: []

            """.ReplaceLineEndings("\n"),
            yaml);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("No")]
    [InlineData("on")]
    [InlineData("y")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("~")]
    [InlineData("")]
    [InlineData("1.0")]
    [InlineData("0x10")]
    [InlineData("1_000")]
    [InlineData("0777")]
    [InlineData(".inf")]
    [InlineData("<<")]
    [InlineData("2024-01-15T10:00:00Z")]
    [InlineData("1:20")]
    public void JsonToYaml_StringsThatWouldChangeType_AreDoubleQuoted(string value)
    {
        var yaml = ToYaml(JsonSerializer.Serialize(new Dictionary<string, string> { ["v"] = value }));
        Assert.Equal("v: \"" + value + "\"\n", yaml);
        Assert.Equal(value, (string?)JsonNode.Parse(ToJson(yaml))!["v"]);
    }

    [Fact]
    public void JsonToYaml_MultilineString_IsLiteralBlock()
    {
        var yaml = ToYaml("""{"config":"line one\nline two\n"}""");
        Assert.Equal("config: |\n  line one\n  line two\n", yaml);
    }

    [Fact]
    public void JsonToYaml_DuplicateKeys_KeepLastValue()
    {
        Assert.Equal("a: 2\n", ToYaml("""{"a":1,"a":2}"""));
    }

    [Fact]
    public void JsonToYaml_InvalidJson_Throws()
    {
        Assert.Throws<YamlJsonException>(() => ToYaml("{\"a\":"));
    }

    [Theory]
    [InlineData("""{"a":"it's: a \"test\" # not a comment","b":" leading space","c":"- dash","d":"@at","e":"key: value","f":"#hash"}""")]
    [InlineData("""{"unicode":"héllo wörld ✓","emoji":"😀","control":"bell\u0007","trailing":"text\n\n","crlf":"a\r\nb","tabs":"\tx","tab2":"x\t","mid":"a\tb","spaces":"  both  ","ml":"  indented\nsecond \n"}""")]
    [InlineData("""{"n":[1,-2.5,1e3,12345678901234567890,0.000001],"t":true,"f":false,"z":null,"nested":[[1,[2]],{"a":{"b":{}}}],"empty":""}""")]
    [InlineData("""{"very long key that exceeds nothing in particular but has spaces":"and a very long value that should not be folded by the emitter even though it goes on and on and on past eighty columns"}""")]
    public void JsonToYaml_ThenYamlToJson_RoundTrips(string json)
    {
        var back = ToJson(ToYaml(json));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(back)), back);
    }
}
