using k8s;
using k8s.Models;
using Switchboard.Client.Cache;
using Switchboard.Client.Tests.Fakes;
using Xunit.Abstractions;

namespace Switchboard.Client.Tests.Cache;

/// <summary>
/// Reflector against the scripted FAKE API server (Fakes/FakeApiServer) over real HTTP and the real KubernetesClient.
/// Functional tests against Switchboard's own API server come separately.
/// </summary>
public sealed class ReflectorFakeServerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Ns = "team-a";
    private FakeApiServer _server = null!;
    private Kubernetes _client = null!;
    private readonly RecordingHandler _handler = new();

    public async Task InitializeAsync()
    {
        _server = await FakeApiServer.StartAsync();
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task FakeServer_InitialList_PagesWithContinueAndWatchesFromListResourceVersion()
    {
        var seeded = Enumerable.Range(1, 5).Select(i => _server.Upsert(Ns, $"svc-{i}")).ToList();
        _server.Upsert("other", "not-mine");
        var listRv = _server.CurrentResourceVersion;

        await using var run = Start(new ReflectorOptions { PageSize = 2 });
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.WatchRequests.Count == 1, "first watch");

        var lists = _server.ListRequests;
        Assert.Equal(3, lists.Count);
        Assert.All(lists, l => Assert.Equal("2", l["limit"]));
        Assert.Null(lists[0]["continue"]);
        Assert.Equal($"{listRv}:2", lists[1]["continue"]);
        Assert.Equal($"{listRv}:4", lists[2]["continue"]);
        Assert.All(lists, l => Assert.Equal($"/api/v1/namespaces/{Ns}/services", l.Path));

        Assert.Equal(seeded.Select(s => $"add {Ns}/{s.Metadata.Name}@{s.Metadata.ResourceVersion}"), _handler.Events);
        Assert.Equal(5, run.Reflector.Store.Count);
        Assert.True(run.Reflector.Store.TryGet(Ns, "svc-3", out var svc3));
        Assert.Equal(seeded[2].Metadata.Uid, svc3.Metadata.Uid);
        Assert.False(run.Reflector.Store.TryGet("other", "not-mine", out _));
        Assert.Equal(listRv, run.Reflector.LastSyncResourceVersion);

        var watch = _server.WatchRequests[0];
        Assert.Equal(listRv, watch["resourceVersion"]);
        Assert.Equal("true", watch["allowWatchBookmarks"]);
        Assert.InRange(int.Parse(watch["timeoutSeconds"]!, System.Globalization.CultureInfo.InvariantCulture), 300, 600);
        Assert.Null(watch["sendInitialEvents"]);
    }

    [Fact]
    public async Task FakeServer_ContinueTokenExpiredMidList_ListsFromScratchWithoutDuplicates()
    {
        var seeded = Enumerable.Range(1, 5).Select(i => _server.Upsert(Ns, $"svc-{i}")).ToList();
        _server.ExpireNextContinueToken();

        await using var run = Start(new ReflectorOptions { PageSize = 2 });
        await run.WaitForSyncAsync();

        var continues = _server.ListRequests.Select(l => l["continue"] is null ? "first" : "next").ToList();
        Assert.Equal(["first", "next", "first", "next", "next"], continues);
        Assert.Equal(seeded.Select(s => $"add {Ns}/{s.Metadata.Name}@{s.Metadata.ResourceVersion}"), _handler.Events);
        Assert.Equal(5, run.Reflector.Store.Count);
    }

    [Fact]
    public async Task FakeServer_WatchClosedNormally_ResumesFromLastSeenResourceVersion()
    {
        _server.Upsert(Ns, "seed");
        await using var run = Start();
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch open");
        var synced = _handler.Events.Count;

        var x = _server.Upsert(Ns, "x");
        await Eventually.UntilAsync(() => run.Reflector.LastSyncResourceVersion == x.Metadata.ResourceVersion, "x applied");
        _server.CloseWatches();
        await Eventually.UntilAsync(() => _server.WatchRequests.Count == 2 && _server.OpenWatches == 1, "second watch");
        var y = _server.Upsert(Ns, "y");
        await Eventually.UntilAsync(() => _handler.Events.Count == synced + 2, "y reported");

        Assert.Equal(x.Metadata.ResourceVersion, _server.WatchRequests[1]["resourceVersion"]);
        Assert.Single(_server.ListRequests);
        Assert.Equal(
            [$"add {Ns}/x@{x.Metadata.ResourceVersion}", $"add {Ns}/y@{y.Metadata.ResourceVersion}"],
            _handler.Events.Skip(synced));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task FakeServer_Expired410_RelistsAndHandlerSeesExactlyTheDifference(bool expiredAsHttpStatus, bool streamingList)
    {
        _server.ExpiredAsHttpStatus = expiredAsHttpStatus;
        var a = _server.Upsert(Ns, "a");
        var b = _server.Upsert(Ns, "b");
        var c = _server.Upsert(Ns, "c");
        await using var run = Start(new ReflectorOptions
        {
            UseStreamingList = streamingList,
            InitialBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(100),
        });
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch open");
        var synced = _handler.Events.Count;
        var watchesBefore = _server.WatchRequests.Count;
        var listRv = run.Reflector.LastSyncResourceVersion;

        // The reflector is cut off while objects change and the history it would need is compacted away.
        _server.Partition();
        var bGone = _server.Delete(Ns, "b");
        var c2 = _server.Upsert(Ns, "c");
        var d = _server.Upsert(Ns, "d");
        _server.Compact();
        _server.Heal();

        await Eventually.UntilAsync(() => _handler.Events.Count == synced + 3, "relist reported");
        Assert.Equal(d.Metadata.ResourceVersion, run.Reflector.LastSyncResourceVersion);
        Assert.Equal(
            [
                $"delete {Ns}/b@{b.Metadata.ResourceVersion}",
                $"update {Ns}/c@{c.Metadata.ResourceVersion}->{c2.Metadata.ResourceVersion}",
                $"add {Ns}/d@{d.Metadata.ResourceVersion}",
            ],
            _handler.Events.Skip(synced));
        Assert.Equal(
            _server.Objects(Ns).Select(o => o.Metadata.Name + "@" + o.Metadata.ResourceVersion).Order(),
            run.Reflector.Store.Snapshot().Select(o => o.Metadata.Name + "@" + o.Metadata.ResourceVersion).Order());
        Assert.True(run.Reflector.Store.TryGet(Ns, "a", out var aNow));
        Assert.Equal(a.Metadata.ResourceVersion, aNow.Metadata.ResourceVersion);
        Assert.NotEqual(bGone.Metadata.ResourceVersion, b.Metadata.ResourceVersion);

        // The relist happened the way the mode says, and the watch after it carries on normally.
        if (streamingList)
        {
            Assert.Empty(_server.ListRequests);
            Assert.Equal(2, _server.WatchRequests.Count(w => w["sendInitialEvents"] == "true"));
        }
        else
        {
            Assert.Equal(2, _server.ListRequests.Count);
        }

        Assert.Contains(_server.WatchRequests.Skip(watchesBefore), w => w["resourceVersion"] == listRv);
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch after relist");
        var e = _server.Upsert(Ns, "e");
        await Eventually.UntilAsync(() => _handler.Events.Count == synced + 4, "e reported");
        Assert.Equal($"add {Ns}/e@{e.Metadata.ResourceVersion}", _handler.Events[^1]);
    }

    [Fact]
    public async Task FakeServer_ExpiredInStreamOnOpenWatch_Relists()
    {
        _server.Upsert(Ns, "a");
        await using var run = Start(new ReflectorOptions { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(100) });
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch open");

        _server.ExpireWatches();

        await Eventually.UntilAsync(() => _server.ListRequests.Count == 2 && _server.OpenWatches == 1, "relist and new watch");
        Assert.Single(_handler.Events); // the relist found nothing new
    }

    [Fact]
    public async Task FakeServer_Bookmark_AdvancesResourceVersionWithoutHandlerEvents()
    {
        _server.Upsert(Ns, "a");
        await using var run = Start();
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch open");
        var synced = _handler.Events.Count;

        _server.Upsert("other", "elsewhere"); // moves the global resourceVersion, invisible to this watch
        var bookmarkRv = _server.CurrentResourceVersion;
        _server.SendBookmark();
        await Eventually.UntilAsync(() => run.Reflector.LastSyncResourceVersion == bookmarkRv, "bookmark applied");
        _server.CloseWatches();
        await Eventually.UntilAsync(() => _server.WatchRequests.Count == 2, "re-watch");

        Assert.Equal(synced, _handler.Events.Count);
        Assert.Equal(1, run.Reflector.Store.Count);
        Assert.Equal(bookmarkRv, _server.WatchRequests[1]["resourceVersion"]);
        Assert.Single(_server.ListRequests);
    }

    [Fact]
    public async Task FakeServer_WatchFails500_BacksOffExponentiallyAndResetsAfterHealthyWatch()
    {
        var time = new RecordingTimeProvider();
        _server.Upsert(Ns, "a");
        var listRv = _server.CurrentResourceVersion;
        _server.FailNextWatches(500, 2);
        await using var run = Start(timeProvider: time, random: new FixedRandom(0));
        await run.WaitForSyncAsync();

        // Watch deadlines also use timers (minutes long); back-off delays are the short ones.
        IReadOnlyList<TimeSpan> Backoffs() => [.. time.DueTimes.Where(d => d <= TimeSpan.FromSeconds(30))];

        await Eventually.UntilAsync(() => Backoffs().Count == 1, "first back-off");
        Assert.Equal(TimeSpan.FromMilliseconds(800), Backoffs()[0]);
        Assert.Single(_server.WatchRequests); // nothing is retried until the back-off elapses
        time.Advance(TimeSpan.FromMilliseconds(800));

        await Eventually.UntilAsync(() => Backoffs().Count == 2, "second back-off");
        Assert.Equal(TimeSpan.FromMilliseconds(1600), Backoffs()[1]);
        Assert.Equal(2, _server.WatchRequests.Count);
        time.Advance(TimeSpan.FromMilliseconds(1600));

        // The retry resumes the watch from the list's resourceVersion; no relist.
        await Eventually.UntilAsync(() => _server.OpenWatches == 1, "watch open");
        Assert.Equal(listRv, _server.WatchRequests[2]["resourceVersion"]);
        Assert.Single(_server.ListRequests);

        // A healthy watch (it delivered an event) resets the back-off to its first step.
        var x = _server.Upsert(Ns, "x");
        await Eventually.UntilAsync(() => run.Reflector.LastSyncResourceVersion == x.Metadata.ResourceVersion, "x applied");
        _server.FailNextWatches(500, 1);
        _server.CloseWatches();
        await Eventually.UntilAsync(() => Backoffs().Count == 3, "back-off after reset");
        Assert.Equal(TimeSpan.FromMilliseconds(800), Backoffs()[2]);
        Assert.Equal(x.Metadata.ResourceVersion, _server.WatchRequests[3]["resourceVersion"]);
    }

    [Fact]
    public async Task FakeServer_ListFails_BacksOffThenSyncs()
    {
        var time = new RecordingTimeProvider();
        _server.Upsert(Ns, "a");
        _server.FailNextLists(503, 1);
        await using var run = Start(timeProvider: time, random: new FixedRandom(0));

        await Eventually.UntilAsync(() => time.DueTimes.Contains(TimeSpan.FromMilliseconds(800)), "back-off");
        Assert.False(run.Reflector.HasSynced);
        time.Advance(TimeSpan.FromMilliseconds(800));
        await run.WaitForSyncAsync();

        Assert.Equal(2, _server.ListRequests.Count);
        Assert.Single(_handler.Events);
    }

    [Fact]
    public async Task FakeServer_StreamingList_SyncsFromInitialEventsThenWatchesNormally()
    {
        var seeded = Enumerable.Range(1, 3).Select(i => _server.Upsert(Ns, $"svc-{i}")).ToList();
        var rv = _server.CurrentResourceVersion;
        await using var run = Start(new ReflectorOptions { UseStreamingList = true });
        await run.WaitForSyncAsync();

        Assert.Empty(_server.ListRequests);
        var first = _server.WatchRequests[0];
        Assert.Equal("true", first["sendInitialEvents"]);
        Assert.Equal("NotOlderThan", first["resourceVersionMatch"]);
        Assert.Null(first["resourceVersion"]);
        Assert.Equal(rv, run.Reflector.LastSyncResourceVersion);
        Assert.Equal(seeded.Select(s => $"add {Ns}/{s.Metadata.Name}@{s.Metadata.ResourceVersion}"), _handler.Events);

        _server.CloseWatches();
        await Eventually.UntilAsync(() => _server.WatchRequests.Count == 2, "re-watch");
        Assert.Null(_server.WatchRequests[1]["sendInitialEvents"]);
        Assert.Equal(rv, _server.WatchRequests[1]["resourceVersion"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SetTransform_ListWatchAndStreamingList_StoreAndHandlerSeeOnlyTransformedObjects(bool streamingList)
    {
        _server.Upsert(Ns, "listed", label: "web");
        var transformed = 0;
        var reflector = new Reflector<V1Service>(_client, ResourceRequest.For<V1Service>(Ns), _handler, new ReflectorOptions { UseStreamingList = streamingList }, new TestOutputLogger(output));

        // Drops every label and annotation: applied to the initial-events-end bookmark it would drop that
        // annotation too and the streaming list would never sync.
        reflector.SetTransform(svc =>
        {
            Interlocked.Increment(ref transformed);
            svc.Metadata.Labels = null;
            svc.Metadata.Annotations = new Dictionary<string, string> { ["trimmed"] = "yes" };
            return svc;
        });
        await using var run = new ReflectorRun(reflector);
        await run.WaitForSyncAsync();
        _server.Upsert(Ns, "watched", label: "api");
        _server.SendBookmark();
        await Eventually.UntilAsync(() => run.Reflector.Store.Count == 2, "watched object");
        _server.Delete(Ns, "listed");
        await Eventually.UntilAsync(() => run.Reflector.Store.Count == 1, "delete");

        Assert.True(run.Reflector.Store.TryGet(Ns, "watched", out var watched));
        Assert.Null(watched.Metadata.Labels);
        Assert.Equal("yes", watched.Metadata.Annotations["trimmed"]);
        Assert.Equal(3, Volatile.Read(ref transformed)); // list + add + delete; never the bookmarks
        Assert.Throws<InvalidOperationException>(() => reflector.SetTransform(s => s));
    }

    [Fact]
    public async Task FakeServer_Selectors_AreSentOnListAndWatch()
    {
        var request = ResourceRequest.For<V1Service>(Ns) with
        {
            LabelSelector = "app in (web, api),tier!=db",
            FieldSelector = "metadata.name!=skip&me",
        };
        await using var run = new ReflectorRun(new Reflector<V1Service>(_client, request, _handler, logger: new TestOutputLogger(output)));
        await run.WaitForSyncAsync();
        await Eventually.UntilAsync(() => _server.WatchRequests.Count == 1, "watch");

        foreach (var r in new[] { _server.ListRequests[0], _server.WatchRequests[0] })
        {
            Assert.Equal("app in (web, api),tier!=db", r["labelSelector"]);
            Assert.Equal("metadata.name!=skip&me", r["fieldSelector"]);
        }
    }

    private ReflectorRun Start(ReflectorOptions? options = null, TimeProvider? timeProvider = null, Random? random = null) =>
        new(new Reflector<V1Service>(
            _client,
            ResourceRequest.For<V1Service>(Ns),
            _handler,
            options,
            new TestOutputLogger(output),
            timeProvider,
            random));
}
