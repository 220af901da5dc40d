using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using static Switchboard.Store.Tests.StoreTestKit;

namespace Switchboard.Store.Tests;

/// <summary>The IStore contract, run against every backend.</summary>
public abstract class StoreContractTests
{
    /// <summary>A new, empty store. Tests dispose it.</summary>
    protected abstract IStore CreateStore(StoreOptions? options = null, TimeProvider? timeProvider = null);

    // ---- create / get / update / delete ----

    [Fact]
    public async Task Create_NewKey_StoresValueAtNewRevision()
    {
        await using var store = CreateStore();
        var before = store.Revision;

        var result = await store.CreateAsync("/registry/a", Json("a"));

        Assert.Equal(StoreWriteStatus.Ok, result.Status);
        Assert.Equal(before + 1, result.Revision);
        Assert.Equal(before + 1, store.Revision);
        Assert.Equal(new StoreObject("/registry/a", result.Current!.Value, before + 1, before + 1), result.Current);
        var got = await store.GetAsync("/registry/a");
        Assert.Equal($$"""{"v":"a","rv":{{before + 1}}}""", V(got));
        Assert.Equal(before + 1, got!.CreateRevision);
        Assert.Equal(before + 1, got.ModRevision);
    }

    [Fact]
    public async Task Create_ExistingKey_ReturnsAlreadyExistsWithLiveObject()
    {
        await using var store = CreateStore();
        var first = await store.CreateAsync("/k", Json("1"));

        var second = await store.CreateAsync("/k", Json("2"));

        Assert.Equal(StoreWriteStatus.AlreadyExists, second.Status);
        Assert.Equal(first.Current, second.Current);
        Assert.Equal(first.Revision, store.Revision);
    }

    [Fact]
    public async Task Get_MissingKey_ReturnsNull()
    {
        await using var store = CreateStore();
        Assert.Null(await store.GetAsync("/nope"));
    }

    [Fact]
    public async Task Update_MatchingModRevision_ReplacesValueKeepsCreateRevision()
    {
        await using var store = CreateStore();
        var created = await store.CreateAsync("/k", Json("1"));

        var updated = await store.UpdateAsync("/k", created.Revision, Json("2"));

        Assert.Equal(StoreWriteStatus.Ok, updated.Status);
        Assert.Equal(created.Revision + 1, updated.Revision);
        Assert.Equal(created.Revision, updated.Current!.CreateRevision);
        Assert.Equal(updated.Revision, updated.Current.ModRevision);
        Assert.Equal(V(updated.Current), V(await store.GetAsync("/k")));
    }

    [Fact]
    public async Task Update_StaleModRevision_ReturnsConflictWithLiveObject()
    {
        await using var store = CreateStore();
        var created = await store.CreateAsync("/k", Json("1"));
        var updated = await store.UpdateAsync("/k", created.Revision, Json("2"));

        var stale = await store.UpdateAsync("/k", created.Revision, Json("3"));

        Assert.Equal(StoreWriteStatus.Conflict, stale.Status);
        Assert.Equal(updated.Current, stale.Current);
        Assert.Equal(updated.Revision, store.Revision);
    }

    [Fact]
    public async Task Update_Unconditional_AlwaysApplies()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/k", Json("1"));
        await store.UpdateAsync("/k", 0, Json("2"));

        var result = await store.UpdateAsync("/k", 0, Json("3"));

