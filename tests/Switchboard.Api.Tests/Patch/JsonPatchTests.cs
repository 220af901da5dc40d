using System.Text;
using System.Text.Json.Nodes;
using Switchboard.Api.Patch;
using static Switchboard.Api.Tests.Patch.PatchAssert;

namespace Switchboard.Api.Tests.Patch;

public class JsonPatchTests
{
    private static JsonNode Apply(string document, string patch) => JsonPatch.Apply(J(document), Encoding.UTF8.GetBytes(patch));

    // RFC 6902 appendix A.
    [Theory]
    [InlineData("A.1", """{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":"qux"}]""", """{"baz":"qux","foo":"bar"}""")]
    [InlineData("A.2", """{"foo":["bar","baz"]}""", """[{"op":"add","path":"/foo/1","value":"qux"}]""", """{"foo":["bar","qux","baz"]}""")]
    [InlineData("A.3", """{"baz":"qux","foo":"bar"}""", """[{"op":"remove","path":"/baz"}]""", """{"foo":"bar"}""")]
    [InlineData("A.4", """{"foo":["bar","qux","baz"]}""", """[{"op":"remove","path":"/foo/1"}]""", """{"foo":["bar","baz"]}""")]
    [InlineData("A.5", """{"baz":"qux","foo":"bar"}""", """[{"op":"replace","path":"/baz","value":"boo"}]""", """{"baz":"boo","foo":"bar"}""")]
    [InlineData("A.6", """{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}""", """[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]""", """{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}""")]
    [InlineData("A.7", """{"foo":["all","grass","cows","eat"]}""", """[{"op":"move","from":"/foo/1","path":"/foo/3"}]""", """{"foo":["all","cows","eat","grass"]}""")]
    [InlineData("A.8", """{"baz":"qux","foo":["a",2,"c"]}""", """[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]""", """{"baz":"qux","foo":["a",2,"c"]}""")]
    [InlineData("A.10", """{"foo":"bar"}""", """[{"op":"add","path":"/child","value":{"grandchild":{}}}]""", """{"foo":"bar","child":{"grandchild":{}}}""")]
    [InlineData("A.11", """{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":"qux","xyz":123}]""", """{"foo":"bar","baz":"qux"}""")]
    [InlineData("A.14", """{"/":9,"~1":10}""", """[{"op":"test","path":"/~01","value":10}]""", """{"/":9,"~1":10}""")]
    [InlineData("A.16", """{"foo":["bar"]}""", """[{"op":"add","path":"/foo/-","value":["abc","def"]}]""", """{"foo":["bar",["abc","def"]]}""")]
    public void Apply_Rfc6902AppendixA_Succeeds(string example, string document, string patch, string expected)
    {
        Assert.NotEmpty(example);
        Json(expected, Apply(document, patch));
    }

    [Theory]
    [InlineData("A.9 test fails", """{"baz":"qux"}""", """[{"op":"test","path":"/baz","value":"bar"}]""")]
    [InlineData("A.12 missing parent", """{"foo":"bar"}""", """[{"op":"add","path":"/baz/bat","value":"qux"}]""")]
    [InlineData("A.15 string is not number", """{"/":9,"~1":10}""", """[{"op":"test","path":"/~01","value":"10"}]""")]
    public void Apply_Rfc6902AppendixAErrors_Are422WithUpstreamsGenericMessage(string example, string document, string patch)
    {
        Assert.NotEmpty(example);
        var error = Fails(422, () => Apply(document, patch));
        Assert.Equal("Invalid", error.Reason);
        Assert.Equal("the server rejected our request due to an error in our request", error.StatusMessage);
    }

    [Fact]
    public void Apply_A13DuplicateOpMember_IsRejected()
    {
        // RFC A.13: an operation naming "op" twice is not a valid patch. Upstream takes the last one and then fails to
        // remove /baz (422); we refuse the duplicate while decoding (400). Either way nothing is applied.
        var error = Assert.Throws<PatchException>(() => Apply("""{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"""));
        Assert.Equal(400, error.StatusCode);
    }

