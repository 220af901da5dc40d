using System.Text.Json.Nodes;
using Switchboard.Api.Patch;

namespace Switchboard.Api.Tests.Patch;

internal static class PatchAssert
{
    public static JsonNode J(string json) => JsonNode.Parse(json)!;

    /// <summary>Structural equality: member order is ignored, array order is not.</summary>
    public static void Json(string expected, JsonNode? actual)
    {
        var want = J(expected);
        Assert.True(PatchNodes.JsonEquals(want, actual), $"expected {want.ToJsonString()}\n  actual {actual?.ToJsonString() ?? "null"}");
    }

    public static PatchException Fails(int statusCode, Action apply)
    {
        var error = Assert.Throws<PatchException>(apply);
        Assert.Equal(statusCode, error.StatusCode);
        return error;
    }
}