        Assert.Equal(StoreWriteStatus.Ok, result.Status);
        Assert.Contains("\"3\"", V(await store.GetAsync("/k")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_MissingKey_ReturnsNotFound()
    {
        await using var store = CreateStore();
        var before = store.Revision;

        var result = await store.UpdateAsync("/k", 0, Json("1"));

        Assert.Equal(StoreWriteStatus.NotFound, result.Status);
        Assert.Null(result.Current);
        Assert.Equal(before, store.Revision);
    }

    [Fact]
    public async Task Delete_MatchingModRevision_RemovesKeyAndReturnsTombstone()
    {
        await using var store = CreateStore();
        var created = await store.CreateAsync("/k", Json("1"));

        var deleted = await store.DeleteAsync("/k", created.Revision, Json("gone"));

        Assert.Equal(StoreWriteStatus.Ok, deleted.Status);
        Assert.Equal(created.Revision + 1, deleted.Revision);
        Assert.Equal($$"""{"v":"gone","rv":{{deleted.Revision}}}""", V(deleted.Current));
        Assert.Equal(created.Revision, deleted.Current!.CreateRevision);
        Assert.Equal(deleted.Revision, deleted.Current.ModRevision);
        Assert.Null(await store.GetAsync("/k"));
        Assert.Equal(0, store.Count("/"));
    }

    [Fact]
    public async Task Delete_StaleModRevision_ReturnsConflict()
    {
        await using var store = CreateStore();
        var created = await store.CreateAsync("/k", Json("1"));
        await store.UpdateAsync("/k", 0, Json("2"));

        var result = await store.DeleteAsync("/k", created.Revision, Json("gone"));

        Assert.Equal(StoreWriteStatus.Conflict, result.Status);
        Assert.NotNull(await store.GetAsync("/k"));
    }

    [Fact]
    public async Task Delete_MissingKey_ReturnsNotFound()
    {
        await using var store = CreateStore();
        Assert.Equal(StoreWriteStatus.NotFound, (await store.DeleteAsync("/k", 0, Json("x"))).Status);
        await store.CreateAsync("/k", Json("1"));
        await store.DeleteAsync("/k", 0, Json("x"));
        Assert.Equal(StoreWriteStatus.NotFound, (await store.DeleteAsync("/k", 0, Json("x"))).Status);
    }

    [Fact]
    public async Task Create_AfterDelete_StartsNewLifeWithNewCreateRevision()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/k", Json("1"));
        await store.DeleteAsync("/k", 0, Json("x"));

        var again = await store.CreateAsync("/k", Json("2"));

        Assert.Equal(StoreWriteStatus.Ok, again.Status);
        Assert.Equal(again.Revision, again.Current!.CreateRevision);
    }

    [Fact]
    public async Task Write_CallsEncoderOnceWithAssignedRevision()
    {
        await using var store = CreateStore();
        var calls = new List<long>();
        ValueEncoder encoder = rev =>
        {
            calls.Add(rev);
            return Json("x")(rev);
        };

        var result = await store.CreateAsync("/k", encoder);
        var failed = await store.CreateAsync("/k", encoder);

        Assert.Equal([result.Revision], calls);
        Assert.Equal(StoreWriteStatus.AlreadyExists, failed.Status);
    }

    [Fact]
    public async Task Write_EncoderThrows_FailsOnlyThatWriteAndConsumesNoRevision()
    {
        await using var store = CreateStore();
        var before = store.Revision;

        var ex = await Assert.ThrowsAsync<FormatException>(async () => await store.CreateAsync("/bad", _ => throw new FormatException("boom")));
        var next = await store.CreateAsync("/good", Json("ok"));

        Assert.Equal("boom", ex.Message);
        Assert.Equal(before + 1, next.Revision);
        Assert.Null(await store.GetAsync("/bad"));
    }

    [Fact]
    public async Task Write_CanceledToken_IsCanceled()
    {
        await using var store = CreateStore();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.CreateAsync("/k", Json("1"), cts.Token));
        Assert.Null(await store.GetAsync("/k"));
    }

    [Fact]
    public async Task Revision_IncreasesByOneForEachSuccessfulWriteOnly()
    {
        await using var store = CreateStore();
        var start = store.Revision;
        var revisions = new List<long>
        {
            (await store.CreateAsync("/a", Json("1"))).Revision,
            (await store.CreateAsync("/b", Json("1"))).Revision,
        };
        await store.CreateAsync("/a", Json("dup"));
        await store.UpdateAsync("/a", 999, Json("stale"));
        revisions.Add((await store.UpdateAsync("/a", 0, Json("2"))).Revision);
        revisions.Add((await store.DeleteAsync("/b", 0, Json("x"))).Revision);

        Assert.Equal([start + 1, start + 2, start + 3, start + 4], revisions);
        Assert.Equal(start + 4, store.Revision);
    }

