using Microsoft.Extensions.Time.Testing;
using static Switchboard.Store.Tests.StoreTestKit;

namespace Switchboard.Store.Tests;

public sealed class SqliteStoreTests : StoreContractTests, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "switchboard-store-tests", Guid.NewGuid().ToString("N"));
    private int _files;

    protected override IStore CreateStore(StoreOptions? options = null, TimeProvider? timeProvider = null) =>
        Open(NewPath(), options, timeProvider);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Reopen_KeepsEveryAcknowledgedWriteAndContinuesCounter()
    {
        var path = NewPath();
        List<StoreObject> before;
        long revision;
        await using (var store = Open(path))
        {
            for (var i = 0; i < 30; i++)
            {
                await store.CreateAsync($"/r/{i:D2}", Json($"v{i}"));
            }

            await store.UpdateAsync("/r/03", 0, Json("updated"));
            await store.DeleteAsync("/r/05", 0, Json("x"));
            await store.CreateAsync("/r/05", Json("again"));
            // The newest write is a delete: the counter must not fall back to the newest live key's revision.
            await store.DeleteAsync("/r/07", 0, Json("x"));
            before = [.. (await store.ListAsync("/", 0, null, 0)).Items];
            revision = store.Revision;
        }

        await using var reopened = Open(path);
        var after = (await reopened.ListAsync("/", 0, null, 0)).Items;

        Assert.Equal(revision, reopened.Revision);
        AssertSameObjects(before, after);
        var next = await reopened.CreateAsync("/r/new", Json("n"));
        Assert.Equal(revision + 1, next.Revision);
    }

    [Fact]
    public async Task Reopen_HistoryStartsAtLoadedRevision()
    {
        var path = NewPath();
        await using (var store = Open(path))
        {
            await store.CreateAsync("/a", Json("1"));
            await store.UpdateAsync("/a", 0, Json("2"));
        }

        await using var reopened = Open(path);

        Assert.Equal(reopened.Revision, reopened.CompactedRevision);
        Assert.Throws<StoreExpiredException>(() => reopened.Watch("/", reopened.Revision - 1));
        await Assert.ThrowsAsync<StoreExpiredException>(async () => await reopened.ListAsync("/", reopened.Revision - 1, null, 0));
        using var watch = reopened.Watch("/", reopened.Revision);
        var update = await reopened.UpdateAsync("/a", 0, Json("3"));
        var evt = (await TakeAsync(watch, 1))[0];
        Assert.Equal((StoreEventType.Modified, update.Revision), (evt.Type, evt.Revision));
        Assert.Contains("\"2\"", Text(evt.PreviousValue), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Crash_FilesCopiedWhileOpen_RecoverEveryAcknowledgedWrite()
    {
        // The files as they are between acknowledged writes are what a crash (kill -9) leaves behind:
        // the main file plus an un-checkpointed WAL.
        var path = NewPath();
        var crashed = NewPath();
        await using var store = Open(path);
        for (var i = 0; i < 50; i++)
        {
            await store.CreateAsync($"/c/{i:D2}", Json($"v{i}"));
        }

        await store.DeleteAsync("/c/10", 0, Json("x"));
        var expected = (await store.ListAsync("/", 0, null, 0)).Items;
        var revision = store.Revision;
        foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
        {
            if (File.Exists(path + suffix))
            {
                File.Copy(path + suffix, crashed + suffix);
            }
        }

        Assert.True(File.Exists(crashed + "-wal"), "expected an un-checkpointed WAL");
        await using var recovered = Open(crashed);

        Assert.Equal(revision, recovered.Revision);
        AssertSameObjects(expected, (await recovered.ListAsync("/", 0, null, 0)).Items);
        Assert.Equal(revision + 1, (await recovered.CreateAsync("/c/new", Json("n"))).Revision);
    }

    [Fact]
    public async Task Open_FileHeldByAnotherStore_Throws()
    {
        var path = NewPath();
        await using var store = Open(path);
        await store.CreateAsync("/a", Json("1"));

        var ex = Assert.Throws<InvalidOperationException>(() => Open(path));

        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);
        Assert.Equal(StoreWriteStatus.Ok, (await store.CreateAsync("/b", Json("1"))).Status);
    }

    [Fact]
    public async Task Values_RoundTripByteForByte()
    {
        var path = NewPath();
        var binary = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();
        await using (var store = Open(path))
        {
            await store.CreateAsync("/bin", _ => binary);
            await store.CreateAsync("/empty", _ => ReadOnlyMemory<byte>.Empty);
            await store.CreateAsync("/slice", _ => binary.AsMemory(10, 20));
        }

        await using var reopened = Open(path);

        Assert.Equal(binary, (await reopened.GetAsync("/bin"))!.Value.ToArray());
        Assert.Equal(0, (await reopened.GetAsync("/empty"))!.Value.Length);
        Assert.Equal(binary[10..30], (await reopened.GetAsync("/slice"))!.Value.ToArray());
    }

    [Fact]
    public async Task Maintenance_TruncatesWalAtCompactionInterval()
    {
        var path = NewPath();
        var time = new FakeTimeProvider();
        await using var store = Open(path, new StoreOptions { CompactionInterval = TimeSpan.FromSeconds(30) }, time);
        for (var i = 0; i < 20; i++)
        {
            await store.CreateAsync($"/m/{i}", Json("v"));
        }

        Assert.True(new FileInfo(path + "-wal").Length > 0);
        time.Advance(TimeSpan.FromSeconds(30));
        await store.CompactAsync(0);

        Assert.Equal(0, new FileInfo(path + "-wal").Length);
        Assert.Equal(20, store.Count("/m/"));
    }

    private static void AssertSameObjects(IReadOnlyList<StoreObject> expected, IReadOnlyList<StoreObject> actual)
    {
        Assert.Equal(
            expected.Select(o => (o.Key, Text(o.Value), o.CreateRevision, o.ModRevision)),
            actual.Select(o => (o.Key, Text(o.Value), o.CreateRevision, o.ModRevision)));
    }

    private string NewPath() => Path.Combine(_dir, $"store{Interlocked.Increment(ref _files)}.db");

    private static SqliteStore Open(string path, StoreOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new StoreOptions();
        return new SqliteStore(
            new SqliteStoreOptions
            {
                Path = path,
                HistoryRetention = options.HistoryRetention,
                MaxHistoryEvents = options.MaxHistoryEvents,
                CompactionInterval = options.CompactionInterval,
                WatchCapacity = options.WatchCapacity,
                MaxBatchSize = options.MaxBatchSize,
            },
            timeProvider);
    }
}
