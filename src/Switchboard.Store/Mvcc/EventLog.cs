namespace Switchboard.Store.Mvcc;

/// <summary>
/// The history of events, one per revision (revisions are dense: every successful write takes the next one).
/// Stored in fixed segments so appending never copies events, and compaction drops whole segments. A view is
/// immutable apart from slots above the published revision, so readers scan it without locks; a view taken
/// before a compaction stays valid because slots are never cleared.
/// </summary>
internal sealed class EventLog
{
    private const int SegmentBits = 12;
    private const int SegmentSize = 1 << SegmentBits;

    private EventLog(long firstRevision, StoreEvent[][] segments)
    {
        FirstRevision = firstRevision;
        Segments = segments;
    }

    /// <summary>Revision held by slot 0 of the first segment.</summary>
    public long FirstRevision { get; }

    private StoreEvent[][] Segments { get; }

    /// <summary>An empty log whose first event will have revision <paramref name="firstRevision"/>.</summary>
    public static EventLog Empty(long firstRevision) => new(firstRevision, []);

    /// <summary>Whether revision is still held (it may be below the compacted revision but not yet dropped).</summary>
    public bool Holds(long revision) => revision >= FirstRevision;

    /// <summary>The event at revision; the caller ensures FirstRevision &lt;= revision &lt;= published revision.</summary>
    public StoreEvent Get(long revision)
    {
        var index = revision - FirstRevision;
        return Segments[(int)(index >> SegmentBits)][(int)(index & (SegmentSize - 1))];
    }

    /// <summary>Writer only. Stores the event at its revision; returns this log or a new view with one more segment.</summary>
    public EventLog Append(StoreEvent evt)
    {
        var index = evt.Revision - FirstRevision;
        var segment = (int)(index >> SegmentBits);
        var log = this;
        if (segment == Segments.Length)
        {
            var segments = new StoreEvent[Segments.Length + 1][];
            Segments.CopyTo(segments, 0);
            segments[^1] = new StoreEvent[SegmentSize];
            log = new EventLog(FirstRevision, segments);
        }

        log.Segments[segment][(int)(index & (SegmentSize - 1))] = evt;
        return log;
    }

    /// <summary>Writer only. Returns a view without the segments that hold only revisions at or below revision.</summary>
    public EventLog DropThrough(long revision)
    {
        var drop = (int)Math.Min(Segments.Length, Math.Max(0, (revision - FirstRevision + 1) >> SegmentBits));
        return drop == 0 ? this : new EventLog(FirstRevision + ((long)drop << SegmentBits), Segments[drop..]);
    }
}