    // ---- list ----

    [Fact]
    public async Task List_AtOlderRevision_ReturnsThatSnapshot()
    {
        await using var store = CreateStore();
        var a1 = await store.CreateAsync("/r/a", Json("a1"));
        var b1 = await store.CreateAsync("/r/b", Json("b1"));
        var a2 = await store.UpdateAsync("/r/a", 0, Json("a2"));
        await store.DeleteAsync("/r/b", 0, Json("x"));
        var c1 = await store.CreateAsync("/r/c", Json("c1"));

        var atB1 = await store.ListAsync("/r/", b1.Revision, null, 0);
        var atA2 = await store.ListAsync("/r/", a2.Revision, null, 0);
        var latest = await store.ListAsync("/r/", 0, null, 0);

        Assert.Equal<StoreObject?>([a1.Current, b1.Current], atB1.Items);
        Assert.Equal(b1.Revision, atB1.Revision);
        Assert.Equal<StoreObject?>([a2.Current, b1.Current], atA2.Items);
        Assert.Equal<StoreObject?>([a2.Current, c1.Current], latest.Items);
        Assert.Equal(store.Revision, latest.Revision);
        Assert.False(latest.More);
        Assert.Equal(0, latest.RemainingCount);
    }

    [Fact]
    public async Task List_Prefix_MatchesOnlyKeysUnderItInOrdinalOrder()
    {
        await using var store = CreateStore();
        foreach (var key in new[] { "/a/y", "/ab", "/a", "/a/x", "/a/X", "/a0", "/b/x" })
        {
            await store.CreateAsync(key, Json(key));
        }

        var list = await store.ListAsync("/a/", 0, null, 0);

        Assert.Equal(["/a/X", "/a/x", "/a/y"], list.Items.Select(i => i.Key));
        Assert.Equal(3, store.Count("/a/"));
        Assert.Equal(7, store.Count(""));
        Assert.Equal(0, store.Count("/c"));
    }

    [Fact]
    public async Task List_Paging_IsConsistentSnapshotWhileWritesContinue()
    {
        await using var store = CreateStore();
        for (var i = 0; i < 10; i++)
        {
            await store.CreateAsync($"/p/k{i:D2}", Json($"v{i}"));
        }

        await store.CreateAsync("/q/other", Json("o"));
        var page1 = await store.ListAsync("/p/", 0, null, 3);

        // Writes between pages: creates, deletes and updates inside the listed range.
        await store.DeleteAsync("/p/k04", 0, Json("x"));
        await store.CreateAsync("/p/k045", Json("new"));
        await store.UpdateAsync("/p/k06", 0, Json("changed"));
        var page2 = await store.ListAsync("/p/", page1.Revision, page1.Items[^1].Key, 3);
        var page3 = await store.ListAsync("/p/", page1.Revision, page2.Items[^1].Key, 3);
        var page4 = await store.ListAsync("/p/", page1.Revision, page3.Items[^1].Key, 3);

        Assert.Equal(["/p/k00", "/p/k01", "/p/k02"], page1.Items.Select(i => i.Key));
        Assert.True(page1.More);
        Assert.Equal(7, page1.RemainingCount);
        Assert.Equal(["/p/k03", "/p/k04", "/p/k05"], page2.Items.Select(i => i.Key));
        Assert.Equal(4, page2.RemainingCount);
        Assert.Equal(["/p/k06", "/p/k07", "/p/k08"], page3.Items.Select(i => i.Key));
        Assert.Contains("v6", V(page3.Items[0]), StringComparison.Ordinal);
        Assert.True(page3.More);
        Assert.Equal(1, page3.RemainingCount);
        Assert.Equal(["/p/k09"], page4.Items.Select(i => i.Key));
        Assert.False(page4.More);
        Assert.Equal(0, page4.RemainingCount);
        Assert.All([page2, page3, page4], p => Assert.Equal(page1.Revision, p.Revision));

        var latest = await store.ListAsync("/p/", 0, "/p/k03", 2);
        Assert.Equal(["/p/k045", "/p/k05"], latest.Items.Select(i => i.Key));
        Assert.Equal(4, latest.RemainingCount);
    }