    [Theory]
    [InlineData("remove missing member", """{"a":{"b":{"d":1}}}""", """[{"op":"remove","path":"/a/b/c"}]""")]
    [InlineData("move from missing member", """{"a":{"b":{"d":1}}}""", """[{"op":"move","from":"/a/b/c","path":"/a/b/e"}]""")]
    [InlineData("remove past the end", """{"a":{"b":[1]}}""", """[{"op":"remove","path":"/a/b/1"}]""")]
    [InlineData("add without path", """{"foo":"bar"}""", """[{"op":"add","pathz":"/baz","value":"qux"}]""")]
    [InlineData("add to the root", """{"foo":"bar"}""", """[{"op":"add","path":"","value":"qux"}]""")]
    [InlineData("replace past the end", """{"foo":["bar","baz"]}""", """[{"op":"replace","path":"/foo/2","value":"bum"}]""")]
    [InlineData("negative index too small", """{"foo":["bar","baz"]}""", """[{"op":"add","path":"/foo/-4","value":"bum"}]""")]
    [InlineData("replace under a missing parent", """{"name":{"foo":"bat"}}""", """[{"op":"replace","path":"/foo/bar","value":"baz"}]""")]
    [InlineData("add past the end", """{"foo":["bar"]}""", """[{"op":"add","path":"/foo/2","value":"bum"}]""")]
    [InlineData("remove dash", """{"foo":[]}""", """[{"op":"remove","path":"/foo/-"}]""")]
    [InlineData("remove from empty", """{"foo":[]}""", """[{"op":"remove","path":"/foo/-1"}]""")]
    [InlineData("null op", """{}""", """[{"op":null,"path":""}]""")]
    [InlineData("unknown op", """{}""", """[{"op":"frobnicate","path":"/a"}]""")]
    [InlineData("copy past the end", """{"foo":["bar"]}""", """[{"op":"copy","path":"/foo/2","from":"/foo/0"}]""")]
    [InlineData("move past the end", """{"foo":["all","grass","cows","eat"]}""", """[{"op":"move","from":"/foo/1","path":"/foo/4"}]""")]
    [InlineData("pointer without slash", """{"foo":1}""", """[{"op":"remove","path":"foo"}]""")]
    [InlineData("through a scalar", """{"foo":1}""", """[{"op":"add","path":"/foo/bar","value":1}]""")]
    [InlineData("test without value", """{"foo":[]}""", """[{"op":"test","path":"/foo"}]""")]
    public void Apply_UpstreamBadCases_Fail422(string name, string document, string patch)
    {
        Assert.NotEmpty(name);
        Fails(422, () => Apply(document, patch));
    }

    // Cases from evanphx/json-patch v4's own table: negative indices and null handling kube-apiserver inherits.
    [Theory]
    [InlineData("""{"foo":["bar","baz"]}""", """[{"op":"add","path":"/foo/-1","value":"qux"}]""", """{"foo":["bar","baz","qux"]}""")]
    [InlineData("""{"foo":["bar","qux","baz"]}""", """[{"op":"remove","path":"/foo/-2"}]""", """{"foo":["bar","baz"]}""")]
    [InlineData("""{"foo":[]}""", """[{"op":"add","path":"/foo/-1","value":"qux"}]""", """{"foo":["qux"]}""")]
    [InlineData("""{"foo":"bar","qux":{"baz":1,"bar":null}}""", """[{"op":"remove","path":"/qux/bar"}]""", """{"foo":"bar","qux":{"baz":1}}""")]
    [InlineData("""{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":null}]""", """{"baz":null,"foo":"bar"}""")]
    [InlineData("""{"bar":[{"baz":null}]}""", """[{"op":"replace","path":"/bar/0/baz","value":1}]""", """{"bar":[{"baz":1}]}""")]
    [InlineData("""{"bar":[1]}""", """[{"op":"replace","path":"/bar/0","value":null}]""", """{"bar":[null]}""")]
    [InlineData("""{"foo":["bar"]}""", """[{"op":"copy","path":"/foo/0","from":"/foo"}]""", """{"foo":[["bar"],"bar"]}""")]
    [InlineData("""[{"foo":["bar","qux","baz"]}]""", """[{"op":"replace","path":"/0/foo/0","value":"bum"}]""", """[{"foo":["bum","qux","baz"]}]""")]
    [InlineData("""{"foo":{"a":1}}""", """[{"op":"replace","path":"","value":{"b":2}}]""", """{"b":2}""")]
    public void Apply_V4Semantics(string document, string patch, string expected) => Json(expected, Apply(document, patch));

