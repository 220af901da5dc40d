using System.Threading.Channels;

namespace Switchboard.Store;

/// <summary>
/// Produces the bytes stored for a key once the store has assigned the write its revision, so the
/// stored value can carry its own resourceVersion and be served without re-encoding.
/// Called exactly once per successful write, under the store's write ordering; must be fast and pure.
/// </summary>
public delegate ReadOnlyMemory<byte> ValueEncoder(long revision);

/// <summary>One live key: its value as served (UTF-8 JSON) and its revisions.</summary>
public sealed record StoreObject(string Key, ReadOnlyMemory<byte> Value, long CreateRevision, long ModRevision);

public enum StoreEventType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>
/// One change. For Deleted, Value is the tombstone produced by the delete's encoder (the last state,
/// stamped with the delete's revision, as upstream sends in DELETED events). PreviousValue is the value
/// before the change (empty for Added).
/// </summary>
public sealed record StoreEvent(StoreEventType Type, string Key, long Revision, ReadOnlyMemory<byte> Value, ReadOnlyMemory<byte> PreviousValue);

public enum StoreWriteStatus
{
    Ok,
    /// <summary>Create of a key that exists.</summary>
    AlreadyExists,
    /// <summary>Update/delete of a key that does not exist.</summary>
    NotFound,
    /// <summary>The key's modRevision differs from the expected one.</summary>
    Conflict,
}

/// <summary>Result of a write. Current is the object after the write (Ok), or the live object that made it fail.</summary>
public readonly record struct StoreWriteResult(StoreWriteStatus Status, long Revision, StoreObject? Current);

/// <summary>A page of a prefix listing at one revision.</summary>
public sealed record StoreList(IReadOnlyList<StoreObject> Items, long Revision, bool More, long RemainingCount);

/// <summary>The requested revision is older than the compacted revision (upstream: 410 Expired / Gone).</summary>
public sealed class StoreExpiredException(long requested, long compacted)
    : Exception($"too old resource version: {requested} ({compacted})")
{
    public long Requested { get; } = requested;
    public long Compacted { get; } = compacted;
}

/// <summary>A watcher fell too far behind and was closed; it must re-watch from its last revision.</summary>
public sealed class StoreWatcherOverflowException() : Exception("watcher fell behind and was closed");

/// <summary>An open watch. Events arrive in revision order; the reader completes when the watch ends.</summary>
public interface IStoreWatch : IDisposable
{
    ChannelReader<StoreEvent> Events { get; }
}

/// <summary>
/// A revisioned, watchable key-value store in etcd's model: one revision counter across the whole store,
/// optimistic concurrency by modRevision, watch from a revision, compaction of history.
/// </summary>
public interface IStore : IAsyncDisposable
{
    /// <summary>The latest committed revision.</summary>
    long Revision { get; }

    /// <summary>
    /// History covers revisions above this: listing at or watching from a revision below it throws
    /// StoreExpiredException; at it is fine (0 = nothing compacted).
    /// </summary>
    long CompactedRevision { get; }

    ValueTask<StoreObject?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists keys under prefix as of revision (0 = latest), in key order, starting after startAfterKey
    /// (null = from the beginning), at most limit items (0 = all).
    /// Throws StoreExpiredException when revision is compacted, StoreFutureRevisionException when it is newer than Revision.
    /// </summary>
    ValueTask<StoreList> ListAsync(string prefix, long revision, string? startAfterKey, int limit, CancellationToken cancellationToken = default);

    /// <summary>Number of live keys under prefix (for metrics and remainingItemCount).</summary>
    long Count(string prefix);

    /// <summary>Creates key; AlreadyExists if live. Acknowledged only after the write is durable.</summary>
    ValueTask<StoreWriteResult> CreateAsync(string key, ValueEncoder encode, CancellationToken cancellationToken = default);

    /// <summary>Replaces key if its modRevision equals expectedModRevision (0 = unconditional).</summary>
    ValueTask<StoreWriteResult> UpdateAsync(string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes key if its modRevision equals expectedModRevision (0 = unconditional); encode makes the tombstone.
    /// On Ok, Current carries the tombstone value stamped with the delete's revision (what upstream returns).
    /// </summary>
    ValueTask<StoreWriteResult> DeleteAsync(string key, long expectedModRevision, ValueEncoder encodeTombstone, CancellationToken cancellationToken = default);

    /// <summary>
    /// Watches keys under prefix for changes with revision &gt; fromRevision (0 = from now).
    /// Throws StoreExpiredException when fromRevision is compacted.
    /// </summary>
    IStoreWatch Watch(string prefix, long fromRevision);

    /// <summary>Drops history at or below revision. Live keys are kept.</summary>
    ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default);
}
