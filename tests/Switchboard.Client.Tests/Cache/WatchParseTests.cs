using k8s;
using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Tests.Cache;

public sealed class WatchParseTests
{
    [Fact]
    public void Parse_ErrorEvent_CarriesStatus410()
    {
        var e = ListWatchClient<V1Service>.Parse(
            """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}""");

        Assert.Equal(WatchEventType.Error, e.Type);
        Assert.True(ApiStatusException.FromStatus(e.Status).IsGone);
    }

    [Fact]
    public void Parse_Bookmark_CarriesOnlyResourceVersion()
    {
        var e = ListWatchClient<V1Service>.Parse("""{"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"42"}}}""");

        Assert.Equal(WatchEventType.Bookmark, e.Type);
        Assert.Equal("42", e.Object!.Metadata.ResourceVersion);
    }

    [Fact]
    public void Parse_UnknownType_Throws()
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => ListWatchClient<V1Service>.Parse("""{"type":"NOPE","object":{}}"""));
    }
}
