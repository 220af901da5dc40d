using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Store.Mvcc;

namespace Switchboard.Store;

/// <summary>The MVCC core without persistence: for tests and throwaway servers. Starts at revision 1, empty.</summary>
public sealed class MemoryStore : IStore
{
    private readonly RevisionedStore _core;

    public MemoryStore(StoreOptions? options = null, TimeProvider? timeProvider = null, ILogger<MemoryStore>? logger = null)
    {
        options ??= new StoreOptions();
        options.Validate();
        _core = new RevisionedStore(
            options, timeProvider ?? TimeProvider.System, logger ?? NullLogger<MemoryStore>.Instance,
            persistence: null, revision: 1, compactedRevision: 0, objects: []);
    }

    public long Revision => _core.Revision;

    public long CompactedRevision => _core.CompactedRevision;

    internal RevisionedStore Core => _core;

    public ValueTask<StoreObject?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        _core.GetAsync(key, cancellationToken);

    public ValueTask<StoreList> ListAsync(string prefix, long revision, string? startAfterKey, int limit, CancellationToken cancellationToken = default) =>
        _core.ListAsync(prefix, revision, startAfterKey, limit, cancellationToken);

    public long Count(string prefix) => _core.Count(prefix);

    public ValueTask<StoreWriteResult> CreateAsync(string key, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        _core.CreateAsync(key, encode, cancellationToken);

    public ValueTask<StoreWriteResult> UpdateAsync(string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        _core.UpdateAsync(key, expectedModRevision, encode, cancellationToken);

    public ValueTask<StoreWriteResult> DeleteAsync(string key, long expectedModRevision, ValueEncoder encodeTombstone, CancellationToken cancellationToken = default) =>
        _core.DeleteAsync(key, expectedModRevision, encodeTombstone, cancellationToken);

    public IStoreWatch Watch(string prefix, long fromRevision) => _core.Watch(prefix, fromRevision);

    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default) =>
        _core.CompactAsync(revision, cancellationToken);

    public ValueTask DisposeAsync() => _core.DisposeAsync();
}
