namespace Switchboard.Store;

/// <summary>Settings shared by every backend of the in-memory MVCC core.</summary>
public class StoreOptions
{
    /// <summary>
    /// History younger than this is kept for watches and old-revision lists (upstream keeps about 5 minutes).
    /// Older history is compacted every <see cref="CompactionInterval"/>, so the window is Retention to
    /// Retention + CompactionInterval. <see cref="MaxHistoryEvents"/> overrides it.
    /// </summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Hard cap on history events (each holds the values it changed). When exceeded the oldest history is
    /// compacted down to 90 % of the cap even inside <see cref="HistoryRetention"/>: memory safety wins, since a
    /// too-short history only costs clients a 410 and a relist.
    /// </summary>
    public int MaxHistoryEvents { get; set; } = 200_000;

    /// <summary>How often retention is enforced (and SQLite maintenance runs). Zero or infinite disables both.</summary>
    public TimeSpan CompactionInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Events a watcher may have queued before it is closed with <see cref="StoreWatcherOverflowException"/>.</summary>
    public int WatchCapacity { get; set; } = 16_384;

    /// <summary>Most writes committed in one transaction (group commit).</summary>
    public int MaxBatchSize { get; set; } = 512;

    internal virtual void Validate()
    {
        if (HistoryRetention < TimeSpan.Zero && HistoryRetention != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HistoryRetention), HistoryRetention, "must be non-negative or infinite");
        }

        if (CompactionInterval < TimeSpan.Zero && CompactionInterval != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(CompactionInterval), CompactionInterval, "must be non-negative or infinite");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHistoryEvents, 1, nameof(MaxHistoryEvents));
        ArgumentOutOfRangeException.ThrowIfLessThan(WatchCapacity, 1, nameof(WatchCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1, nameof(MaxBatchSize));
    }
}

/// <summary>Settings of <see cref="SqliteStore"/>.</summary>
public sealed class SqliteStoreOptions : StoreOptions
{
    /// <summary>Path of the database file; its directory is created if missing. The file is locked exclusively while open.</summary>
    public required string Path { get; set; }

    internal override void Validate()
    {
        base.Validate();
        ArgumentException.ThrowIfNullOrWhiteSpace(Path, nameof(Path));
    }
}

/// <summary>A list asked for a revision newer than the store's (upstream: "Too large resource version").</summary>
public sealed class StoreFutureRevisionException(long requested, long current)
    : Exception($"too large resource version: {requested}, current: {current}")
{
    public long Requested { get; } = requested;
    public long Current { get; } = current;
}
