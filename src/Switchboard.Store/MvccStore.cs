using Switchboard.Store.Mvcc;

namespace Switchboard.Store;

/// <summary>
/// <see cref="IStore"/> over the MVCC core: <see cref="MemoryStore"/> and <see cref="SqliteStore"/> differ only in
/// how the core is made (with or without persistence).
/// </summary>
public abstract class MvccStore : IStore
{
    private protected MvccStore(RevisionedStore core) => Core = core;

    public long Revision => Core.Revision;

    public long CompactedRevision => Core.CompactedRevision;

    internal RevisionedStore Core { get; }

    public ValueTask<StoreObject?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        Core.GetAsync(key, cancellationToken);

    public ValueTask<StoreList> ListAsync(string prefix, long revision, string? startAfterKey, int limit, CancellationToken cancellationToken = default) =>
        Core.ListAsync(prefix, revision, startAfterKey, limit, cancellationToken);

    public long Count(string prefix) => Core.Count(prefix);

    public ValueTask<StoreWriteResult> CreateAsync(string key, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        Core.CreateAsync(key, encode, cancellationToken);

    public ValueTask<StoreWriteResult> UpdateAsync(string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        Core.UpdateAsync(key, expectedModRevision, encode, cancellationToken);

    public ValueTask<StoreWriteResult> DeleteAsync(string key, long expectedModRevision, ValueEncoder encodeTombstone, CancellationToken cancellationToken = default) =>
        Core.DeleteAsync(key, expectedModRevision, encodeTombstone, cancellationToken);

    public IStoreWatch Watch(string prefix, long fromRevision) => Core.Watch(prefix, fromRevision);

    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default) =>
        Core.CompactAsync(revision, cancellationToken);

    /// <summary>Finishes queued writes (with persistence: closes the file, checkpointing the WAL) and ends open watches.</summary>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Core.DisposeAsync();
    }
}
