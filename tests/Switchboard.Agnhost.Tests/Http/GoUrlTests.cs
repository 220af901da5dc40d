using Switchboard.Agnhost.Http;

namespace Switchboard.Agnhost.Tests.Http;

public sealed class GoUrlTests
{
    [Theory]
    [InlineData("msg=hello+world&code=200", "msg", "hello world")]
    [InlineData("msg=a%26b&msg=second", "msg", "a&b")]
    [InlineData("cmd=echo%20hi%3Bls", "cmd", "echo hi;ls")]
    [InlineData("a=1&b", "b", "")]
    [InlineData("msg=%zz&msg=ok", "msg", "ok")]
    [InlineData("msg=x;y&msg=ok", "msg", "ok")]
    [InlineData("m%73g=decoded-key", "msg", "decoded-key")]
    public void QueryGet_GoSemantics(string query, string key, string expected) =>
        Assert.Equal(expected, GoUrl.QueryGet(query, key));

    [Fact]
    public void QueryGet_Absent_Null() => Assert.Null(GoUrl.QueryGet("a=1", "msg"));

    [Theory]
    [InlineData("/hostname", "/hostname")]
    [InlineData("//hostname", "/hostname")]
    [InlineData("/a/../hostname", "/hostname")]
    [InlineData("/a/./b/", "/a/b/")]
    [InlineData("/..", "/")]
    [InlineData("", "/")]
    public void CleanPath_LikeServeMux(string path, string expected) => Assert.Equal(expected, GoUrl.CleanPath(path));

    [Fact]
    public void TryUnescape_BadEscape_False() => Assert.False(GoUrl.TryUnescape("/a%2", false, out _));

    [Fact]
    public void TryUnescape_PathKeepsPlus()
    {
        Assert.True(GoUrl.TryUnescape("/a+b%20c", false, out var path));
        Assert.Equal("/a+b c", path);
    }
}
