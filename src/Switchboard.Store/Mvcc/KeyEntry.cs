namespace Switchboard.Store.Mvcc;

/// <summary>
/// One key's version chain, newest first. Only the writer thread mutates it; readers walk it without locks,
/// which works because a version never changes once published except for <see cref="KeyVersion.Next"/> being cut
/// by compaction (readers that could observe a cut re-check the compacted revision afterwards).
/// </summary>
internal sealed class KeyEntry(string key, KeyVersion head)
{
    private KeyVersion _head = head;

    public string Key { get; } = key;

    public KeyVersion Head
    {
        get => Volatile.Read(ref _head);
        set => Volatile.Write(ref _head, value);
    }

    /// <summary>True while this entry is in the writer's set of keys that carry prunable history.</summary>
    public bool HasHistory { get; set; }

    /// <summary>The object as of revision, or null if the key did not exist (or was deleted) then.</summary>
    public StoreObject? At(long revision)
    {
        var v = Head;
        while (v is not null && v.ModRevision > revision)
        {
            v = v.Next;
        }

        return v?.Object;
    }
}

/// <summary>A version of a key: the live object, or a tombstone (Object null) at the delete's revision.</summary>
internal sealed class KeyVersion(StoreObject? obj, long modRevision, KeyVersion? next)
{
    private KeyVersion? _next = next;

    public StoreObject? Object { get; } = obj;

    public long ModRevision { get; } = modRevision;

    public KeyVersion? Next
    {
        get => Volatile.Read(ref _next);
        set => Volatile.Write(ref _next, value);
    }
}
