using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Switchboard.Store.Mvcc;

namespace Switchboard.Store.Sqlite;

/// <summary>
/// Live keys in one SQLite file: table kv(key, value, create_rev, mod_rev) and meta('revision'). One connection,
/// used only by the core's writer thread, so SQLite never reports "database is locked" to us. History is not
/// stored (it lives in memory), so the file holds only live keys and stays bounded.
/// </summary>
internal sealed class SqlitePersistence : IStorePersistence
{
    private const int SchemaVersion = 1;

    // SQLITE_BUSY and SQLITE_LOCKED: another connection (process) holds the file.
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _setRevision;

    private SqlitePersistence(SqliteConnection connection)
    {
        _connection = connection;
        _upsert = Command(
            "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES($key, $value, $create, $mod) " +
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, create_rev = excluded.create_rev, mod_rev = excluded.mod_rev",
            ("$key", SqliteType.Text), ("$value", SqliteType.Blob), ("$create", SqliteType.Integer), ("$mod", SqliteType.Integer));
        _delete = Command("DELETE FROM kv WHERE key = $key", ("$key", SqliteType.Text));
        _setRevision = Command("UPDATE meta SET value = $rev WHERE name = 'revision'", ("$rev", SqliteType.Integer));
    }

    /// <summary>Opens (creating if needed) the file and loads its live keys and revision.</summary>
    public static SqlitePersistence Open(string path, out long revision, out List<StoreObject> objects)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // A closed store must release the file at once (tests reopen it; another process may take over).
            Pooling = false,
            // Only another process can make us wait; fail fast instead of the 30 s default.
            DefaultTimeout = 2,
        }.ToString());

        try
        {
            connection.Open();

            // EXCLUSIVE before WAL: no shared-memory index, and a second store on the same file fails at open
            // instead of two processes each believing they own the revision counter.
            Execute(connection, "PRAGMA locking_mode = EXCLUSIVE");
            // Only effective on a new file (before tables exist); lets Maintain return freed pages to the OS.
            Execute(connection, "PRAGMA auto_vacuum = INCREMENTAL");
            var mode = Scalar(connection, "PRAGMA journal_mode = WAL");
            if (!string.Equals(mode as string, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"store file {fullPath} could not be switched to WAL mode (got {mode})");
            }

            // FULL: the WAL is fsynced at every commit, so an acknowledged write survives power loss.
            Execute(connection, "PRAGMA synchronous = FULL");
            // After a checkpoint the WAL file is truncated back to this size.
            Execute(connection, "PRAGMA journal_size_limit = 16777216");

            using (var tx = connection.BeginTransaction())
            {
                Execute(connection, """
                    CREATE TABLE IF NOT EXISTS kv (
                        key TEXT PRIMARY KEY NOT NULL,
                        value BLOB NOT NULL,
                        create_rev INTEGER NOT NULL,
                        mod_rev INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                    INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 1);
                    INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', 1);
                    """, tx);
                tx.Commit();
            }

            var schema = Convert.ToInt64(Scalar(connection, "SELECT value FROM meta WHERE name = 'schema'"), System.Globalization.CultureInfo.InvariantCulture);
            if (schema != SchemaVersion)
            {
                throw new InvalidOperationException($"store file {fullPath} has schema version {schema}; this build reads {SchemaVersion}");
            }

            revision = Convert.ToInt64(Scalar(connection, "SELECT value FROM meta WHERE name = 'revision'"), System.Globalization.CultureInfo.InvariantCulture);
            objects = Load(connection, ref revision);
            return new SqlitePersistence(connection);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteBusy or SqliteLocked)
        {
            connection.Dispose();
            throw new InvalidOperationException($"store file {fullPath} is in use by another store or process", ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public void Commit(IReadOnlyList<StoreMutation> mutations, long revision)
    {
        using var tx = _connection.BeginTransaction();
        _upsert.Transaction = tx;
        _delete.Transaction = tx;
        _setRevision.Transaction = tx;
        foreach (var mutation in mutations)
        {
            if (mutation.Object is { } obj)
            {
                _upsert.Parameters[0].Value = obj.Key;
                _upsert.Parameters[1].Value = AsArray(obj.Value);
                _upsert.Parameters[2].Value = obj.CreateRevision;
                _upsert.Parameters[3].Value = obj.ModRevision;
                _upsert.ExecuteNonQuery();
            }
            else
            {
                _delete.Parameters[0].Value = mutation.Key;
                _delete.ExecuteNonQuery();
            }
        }

        // Same transaction as the keys, so the counter survives even when the newest writes were deletes.
        _setRevision.Parameters[0].Value = revision;
        _setRevision.ExecuteNonQuery();
        tx.Commit();
    }

    public void Maintain()
    {
        // One connection and no readers, so a TRUNCATE checkpoint always completes and resets the WAL file.
        Execute(_connection, "PRAGMA wal_checkpoint(TRUNCATE)");
        Execute(_connection, "PRAGMA incremental_vacuum");
    }

    public void Dispose()
    {
        _upsert.Dispose();
        _delete.Dispose();
        _setRevision.Dispose();
        // Closing the last connection checkpoints the WAL into the main file and removes it.
        _connection.Dispose();
    }

    private static List<StoreObject> Load(SqliteConnection connection, ref long revision)
    {
        var objects = new List<StoreObject>();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, value, create_rev, mod_rev FROM kv";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var value = reader.IsDBNull(1) ? [] : reader.GetFieldValue<byte[]>(1);
            var obj = new StoreObject(reader.GetString(0), value, reader.GetInt64(2), reader.GetInt64(3));
            // The counter is written with every batch, so this only guards against a hand-edited file.
            revision = Math.Max(revision, obj.ModRevision);
            objects.Add(obj);
        }

        return objects;
    }

    private static byte[] AsArray(ReadOnlyMemory<byte> value) =>
        MemoryMarshal.TryGetArray(value, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : value.ToArray();

    private SqliteCommand Command(string sql, params (string Name, SqliteType Type)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, type) in parameters)
        {
            command.Parameters.Add(name, type);
        }

        command.Prepare();
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
