namespace Switchboard.Store.Mvcc;

/// <summary>One key's new state in a write batch: the object, or null for a delete.</summary>
internal readonly record struct StoreMutation(string Key, StoreObject? Object);

/// <summary>
/// Durable storage under the MVCC core. Called only from the core's writer thread, one batch at a time; a batch
/// is acknowledged to callers only after <see cref="Commit"/> returns.
/// </summary>
internal interface IStorePersistence : IDisposable
{
    /// <summary>Durably applies the mutations (in order) and records revision as the store's revision, atomically.</summary>
    void Commit(IReadOnlyList<StoreMutation> mutations, long revision);

    /// <summary>Periodic housekeeping (checkpoint, vacuum); called between batches.</summary>
    void Maintain();
}
