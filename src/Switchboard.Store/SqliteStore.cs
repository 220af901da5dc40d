using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Store.Mvcc;
using Switchboard.Store.Sqlite;

namespace Switchboard.Store;

/// <summary>
/// The default store: the MVCC core over one SQLite file (WAL, synchronous=FULL, exclusive lock). The constructor
/// opens the file and loads every live key; the revision continues from the stored one. History is in memory
/// only, so after opening CompactedRevision equals the loaded revision (older watches get 410, as after an
/// upstream compaction).
/// </summary>
public sealed partial class SqliteStore : IStore
{
    private readonly RevisionedStore _core;

    public SqliteStore(SqliteStoreOptions options, TimeProvider? timeProvider = null, ILogger<SqliteStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var time = timeProvider ?? TimeProvider.System;
        ILogger log = logger ?? NullLogger<SqliteStore>.Instance;

        var start = time.GetTimestamp();
        var persistence = SqlitePersistence.Open(options.Path, out var revision, out var objects);
        try
        {
            _core = new RevisionedStore(options, time, log, persistence, revision, compactedRevision: revision, objects);
        }
        catch
        {
            persistence.Dispose();
            throw;
        }

        Path = System.IO.Path.GetFullPath(options.Path);
        Opened(log, Path, revision, objects.Count, time.GetElapsedTime(start).TotalMilliseconds);
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

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

    /// <summary>Finishes queued writes, closes the file (checkpointing the WAL) and ends open watches.</summary>
    public ValueTask DisposeAsync() => _core.DisposeAsync();

    [LoggerMessage(1, LogLevel.Information, "Opened store {Path} at revision {Revision} with {Keys} keys in {ElapsedMs} ms")]
    private static partial void Opened(ILogger logger, string path, long revision, int keys, double elapsedMs);
}