    [Fact]
    public async Task List_StartAfterKeyOutsidePrefix_ClampsToPrefixRange()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/a/1", Json("1"));
        await store.CreateAsync("/b/1", Json("1"));

        Assert.Single((await store.ListAsync("/b/", 0, "/a/zzz", 0)).Items);
        Assert.Empty((await store.ListAsync("/a/", 0, "/b/", 0)).Items);
    }

    [Fact]
    public async Task List_RandomHistory_MatchesModelAtEveryRevisionAndPageSize()
    {
        await using var store = CreateStore();
        var random = new Random(1234);
        var model = new SortedDictionary<string, StoreObject>(StringComparer.Ordinal);
        var states = new Dictionary<long, StoreObject[]>();
        for (var i = 0; i < 150; i++)
        {
            var key = $"/m/{random.Next(25):D2}";
            StoreWriteResult result;
            if (!model.TryGetValue(key, out var existing))
            {
                result = await store.CreateAsync(key, Json($"c{i}"));
                model[key] = result.Current!;
            }
            else if (random.Next(3) == 0)
            {
                result = await store.DeleteAsync(key, existing.ModRevision, Json("x"));
                model.Remove(key);
            }
            else
            {
                result = await store.UpdateAsync(key, existing.ModRevision, Json($"u{i}"));
                model[key] = result.Current!;
            }

            Assert.Equal(StoreWriteStatus.Ok, result.Status);
            states[result.Revision] = [.. model.Values];
        }

        foreach (var (revision, expected) in states.Where(s => s.Key % 7 == 0 || s.Key == store.Revision))
        {
            foreach (var pageSize in new[] { 1, 4, 10, 0 })
            {
                var seen = new List<StoreObject>();
                string? after = null;
                while (true)
                {
                    var page = await store.ListAsync("/m/", revision, after, pageSize);
                    seen.AddRange(page.Items);
                    Assert.Equal(expected.Length - seen.Count, page.RemainingCount);
                    Assert.Equal(page.RemainingCount > 0, page.More);
                    if (!page.More)
                    {
                        break;
                    }

                    after = page.Items[^1].Key;
                }

                Assert.Equal(expected, seen);
            }
        }
    }

    [Fact]
    public async Task List_CompactedRevision_ThrowsExpired_FutureRevision_Throws()
    {
        await using var store = CreateStore();
        var r1 = await store.CreateAsync("/k", Json("1"));
        var r2 = await store.UpdateAsync("/k", 0, Json("2"));
        await store.UpdateAsync("/k", 0, Json("3"));
        await store.CompactAsync(r2.Revision);

        var ex = await Assert.ThrowsAsync<StoreExpiredException>(async () => await store.ListAsync("/", r1.Revision, null, 0));
        Assert.Equal(r2.Revision, ex.Compacted);
        Assert.Equal<StoreObject?>([r2.Current], (await store.ListAsync("/", r2.Revision, null, 0)).Items);
        await Assert.ThrowsAsync<StoreFutureRevisionException>(async () => await store.ListAsync("/", store.Revision + 1, null, 0));
    }

    // ---- watch ----

    [Fact]
    public async Task Watch_FromRevision_ReplaysMissedEventsThenLiveInOrder()
    {
        await using var store = CreateStore();
        var a = await store.CreateAsync("/w/a", Json("a1"));
        var a2 = await store.UpdateAsync("/w/a", 0, Json("a2"));
        await store.CreateAsync("/other/x", Json("x"));
        var b = await store.CreateAsync("/w/b", Json("b1"));
        var del = await store.DeleteAsync("/w/a", 0, Json("a-gone"));

        using var watch = store.Watch("/w/", a.Revision);
        var replayed = await TakeAsync(watch, 3);
        var live = await store.UpdateAsync("/w/b", 0, Json("b2"));
        var next = await TakeAsync(watch, 1);

        Assert.Equal(
            [(StoreEventType.Modified, a2.Revision), (StoreEventType.Added, b.Revision), (StoreEventType.Deleted, del.Revision)],
            replayed.Select(e => (e.Type, e.Revision)));
        Assert.Equal(V(a2.Current), Text(replayed[0].Value));
        Assert.Equal(V(a.Current), Text(replayed[0].PreviousValue));
        Assert.True(replayed[1].PreviousValue.IsEmpty);
        Assert.Equal(V(del.Current), Text(replayed[2].Value));
        Assert.Equal(V(a2.Current), Text(replayed[2].PreviousValue));
        Assert.Equal(live.Revision, Assert.Single(next).Revision);
        Assert.True(IsEmpty(watch));
    }

    [Fact]
    public async Task Watch_FromZero_DeliversOnlyLaterEvents()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/k/a", Json("1"));

        using var watch = store.Watch("/k/", 0);
        Assert.True(IsEmpty(watch));
        var b = await store.CreateAsync("/k/b", Json("1"));

        Assert.Equal(b.Revision, (await TakeAsync(watch, 1))[0].Revision);
    }

    [Fact]
    public async Task Watch_FromFutureRevision_SkipsEventsUpToIt()
    {
        await using var store = CreateStore();
        using var watch = store.Watch("/", store.Revision + 2);
        await store.CreateAsync("/a", Json("1"));
        await store.CreateAsync("/b", Json("1"));
        var c = await store.CreateAsync("/c", Json("1"));

        Assert.Equal(c.Revision, (await TakeAsync(watch, 1))[0].Revision);
        Assert.True(IsEmpty(watch));
    }

    [Fact]
    public async Task Watch_OlderThanCompacted_ThrowsExpired_AtCompactedIsFine()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/k", Json("1"));
        var r2 = await store.UpdateAsync("/k", 0, Json("2"));
        var r3 = await store.UpdateAsync("/k", 0, Json("3"));
        await store.CompactAsync(r2.Revision);

        var ex = Assert.Throws<StoreExpiredException>(() => store.Watch("/", r2.Revision - 1));
        using var watch = store.Watch("/", r2.Revision);

        Assert.Equal(r2.Revision - 1, ex.Requested);
        Assert.Equal(r2.Revision, ex.Compacted);
        Assert.Equal(r3.Revision, (await TakeAsync(watch, 1))[0].Revision);
    }

    [Fact]
    public async Task Watch_SlowWatcher_IsClosedWithOverflowAfterItsBufferedEvents()
    {
        await using var store = CreateStore(new StoreOptions { WatchCapacity = 4 });
        using var slow = store.Watch("/", 0);
        using var other = store.Watch("/", 0);

        for (var i = 0; i < 10; i++)
        {
            await store.CreateAsync($"/k{i}", Json("1"));
            await TakeAsync(other, 1);
        }

        var (events, error) = await DrainAsync(slow.Events);
        Assert.Equal(4, events.Count);
        Assert.IsType<StoreWatcherOverflowException>(error);
        await store.CreateAsync("/after", Json("1"));
        Assert.Equal("/after", (await TakeAsync(other, 1))[0].Key);
    }

    [Fact]
    public async Task Watch_Dispose_CompletesEventsAndStopsDelivery()
    {
        await using var store = CreateStore();
        var watch = store.Watch("/", 0);
        watch.Dispose();
        await store.CreateAsync("/k", Json("1"));

        var (events, error) = await DrainAsync(watch.Events);

        Assert.Empty(events);
        Assert.Null(error);
    }

    [Fact]
    public async Task Watch_ManyWatchers_ShareOneEventInstance()
    {
        await using var store = CreateStore();
        var watches = Enumerable.Range(0, 1000).Select(i => store.Watch(i % 2 == 0 ? "/registry/" : "/registry/pods/", 0)).ToList();
        try
        {
            await store.CreateAsync("/registry/pods/default/p", Json("1"));

            var first = (await TakeAsync(watches[0], 1))[0];
            foreach (var watch in watches.Skip(1))
            {
                Assert.Same(first, (await TakeAsync(watch, 1))[0]);
            }
        }
        finally
        {
            watches.ForEach(w => w.Dispose());
        }
    }

    [Fact]
    public async Task Watch_RegisteredDuringWrites_GetsEveryRevisionExactlyOnce()
    {
        await using var store = CreateStore();
        const int writes = 400;
        for (var k = 0; k < 7; k++)
        {
            await store.CreateAsync($"/c/{k}", Json("0"));
        }

        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < writes; i++)
            {
                await store.UpdateAsync($"/c/{i % 7}", 0, Json($"{i}"));
            }
        });

        var watches = new List<(long From, IStoreWatch Watch)>();
        while (!writer.IsCompleted && watches.Count < 200)
        {
            var from = Math.Max(store.CompactedRevision, store.Revision - 5);
            watches.Add((from, store.Watch("/c/", from)));
            // Pacing only, so registrations spread over the writes; nothing depends on the delay.
            await Task.Delay(1);
        }

        await writer;
        var final = store.Revision;
        foreach (var (from, watch) in watches)
        {
            var events = await TakeAsync(watch, (int)(final - from));
            Assert.Equal(Enumerable.Range(0, (int)(final - from)).Select(i => from + 1 + i), events.Select(e => e.Revision));
            Assert.True(IsEmpty(watch));
            watch.Dispose();
        }
    }

    // ---- concurrency ----

    [Fact]
    public async Task Concurrency_ParallelCreates_EachGetsDistinctRevision()
    {
        await using var store = CreateStore();
        var start = store.Revision;
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            var mine = new List<StoreWriteResult>();
            for (var i = 0; i < 50; i++)
            {
                mine.Add(await store.CreateAsync($"/par/{t}/{i}", Json($"{t}.{i}")));
            }

            return mine;
        })));

        var all = results.SelectMany(r => r).ToList();
        Assert.All(all, r => Assert.Equal(StoreWriteStatus.Ok, r.Status));
        Assert.Equal(Enumerable.Range(1, 400).Select(i => start + i), all.Select(r => r.Revision).Order());
        Assert.Equal(start + 400, store.Revision);
        var list = await store.ListAsync("/par/", 0, null, 0);
        Assert.Equal(400, list.Items.Count);
        Assert.All(list.Items, o => Assert.Equal(all.Single(r => r.Current!.Key == o.Key).Current, o));
    }

    [Fact]
    public async Task Concurrency_CompareAndSwapIncrements_LoseNoUpdate()
    {
        await using var store = CreateStore();
        await store.CreateAsync("/counter", _ => "0"u8.ToArray());
        var conflicts = new ConcurrentBag<int>();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                while (true)
                {
                    var current = (await store.GetAsync("/counter"))!;
                    var next = int.Parse(Text(current.Value)) + 1;
                    var result = await store.UpdateAsync("/counter", current.ModRevision, _ => System.Text.Encoding.UTF8.GetBytes(next.ToString()));
                    if (result.Status == StoreWriteStatus.Ok)
                    {
                        break;
                    }

                    Assert.Equal(StoreWriteStatus.Conflict, result.Status);
                    conflicts.Add(1);
                }
            }
        })));

        Assert.Equal("100", Text((await store.GetAsync("/counter"))!.Value));
    }

    // ---- compaction ----

    [Fact]
    public async Task Compact_DropsHistoryButKeepsLiveKeys()
    {
        await using var store = CreateStore();
        var a = await store.CreateAsync("/a", Json("a1"));
        await store.CreateAsync("/b", Json("b1"));
        var a2 = await store.UpdateAsync("/a", 0, Json("a2"));
        var delB = await store.DeleteAsync("/b", 0, Json("x"));
        var c = await store.CreateAsync("/c", Json("c1"));

        await store.CompactAsync(delB.Revision);

        Assert.Equal(delB.Revision, store.CompactedRevision);
        Assert.Equal<StoreObject?>([a2.Current, c.Current], (await store.ListAsync("/", 0, null, 0)).Items);
        Assert.Equal<StoreObject?>([a2.Current], (await store.ListAsync("/", delB.Revision, null, 0)).Items);
        Assert.Throws<StoreExpiredException>(() => store.Watch("/", a.Revision));
        using var watch = store.Watch("/", delB.Revision);
        Assert.Equal(c.Revision, (await TakeAsync(watch, 1))[0].Revision);
        Assert.Equal(2, store.Count("/"));

        // Compacting to an older revision is a no-op; beyond the current one is rejected.
        await store.CompactAsync(a.Revision);
        Assert.Equal(delB.Revision, store.CompactedRevision);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.CompactAsync(store.Revision + 1));
    }

    [Fact]
    public async Task Compact_ByRetention_KeepsHistoryYoungerThanRetention()
    {
        var time = new FakeTimeProvider();
        await using var store = CreateStore(
            new StoreOptions { HistoryRetention = TimeSpan.FromMinutes(5), CompactionInterval = TimeSpan.FromSeconds(30) }, time);
        var old = await store.CreateAsync("/old", Json("1"));

        await AdvanceAsync(store, time, TimeSpan.FromMinutes(4));
        var young = await store.CreateAsync("/young", Json("1"));
        using (var watch = store.Watch("/", old.Revision - 1))
        {
            Assert.Equal(2, (await TakeAsync(watch, 2)).Count);
        }

        await AdvanceAsync(store, time, TimeSpan.FromMinutes(2));

        Assert.True(store.CompactedRevision >= old.Revision, $"compacted {store.CompactedRevision}");
        Assert.True(store.CompactedRevision < young.Revision, $"compacted {store.CompactedRevision}");
        Assert.Throws<StoreExpiredException>(() => store.Watch("/", old.Revision - 1));
        using var recent = store.Watch("/", young.Revision - 1);
        Assert.Equal(young.Revision, (await TakeAsync(recent, 1))[0].Revision);
    }

    [Fact]
    public async Task Compact_ByEventCap_WinsOverRetention()
    {
        var time = new FakeTimeProvider();
        await using var store = CreateStore(new StoreOptions { MaxHistoryEvents = 50, HistoryRetention = TimeSpan.FromHours(1) }, time);
        for (var i = 0; i < 120; i++)
        {
            await store.CreateAsync($"/k{i}", Json("1"));
        }

        Assert.InRange(store.Revision - store.CompactedRevision, 1, 50);
        Assert.Equal(120, store.Count("/"));
    }

    private static async Task AdvanceAsync(IStore store, FakeTimeProvider time, TimeSpan by)
    {
        for (var t = TimeSpan.Zero; t < by; t += TimeSpan.FromSeconds(10))
        {
            time.Advance(TimeSpan.FromSeconds(10));
            // A queued no-op runs after the tick the timer just queued.
            await store.CompactAsync(0);
        }
    }

    // ---- lifecycle ----

    [Fact]
    public async Task Dispose_EndsWatchesAndRejectsWrites()
    {
        var store = CreateStore();
        var watch = store.Watch("/", 0);
        await store.CreateAsync("/k", Json("1"));

        await store.DisposeAsync();

        var (events, error) = await DrainAsync(watch.Events);
        Assert.Single(events);
        Assert.Null(error);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.CreateAsync("/j", Json("1")));
        Assert.Throws<ObjectDisposedException>(() => store.Watch("/", 0));
        await store.DisposeAsync();
    }

    [Fact]
    public async Task List_TenThousandKeys_ReturnsAllInOrder()
    {
        await using var store = CreateStore();
        await Task.WhenAll(Enumerable.Range(0, 10_000).Select(i => store.CreateAsync($"/registry/pods/ns/p{i:D5}", Json("pod")).AsTask()));
        await store.CreateAsync("/registry/services/ns/s", Json("svc"));

        var list = await store.ListAsync("/registry/pods/", 0, null, 0);
        var page = await store.ListAsync("/registry/pods/", 0, null, 500);

        Assert.Equal(10_000, list.Items.Count);
        Assert.True(list.Items.Zip(list.Items.Skip(1)).All(p => string.CompareOrdinal(p.First.Key, p.Second.Key) < 0));
        Assert.Equal(9_500, page.RemainingCount);
        Assert.Equal(10_000, store.Count("/registry/pods/"));
    }
}
