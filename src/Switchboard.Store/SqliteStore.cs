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
public sealed partial class SqliteStore : MvccStore
{
    public SqliteStore(SqliteStoreOptions options, TimeProvider? timeProvider = null, ILogger<SqliteStore>? logger = null)
        : base(Open(options, timeProvider ?? TimeProvider.System, logger ?? NullLogger<SqliteStore>.Instance))
    {
        Path = System.IO.Path.GetFullPath(options.Path);
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    private static RevisionedStore Open(SqliteStoreOptions options, TimeProvider time, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var start = time.GetTimestamp();
        var persistence = SqlitePersistence.Open(options.Path, out var revision, out var objects);
        try
        {
            var core = new RevisionedStore(options, time, log, persistence, revision, compactedRevision: revision, objects);
            Opened(log, System.IO.Path.GetFullPath(options.Path), revision, objects.Count, time.GetElapsedTime(start).TotalMilliseconds);
            return core;
        }
        catch
        {
            persistence.Dispose();
            throw;
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Opened store {Path} at revision {Revision} with {Keys} keys in {ElapsedMs} ms")]
    private static partial void Opened(ILogger logger, string path, long revision, int keys, double elapsedMs);
}
