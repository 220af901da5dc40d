using System.Text;
using Switchboard.Api.Patch;
using static Switchboard.Api.Tests.Patch.PatchAssert;

namespace Switchboard.Api.Tests.Patch;

public class MergePatchTests
{
    // RFC 7386 appendix A, every row whose patch is an object.
    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":"b","b":"c"}""", """{"a":null}""", """{"b":"c"}""")]
    [InlineData("""{"a":["b"]}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"c"}""", """{"a":["b"]}""", """{"a":["b"]}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    [InlineData("""[1,2]""", """{"a":"b","c":null}""", """{"a":"b"}""")]
    [InlineData("""{}""", """{"a":{"bb":{"ccc":null}}}""", """{"a":{"bb":{}}}""")]
    public void Apply_Rfc7386AppendixA(string document, string patch, string expected) =>
        Json(expected, MergePatch.Apply(J(document), Encoding.UTF8.GetBytes(patch)));

    // RFC 7386 appendix A rows whose patch is not an object replace the whole document; for a Kubernetes object that
    // can never decode, so upstream refuses them too (400 "Invalid JSON Patch" for null, a decoding error otherwise).
    [Theory]
    [InlineData("""["a","b"]""", """["c","d"]""")]
    [InlineData("""{"a":"b"}""", """["c"]""")]
    [InlineData("""{"a":"foo"}""", "null")]
    [InlineData("""{"a":"foo"}""", "\"bar\"")]
    public void Apply_NonObjectPatch_Is400(string document, string patch)
    {
        var error = Fails(400, () => MergePatch.Apply(J(document), Encoding.UTF8.GetBytes(patch)));
        Assert.Equal("BadRequest", error.Reason);
    }

    [Fact]
    public void Apply_NullPatch_SaysInvalidJsonPatchLikeUpstream() =>
        Assert.Equal("Invalid JSON Patch", Fails(400, () => MergePatch.Apply(J("{}"), patch: null)).StatusMessage);

    [Fact]
    public void Apply_ListsReplaceWhole()
    {
        var result = MergePatch.Apply(J("""{"spec":{"ports":[{"port":80},{"port":443}]}}"""), J("""{"spec":{"ports":[{"port":8080}]}}"""));
        Json("""{"spec":{"ports":[{"port":8080}]}}""", result);
    }

    [Fact]
    public void Apply_NullDeletesLabel_AndKeepsTheRest()
    {
        var result = MergePatch.Apply(
            J("""{"metadata":{"name":"web","labels":{"app":"web","tier":"fe"}}}"""),
            J("""{"metadata":{"labels":{"app":null,"env":"prod"}}}"""));
        Json("""{"metadata":{"name":"web","labels":{"tier":"fe","env":"prod"}}}""", result);
    }

    [Fact]
    public void Apply_ObjectOverScalar_PrunesNullsInside()
    {
        var result = MergePatch.Apply(J("""{"a":1}"""), J("""{"a":{"b":null,"c":{"d":null,"e":1}}}"""));
        Json("""{"a":{"c":{"e":1}}}""", result);
    }

    [Fact]
    public void Apply_DoesNotChangeInputs()
    {
        var document = J("""{"a":{"b":1},"c":[1]}""");
        var patch = J("""{"a":{"b":null,"x":{"y":1}},"c":null}""");
        var (before, patchBefore) = (document.ToJsonString(), patch.ToJsonString());

        var result = MergePatch.Apply(document, patch);

        Json("""{"a":{"x":{"y":1}}}""", result);
        Assert.Equal(before, document.ToJsonString());
        Assert.Equal(patchBefore, patch.ToJsonString());
    }

    [Fact]
    public void Apply_DeepPatch_Is400() =>
        Fails(400, () => MergePatch.Apply(J("{}"), Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "1" + new string('}', 5000))));

    [Fact]
    public void Apply_DuplicateMembers_Is400() =>
        Fails(400, () => MergePatch.Apply(J("{}"), Encoding.UTF8.GetBytes("""{"a":1,"a":2}""")));
}