    [Fact]
    public void Apply_ReplaceOfMissingObjectMember_AddsItAsV4Does()
    {
        // RFC 6902 wants an error; evanphx/json-patch v4 (what kube-apiserver runs) never checks, so kubectl users
        // get an add. Matched on purpose.
        Json("""{"a":1,"b":2}""", Apply("""{"a":1}""", """[{"op":"replace","path":"/b","value":2}]"""));
    }

    [Theory]
    [InlineData("""{"baz":"qux"}""", """[{"op":"test","path":"/foo","value":null}]""")]
    [InlineData("""{"foo":null}""", """[{"op":"test","path":"/foo","value":null}]""")]
    [InlineData("""{"baz/foo":"qux"}""", """[{"op":"test","path":"/baz~1foo","value":"qux"}]""")]
    [InlineData("""{"a":{"x":1,"y":[1,2]}}""", """[{"op":"test","path":"/a","value":{"y":[1,2],"x":1}}]""")]
    [InlineData("""{"a":1}""", """[{"op":"test","path":"","value":{"a":1}}]""")]
    public void Apply_TestThatHolds_LeavesDocumentUnchanged(string document, string patch) => Json(document, Apply(document, patch));

    [Theory]
    [InlineData("""{"foo":{}}""", """[{"op":"test","path":"/foo","value":null}]""")]
    [InlineData("""{"foo":[]}""", """[{"op":"test","path":"/foo","value":null}]""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"test","path":"/foo","value":42}]""")]
    [InlineData("""{"a":{"x":1}}""", """[{"op":"test","path":"/a","value":{"x":1,"y":2}}]""")]
    public void Apply_TestThatFails_Is422(string document, string patch)
    {
        var error = Fails(422, () => Apply(document, patch));
        Assert.Contains("test failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_FailedPatch_LeavesInputsUntouched()
    {
        var document = J("""{"a":{"b":1}}""");
        var patch = J("""[{"op":"remove","path":"/a/b"},{"op":"test","path":"/a/b","value":1}]""");
        var (before, patchBefore) = (document.ToJsonString(), patch.ToJsonString());

        Assert.Throws<PatchException>(() => JsonPatch.Apply(document, patch));

        Assert.Equal(before, document.ToJsonString());
        Assert.Equal(patchBefore, patch.ToJsonString());
    }

    [Fact]
    public void Apply_SamePatchTwice_GivesSameResult()
    {
        // The server retries a patch against a newer object on conflict: applying must not consume the patch.
        var patch = J("""[{"op":"add","path":"/metadata/labels/x","value":{"deep":[1]}}]""");
        var first = JsonPatch.Apply(J("""{"metadata":{"labels":{}}}"""), patch);
        var second = JsonPatch.Apply(J("""{"metadata":{"labels":{"y":"1"}}}"""), patch);
        Json("""{"metadata":{"labels":{"x":{"deep":[1]}}}}""", first);
        Json("""{"metadata":{"labels":{"x":{"deep":[1]},"y":"1"}}}""", second);
    }

    [Fact]
    public void Apply_MoveDetachesTheValue()
    {
        var result = Apply("""{"a":{"x":[1,{"y":2}]},"b":{}}""", """[{"op":"move","from":"/a/x","path":"/b/x"},{"op":"add","path":"/b/x/1/z","value":3}]""");
        Json("""{"a":{},"b":{"x":[1,{"y":2,"z":3}]}}""", result);
    }

    [Fact]
    public void Apply_LabelWithSlash_NeedsTilde1()
    {
        var result = Apply("""{"metadata":{"labels":{}}}""", """[{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"web"}]""");
        Json("""{"metadata":{"labels":{"app.kubernetes.io/name":"web"}}}""", result);
    }

    [Theory]
    [InlineData("""{"op":"add","path":"/a","value":1}""", "object")]
    [InlineData("\"add\"", "string")]
    [InlineData("[\"add\"]", "string")]
    [InlineData("[1]", "number")]
    public void Apply_BodyThatIsNotAnArrayOfObjects_Is400(string body, string kind)
    {
        var error = Fails(400, () => Apply("""{"a":0}""", body));
        Assert.Equal("BadRequest", error.Reason);
        Assert.Contains("cannot unmarshal " + kind, error.StatusMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_InvalidJson_Is400() => Fails(400, () => Apply("{}", "[{\"op\":"));

    [Fact]
    public void Apply_NullBody_IsAnEmptyPatchAsUpstreamDecodesIt() => Json("""{"a":1}""", Apply("""{"a":1}""", "null"));

    [Fact]
    public void Apply_MoreThan10000Operations_Is413()
    {
        var body = "[" + string.Join(",", Enumerable.Repeat("""{"op":"test","path":"/a","value":1}""", 10001)) + "]";
        var error = Fails(413, () => Apply("""{"a":1}""", body));
        Assert.Equal("RequestEntityTooLarge", error.Reason);
        Assert.Equal("Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001", error.StatusMessage);
    }

    [Fact]
    public void Apply_Exactly10000Operations_IsAllowed()
    {
        var body = "[" + string.Join(",", Enumerable.Repeat("""{"op":"test","path":"/a","value":1}""", 10000)) + "]";
        Json("""{"a":1}""", Apply("""{"a":1}""", body));
    }

    [Fact]
    public void Apply_CopyAmplification_StopsAt3MiB()
    {
        // Each copy doubles /a; without upstream's copy budget 40 operations would need terabytes.
        var document = new JsonObject { ["a"] = new JsonArray(new string('x', 100_000)) };
        var body = "[" + string.Join(",", Enumerable.Repeat("""{"op":"copy","from":"/a","path":"/a/-"}""", 40)) + "]";
        var error = Fails(422, () => JsonPatch.Apply(document, Encoding.UTF8.GetBytes(body)));
        Assert.Contains("accumulated size increase of copy", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_DeeplyNestedBody_Is400WithoutRecursing()
    {
        var body = new string('[', 100_000) + new string(']', 100_000);
        Fails(400, () => Apply("{}", body));
    }

    [Fact]
    public void Apply_ResultDeeperThanLimit_Is422()
    {
        // Every value is shallow enough on its own; stacking them must still be refused.
        var value = new StringBuilder();
        for (var i = 0; i < 40; i++)
        {
            value.Append("{\"x\":");
        }
        value.Append('1').Append('}', 40);
        var deepPath = "/a" + string.Concat(Enumerable.Repeat("/x", 39));
        var body = $$"""[{"op":"add","path":"/a","value":{{value}}},{"op":"add","path":"{{deepPath}}/y","value":{{value}}}]""";
        var error = Fails(422, () => Apply("{}", body));
        Assert.Contains("deeper than 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ProgrammaticallyDeepPatchNode_Is400()
    {
        JsonNode value = new JsonObject();
        for (var i = 0; i < 500; i++)
        {
            value = new JsonObject { ["x"] = value };
        }
        var patch = new JsonArray(new JsonObject { ["op"] = "add", ["path"] = "/a", ["value"] = value });
        Fails(400, () => JsonPatch.Apply(J("{}"), patch));
    }
}
