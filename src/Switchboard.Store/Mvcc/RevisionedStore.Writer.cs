namespace Switchboard.Store.Mvcc;

internal sealed partial class RevisionedStore
{
    private readonly object _queueLock = new();
    private readonly Queue<QueuedOp> _queue = new();
    private readonly Thread _writer;
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer? _timer;
    private bool _closing;

    // Writer-thread state: touched only by the writer thread (and the constructor before it starts).
    private readonly Dictionary<string, StoreObject?> _pending = new(StringComparer.Ordinal);
    private readonly List<StoreMutation> _mutations = [];
    private readonly List<WriteOp> _writes = [];
    private readonly HashSet<KeyEntry> _historyKeys = [];
    private readonly Queue<(DateTimeOffset Time, long Revision)> _checkpoints = new();
    private IndexNode? _root;
    private long _liveChangedAt;
    private long _maintainedRevision;

    private enum WriteKind
    {
        Create,
        Update,
        Delete,
    }

    public ValueTask<StoreWriteResult> CreateAsync(string key, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        Submit(WriteKind.Create, key, 0, encode, cancellationToken);

    public ValueTask<StoreWriteResult> UpdateAsync(string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken = default) =>
        Submit(WriteKind.Update, key, expectedModRevision, encode, cancellationToken);

    public ValueTask<StoreWriteResult> DeleteAsync(string key, long expectedModRevision, ValueEncoder encodeTombstone, CancellationToken cancellationToken = default) =>
        Submit(WriteKind.Delete, key, expectedModRevision, encodeTombstone, cancellationToken);

    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(revision);
        // The revision only grows, so a target valid now is still valid when the writer gets to it.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(revision, Revision);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var op = new CompactOp(revision);
        Enqueue(op);
        return new ValueTask(op.Completion.Task);
    }

