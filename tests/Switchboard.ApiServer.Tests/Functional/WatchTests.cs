using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>The watch protocol over HTTP: initial events, resume, 410, bookmarks, selectors.</summary>
public sealed class WatchTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    /// <summary>Reads newline-delimited events until count arrived (or the stream ends / 30 s pass, so no hang).</summary>
    private async Task<List<JsonNode>> ReadEventsAsync(string path, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var resp = await Http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(200, (int)resp.StatusCode);
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<JsonNode>();
        while (events.Count < count)
        {
            var line = await reader.ReadLineAsync(cts.Token);
            if (line is null)
            {
                break;
            }
            events.Add(JsonNode.Parse(line)!);
        }
        return events;
    }

    private static string Type(JsonNode e) => e["type"]!.GetValue<string>();

    private static string Name(JsonNode e) => e["object"]!["metadata"]!["name"]!.GetValue<string>();

    [Fact]
    public async Task Watch_FromResourceVersion_GetsExactlyTheMissedEvents()
    {
        var ns = ApiServerFixture.UniqueName("w");
        await Http.CreateNamespaceAsync(ns);
        var (_, a) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}""");
        var from = a.Rv();
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}""");
        await Http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/a", """{"data":{"x":"1"}}""", "application/merge-patch+json");
        await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/configmaps/b");

        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={from}", 3);
        Assert.Equal(["ADDED:b", "MODIFIED:a", "DELETED:b"], events.Select(e => Type(e) + ":" + Name(e)));
        var revisions = events.Select(e => long.Parse(e["object"].Rv(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(revisions.Order(), revisions);
        Assert.True(revisions[0] > long.Parse(from, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Watch_WithoutResourceVersion_StartsWithCurrentState()
    {
        var ns = ApiServerFixture.UniqueName("w0");
        await Http.CreateNamespaceAsync(ns);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""");
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y"}}""");
        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion=0", 2);
        Assert.Equal(["ADDED:x", "ADDED:y"], events.Select(e => Type(e) + ":" + Name(e)));
    }

    [Fact]
    public async Task Watch_FieldSelectorOnName_OnlyThatObject()
    {
        var ns = ApiServerFixture.UniqueName("wf");
        await Http.CreateNamespaceAsync(ns);
        var (_, first) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}""");
        var watchTask = ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&fieldSelector=metadata.name%3Dmine&resourceVersion={first.Rv()}", 2);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"noise"}}""");
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mine"}}""");
        await Http.SendJsonAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/configmaps/mine");
        var events = await watchTask;
        Assert.Equal(["ADDED:mine", "DELETED:mine"], events.Select(e => Type(e) + ":" + Name(e)));
    }

    [Fact]
    public async Task Watch_LabelLeavesSelection_SeenAsDeleted()
    {
        var ns = ApiServerFixture.UniqueName("wl");
        await Http.CreateNamespaceAsync(ns);
        var (_, c) = await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"a"}}}""");
        var watchTask = ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector=app%3Da&resourceVersion={c.Rv()}", 1);
        await Http.SendJsonAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """{"metadata":{"labels":{"app":"b"}}}""", "application/merge-patch+json");
        var events = await watchTask;
        Assert.Equal(["DELETED:c"], events.Select(e => Type(e) + ":" + Name(e)));
    }

    [Fact]
    public async Task Watch_SendInitialEvents_EndsInitialStateWithBookmark()
    {
        var ns = ApiServerFixture.UniqueName("wi");
        await Http.CreateNamespaceAsync(ns);
        await Http.PostJsonAsync($"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""");
        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", 2);
        Assert.Equal("ADDED", Type(events[0]));
        Assert.Equal("BOOKMARK", Type(events[1]));
        Assert.Equal("true", events[1]["object"]!["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.GetValue<string>());
    }

    [Fact]
    public async Task Watch_TimeoutSeconds_EndsStream()
    {
        var ns = ApiServerFixture.UniqueName("wt");
        await Http.CreateNamespaceAsync(ns);
        var events = await ReadEventsAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1", 100);
        Assert.Empty(events);
    }
}
