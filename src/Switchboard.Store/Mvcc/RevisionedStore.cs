using Microsoft.Extensions.Logging;

namespace Switchboard.Store.Mvcc;

/// <summary>The key index as readers see it: an immutable root, and the revision of the last change to its live set.</summary>
internal sealed record IndexSnapshot(IndexNode? Root, long LiveChangedAt);

/// <summary>
/// The in-memory MVCC core behind every backend: a persistent key index whose entries hold short version
/// chains, an event log of the history window, and watchers. One writer thread serializes and group-commits
/// writes through an optional <see cref="IStorePersistence"/>; readers take no locks.
/// </summary>
/// <remarks>
/// Publication order (writer): version chains and index root, then the event log, then the revision. Readers
/// read the revision first, so everything at or below it is visible to them; newer versions they may also see
/// are filtered out by revision.
/// </remarks>
internal sealed partial class RevisionedStore : IStore
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IStorePersistence? _persistence;
    private readonly TimeSpan _retention;
    private readonly int _maxHistoryEvents;
    private readonly int _watchCapacity;
    private readonly int _maxBatchSize;

    // Published state: written by the writer thread, read lock-free by everyone.
    private long _revision;
    private long _compacted;
    private IndexSnapshot _snapshot;
    private EventLog _log;

    private int _disposed;

    public RevisionedStore(
        StoreOptions options,
        TimeProvider time,
        ILogger logger,
        IStorePersistence? persistence,
        long revision,
        long compactedRevision,
        IEnumerable<StoreObject> objects)
    {
        _time = time;
        _logger = logger;
        _persistence = persistence;
        _retention = options.HistoryRetention;
        _maxHistoryEvents = options.MaxHistoryEvents;
        _watchCapacity = options.WatchCapacity;
        _maxBatchSize = options.MaxBatchSize;

        var sorted = objects
            .Select(o => (Entry: new KeyEntry(o.Key, new KeyVersion(o, o.ModRevision, null)), Live: true))
            .OrderBy(e => e.Entry.Key, StringComparer.Ordinal)
            .ToList();
        _root = KeyIndex.Build(sorted);
        _liveChangedAt = revision;
        _revision = revision;
        _compacted = compactedRevision;
        _snapshot = new IndexSnapshot(_root, revision);
        _log = EventLog.Empty(revision + 1);
        _checkpoints.Enqueue((time.GetUtcNow(), revision));

        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "switchboard-store-writer" };
        _writer.Start();

        var interval = options.CompactionInterval;
        if (interval > TimeSpan.Zero && interval != Timeout.InfiniteTimeSpan)
        {
            _timer = time.CreateTimer(static s => ((RevisionedStore)s!).OnTick(), this, interval, interval);
        }
    }

    public long Revision => Volatile.Read(ref _revision);

    public long CompactedRevision => Volatile.Read(ref _compacted);

    /// <summary>Number of keys in the index, live or tombstoned within the history window (for tests and metrics).</summary>
    internal int IndexedKeys
    {
        get
        {
            var count = 0;
            var cursor = new IndexCursor(Volatile.Read(ref _snapshot).Root, string.Empty, inclusive: true);
            while (cursor.TryNext(out _))
            {
                count++;
            }

            return count;
        }
    }

    public ValueTask<StoreObject?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        // Read at the published revision so a write applied but not yet published is not seen early.
        var revision = Revision;
        var node = KeyIndex.Find(Volatile.Read(ref _snapshot).Root, key);
        return new ValueTask<StoreObject?>(node?.Entry.At(revision));
    }

    public ValueTask<StoreList> ListAsync(string prefix, long revision, string? startAfterKey, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(revision);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        var current = Revision;
        var at = revision == 0 ? current : revision;
        if (at > current)
        {
            throw new StoreFutureRevisionException(at, current);
        }

        ThrowIfCompacted(at);
        var snapshot = Volatile.Read(ref _snapshot);
        var root = snapshot.Root;

        // The live set of the snapshot equals the live set at `at` when nothing was created or deleted since:
        // then the remaining count comes from the index's counters instead of a scan.
        var countsValid = snapshot.LiveChangedAt <= at;
        var cursor = startAfterKey is not null && string.CompareOrdinal(startAfterKey, prefix) >= 0
            ? new IndexCursor(root, startAfterKey, inclusive: false)
            : new IndexCursor(root, prefix, inclusive: true);

        var capacity = limit > 0 ? Math.Min(limit, 4096) : countsValid ? KeyIndex.CountLive(root, prefix) : 16;
        var items = new List<StoreObject>(capacity);
        var more = false;
        long remaining = 0;
        while (cursor.TryNext(out var node) && node.Key.StartsWith(prefix, StringComparison.Ordinal))
        {
            if (limit > 0 && items.Count == limit)
            {
                if (countsValid)
                {
                    remaining = KeyIndex.RankLive(root, prefix, BoundKind.PrefixEnd) - KeyIndex.RankLive(root, items[^1].Key, BoundKind.AtOrBefore);
                }
                else
                {
                    remaining = CountFrom(node, ref cursor, prefix, at);
                }

                more = remaining > 0;
                break;
            }

            if (node.Entry.At(at) is { } obj)
            {
                items.Add(obj);
            }
        }

        // A compaction that raced with this read may have cut version chains it walked.
        ThrowIfCompacted(at);
        return new ValueTask<StoreList>(new StoreList(items, at, more, remaining));
    }

    public long Count(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return KeyIndex.CountLive(Volatile.Read(ref _snapshot).Root, prefix);
    }

    private static long CountFrom(IndexNode first, ref IndexCursor cursor, string prefix, long at)
    {
        long count = first.Entry.At(at) is null ? 0 : 1;
        while (cursor.TryNext(out var node) && node.Key.StartsWith(prefix, StringComparison.Ordinal))
        {
            if (node.Entry.At(at) is not null)
            {
                count++;
            }
        }

        return count;
    }

    private void ThrowIfCompacted(long revision)
    {
        var compacted = CompactedRevision;
        if (revision < compacted)
        {
            throw new StoreExpiredException(revision, compacted);
        }
    }
}