    private ValueTask<StoreWriteResult> Submit(WriteKind kind, string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(encode);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedModRevision);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<StoreWriteResult>(cancellationToken);
        }

        var op = new WriteOp(kind, key, expectedModRevision, encode, cancellationToken);
        Enqueue(op);
        return new ValueTask<StoreWriteResult>(op.Completion.Task);
    }

    private void Enqueue(QueuedOp op)
    {
        lock (_queueLock)
        {
            ObjectDisposedException.ThrowIf(_closing, this);
            _queue.Enqueue(op);
            if (_queue.Count == 1)
            {
                Monitor.Pulse(_queueLock);
            }
        }
    }

    private void OnTick()
    {
        lock (_queueLock)
        {
            if (!_closing)
            {
                _queue.Enqueue(new TickOp(_time.GetUtcNow()));
                Monitor.Pulse(_queueLock);
            }
        }
    }

    /// <summary>Asks the writer to finish what is queued and stop; completes when it has.</summary>
    private Task StopWriterAsync()
    {
        lock (_queueLock)
        {
            _closing = true;
            Monitor.PulseAll(_queueLock);
        }

        return _writerExited.Task;
    }

    private void WriterLoop()
    {
        var batch = new List<QueuedOp>(_maxBatchSize);
        while (TakeBatch(batch))
        {
            var i = 0;
            while (i < batch.Count)
            {
                if (batch[i] is WriteOp)
                {
                    // Consecutive writes form one group commit.
                    while (i < batch.Count && batch[i] is WriteOp w)
                    {
                        _writes.Add(w);
                        i++;
                    }

                    ProcessWrites();
                    _writes.Clear();
                }
                else
                {
                    RunControl(batch[i++]);
                }
            }

            batch.Clear();
        }

        _writerExited.TrySetResult();
    }

    private bool TakeBatch(List<QueuedOp> batch)
    {
        lock (_queueLock)
        {
            while (_queue.Count == 0)
            {
                if (_closing)
                {
                    return false;
                }

                Monitor.Wait(_queueLock);
            }

            while (_queue.Count > 0 && batch.Count < _maxBatchSize)
            {
                batch.Add(_queue.Dequeue());
            }

            return true;
        }
    }

    private void ProcessWrites()
    {
        var revision = _revision;
        _pending.Clear();
        _mutations.Clear();
        try
        {
            foreach (var op in _writes)
            {
                Decide(op, ref revision);
            }

            if (_mutations.Count > 0)
            {
                _persistence?.Commit(_mutations, revision);
                Apply(revision);
            }
        }
#pragma warning disable CA1031 // Any failure (disk full, I/O error) fails this batch's callers; the store goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CommitFailed(_logger, ex, _writes.Count);
            foreach (var op in _writes)
            {
                op.Completion.TrySetException(ex);
            }

            return;
        }

        foreach (var op in _writes)
        {
            if (op.Canceled)
            {
                op.Completion.TrySetCanceled(op.CancellationToken);
            }
            else if (op.Error is not null)
            {
                op.Completion.TrySetException(op.Error);
            }
            else
            {
                op.Completion.TrySetResult(op.Result);
            }
        }

        if (_revision - _compacted > _maxHistoryEvents)
        {
            EnforceHistoryCap();
        }
    }

    /// <summary>Checks the precondition against the live state (plus earlier writes of this batch) and encodes the value.</summary>
    private void Decide(WriteOp op, ref long revision)
    {
        // Cancellation counts only until the write is decided; after that it is committed like any other.
        if (op.CancellationToken.IsCancellationRequested)
        {
            op.Canceled = true;
            return;
        }

        var current = _pending.TryGetValue(op.Key, out var pending) ? pending : KeyIndex.Find(_root, op.Key)?.Entry.Head.Object;
        if (op.Kind == WriteKind.Create)
        {
            if (current is not null)
            {
                op.Result = new StoreWriteResult(StoreWriteStatus.AlreadyExists, revision, current);
                return;
            }
        }
        else if (current is null)
        {
            op.Result = new StoreWriteResult(StoreWriteStatus.NotFound, revision, null);
            return;
        }
        else if (op.ExpectedModRevision != 0 && current.ModRevision != op.ExpectedModRevision)
        {
            op.Result = new StoreWriteResult(StoreWriteStatus.Conflict, revision, current);
            return;
        }

        var next = revision + 1;
        ReadOnlyMemory<byte> value;
        try
        {
            value = op.Encode(next);
        }
#pragma warning disable CA1031 // The encoder's failure belongs to its caller; it must not fail the batch.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            op.Error = ex;
            return;
        }

        revision = next;
        StoreObject result;
        StoreObject? live;
        switch (op.Kind)
        {
            case WriteKind.Create:
                result = live = new StoreObject(op.Key, value, next, next);
                op.Event = new StoreEvent(StoreEventType.Added, op.Key, next, value, ReadOnlyMemory<byte>.Empty);
                break;
            case WriteKind.Update:
                result = live = new StoreObject(op.Key, value, current!.CreateRevision, next);
                op.Event = new StoreEvent(StoreEventType.Modified, op.Key, next, value, current.Value);
                break;
            default:
                // As upstream, a delete answers with the last state stamped with the delete's revision.
                result = new StoreObject(op.Key, value, current!.CreateRevision, next);
                live = null;
                op.Event = new StoreEvent(StoreEventType.Deleted, op.Key, next, value, current.Value);
                break;
        }

        op.Result = new StoreWriteResult(StoreWriteStatus.Ok, next, result);
        _pending[op.Key] = live;
        _mutations.Add(new StoreMutation(op.Key, live));
    }

    /// <summary>Applies a committed batch to the index and the log, publishes the revision, and fans events out.</summary>
    private void Apply(long revision)
    {
        lock (_publishLock)
        {
            var root = _root;
            var log = _log;
            foreach (var op in _writes)
            {
                if (op.Event is not { } evt)
                {
                    continue;
                }

                var live = evt.Type == StoreEventType.Deleted ? null : op.Result.Current;
                var node = KeyIndex.Find(root, evt.Key);
                if (node is null)
                {
                    root = KeyIndex.Set(root, evt.Key, new KeyEntry(evt.Key, new KeyVersion(live, evt.Revision, null)), live is not null);
                    _liveChangedAt = evt.Revision;
                }
                else
                {
                    var entry = node.Entry;
                    var previous = entry.Head;
                    entry.Head = new KeyVersion(live, evt.Revision, previous);
                    if (previous.Object is null != live is null)
                    {
                        root = KeyIndex.Set(root, evt.Key, entry, live is not null);
                        _liveChangedAt = evt.Revision;
                    }

                    if (!entry.HasHistory)
                    {
                        entry.HasHistory = true;
                        _historyKeys.Add(entry);
                    }
                }

                log = log.Append(evt);
            }

            if (!ReferenceEquals(root, _root))
            {
                _root = root;
                Volatile.Write(ref _snapshot, new IndexSnapshot(root, _liveChangedAt));
            }

            Volatile.Write(ref _log, log);
            Volatile.Write(ref _revision, revision);
            FanOut();
        }
    }

    private void RunControl(QueuedOp op)
    {
        try
        {
            switch (op)
            {
                case CompactOp compact:
                    Compact(compact.Revision, "requested");
                    compact.Completion.TrySetResult();
                    break;
                case TickOp tick:
                    Tick(tick.Now);
                    break;
            }
        }
#pragma warning disable CA1031 // Housekeeping failures are logged and retried next tick; they must not stop the writer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MaintenanceFailed(_logger, ex);
            (op as CompactOp)?.Completion.TrySetException(ex);
        }
    }

    private void Tick(DateTimeOffset now)
    {
        if (_retention != Timeout.InfiniteTimeSpan)
        {
            _checkpoints.Enqueue((now, _revision));
            var safe = RetainedFloor(now);
            if (safe > _compacted)
            {
                Compact(safe, "retention");
            }
        }

        if (_persistence is not null && _maintainedRevision != _revision)
        {
            var start = _time.GetTimestamp();
            _persistence.Maintain();
            _maintainedRevision = _revision;
            Log.Maintained(_logger, _revision, _time.GetElapsedTime(start).TotalMilliseconds);
        }
    }

    /// <summary>
    /// The newest revision whose events are all older than the retention: a checkpoint (t, r) says every event
    /// at or below r was committed by t. Checkpoints older than the one returned are no longer needed.
    /// </summary>
    private long RetainedFloor(DateTimeOffset now)
    {
        var floor = _compacted;
        if (_retention == Timeout.InfiniteTimeSpan)
        {
            return floor;
        }

        var cutoff = now - _retention;
        while (_checkpoints.TryPeek(out var checkpoint) && checkpoint.Time <= cutoff)
        {
            floor = Math.Max(floor, checkpoint.Revision);
            _checkpoints.Dequeue();
        }

        return floor;
    }

    private void EnforceHistoryCap()
    {
        // Compact to 90 % of the cap so the O(history) compaction does not run after every batch.
        var target = _revision - (_maxHistoryEvents - (_maxHistoryEvents / 10));
        var safe = RetainedFloor(_time.GetUtcNow());
        if (target > safe)
        {
            Log.HistoryCapReached(_logger, _maxHistoryEvents, target, _retention);
        }

        Compact(Math.Max(target, safe), "cap");
    }

    /// <summary>Drops history at or below revision: events, superseded versions, and keys deleted by then.</summary>
    private void Compact(long revision, string reason)
    {
        if (revision <= _compacted)
        {
            return;
        }

        var start = _time.GetTimestamp();
        var events = revision - _compacted;
        lock (_publishLock)
        {
            // Published first: readers that might see cut chains below re-check it and report expiry.
            Volatile.Write(ref _compacted, revision);
            Volatile.Write(ref _log, _log.DropThrough(revision));
        }

        var root = _root;
        var removedKeys = 0;
        var settled = new List<KeyEntry>();
        foreach (var entry in _historyKeys)
        {
            KeyVersion? newer = null;
            var v = entry.Head;
            while (v is not null && v.ModRevision > revision)
            {
                newer = v;
                v = v.Next;
            }

            if (v is null)
            {
                continue;
            }

            if (v.Object is null)
            {
                if (newer is null)
                {
                    // Deleted at or before revision: gone at every revision still readable.
                    root = KeyIndex.Remove(root, entry.Key);
                    removedKeys++;
                    settled.Add(entry);
                    continue;
                }

                newer.Next = null;
            }
            else
            {
                v.Next = null;
            }

            var head = entry.Head;
            if (head.Next is null && head.Object is not null)
            {
                settled.Add(entry);
            }
        }

        foreach (var entry in settled)
        {
            entry.HasHistory = false;
            _historyKeys.Remove(entry);
        }

        if (!ReferenceEquals(root, _root))
        {
            _root = root;
            Volatile.Write(ref _snapshot, new IndexSnapshot(root, _liveChangedAt));
        }

        Log.Compacted(_logger, revision, reason, events, removedKeys, _time.GetElapsedTime(start).TotalMilliseconds);
    }

    private abstract class QueuedOp;

    private sealed class WriteOp(WriteKind kind, string key, long expectedModRevision, ValueEncoder encode, CancellationToken cancellationToken) : QueuedOp
    {
        public WriteKind Kind { get; } = kind;
        public string Key { get; } = key;
        public long ExpectedModRevision { get; } = expectedModRevision;
        public ValueEncoder Encode { get; } = encode;
        public CancellationToken CancellationToken { get; } = cancellationToken;
        public TaskCompletionSource<StoreWriteResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public StoreWriteResult Result { get; set; }
        public StoreEvent? Event { get; set; }
        public Exception? Error { get; set; }
        public bool Canceled { get; set; }
    }

    private sealed class CompactOp(long revision) : QueuedOp
    {
        public long Revision { get; } = revision;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class TickOp(DateTimeOffset now) : QueuedOp
    {
        public DateTimeOffset Now { get; } = now;
    }
}
