using System.Threading.Channels;

namespace Switchboard.Store.Mvcc;

internal sealed partial class RevisionedStore
{
    // Guards the watcher registry, and makes publishing a batch atomic with watch registration (no gap, no duplicate).
    private readonly Lock _publishLock = new();

    // Watchers grouped by prefix, so one write costs one prefix test per distinct prefix, not per watcher.
    private readonly Dictionary<string, List<Watcher>> _watchers = new(StringComparer.Ordinal);
    private readonly List<Watcher> _overflowed = [];

    public IStoreWatch Watch(string prefix, long fromRevision)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(fromRevision);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // Replay the bulk of the history without the lock, then only the tail under it.
        List<StoreEvent>? replay = null;
        var scanned = fromRevision;
        if (fromRevision > 0)
        {
            ThrowIfCompacted(fromRevision);
            var upTo = Revision;
            if (upTo > fromRevision)
            {
                replay = [];
                Scan(Volatile.Read(ref _log), prefix, fromRevision, upTo, fromRevision, replay);
                scanned = upTo;
            }
        }

        lock (_publishLock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var after = fromRevision;
            if (fromRevision == 0)
            {
                after = _revision;
            }
            else
            {
                if (scanned < _compacted)
                {
                    throw new StoreExpiredException(fromRevision, _compacted);
                }

                if (_revision > scanned)
                {
                    replay ??= [];
                    Scan(_log, prefix, scanned, _revision, fromRevision, replay);
                }
            }

            // Replayed events are allowed on top of the live capacity; the bounded channel does not preallocate.
            var watcher = new Watcher(this, prefix, after, (replay?.Count ?? 0) + _watchCapacity);
            if (replay is not null)
            {
                foreach (var evt in replay)
                {
                    watcher.TryWrite(evt);
                }
            }

            if (!_watchers.TryGetValue(prefix, out var group))
            {
                group = [];
                _watchers.Add(prefix, group);
            }

            group.Add(watcher);
            return watcher;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _writerExited.Task.ConfigureAwait(false);
            return;
        }

        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        await StopWriterAsync().ConfigureAwait(false);
        _persistence?.Dispose();

        List<Watcher> open = [];
        lock (_publishLock)
        {
            foreach (var group in _watchers.Values)
            {
                foreach (var watcher in group)
                {
                    watcher.Closed = true;
                    open.Add(watcher);
                }
            }

            _watchers.Clear();
        }

        foreach (var watcher in open)
        {
            watcher.Complete(null);
        }
    }

    private void Scan(EventLog log, string prefix, long fromExclusive, long toInclusive, long requested, List<StoreEvent> into)
    {
        for (var revision = fromExclusive + 1; revision <= toInclusive; revision++)
        {
            if (!log.Holds(revision))
            {
                throw new StoreExpiredException(requested, CompactedRevision);
            }

            var evt = log.Get(revision);
            if (evt.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                into.Add(evt);
            }
        }
    }

    /// <summary>Writer, under the publish lock: hands the batch's events to every matching watcher.</summary>
    private void FanOut()
    {
        if (_watchers.Count == 0)
        {
            return;
        }

        foreach (var op in _writes)
        {
            if (op.Event is not { } evt)
            {
                continue;
            }

            foreach (var (prefix, group) in _watchers)
            {
                if (!evt.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (var watcher in group)
                {
                    if (!watcher.Closed && evt.Revision > watcher.After && !watcher.TryWrite(evt))
                    {
                        watcher.Closed = true;
                        _overflowed.Add(watcher);
                    }
                }
            }
        }

        if (_overflowed.Count == 0)
        {
            return;
        }

        foreach (var watcher in _overflowed)
        {
            RemoveLocked(watcher);
            Log.WatcherOverflowed(_logger, watcher.Prefix, _revision);
            watcher.Complete(new StoreWatcherOverflowException());
        }

        _overflowed.Clear();
    }

    private void Unregister(Watcher watcher)
    {
        lock (_publishLock)
        {
            if (watcher.Closed)
            {
                return;
            }

            watcher.Closed = true;
            RemoveLocked(watcher);
        }

        watcher.Complete(null);
    }

    private void RemoveLocked(Watcher watcher)
    {
        if (_watchers.TryGetValue(watcher.Prefix, out var group) && group.Remove(watcher) && group.Count == 0)
        {
            _watchers.Remove(watcher.Prefix);
        }
    }

    /// <summary>One open watch: a bounded channel fed by the writer. Events are shared, never copied per watcher.</summary>
    private sealed class Watcher : IStoreWatch
    {
        private readonly RevisionedStore _owner;
        private readonly Channel<StoreEvent> _channel;

        public Watcher(RevisionedStore owner, string prefix, long after, int capacity)
        {
            _owner = owner;
            Prefix = prefix;
            After = after;
            _channel = Channel.CreateBounded<StoreEvent>(new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleWriter = true,
                // Continuations must not run on the writer thread.
                AllowSynchronousContinuations = false,
            });
        }

        public string Prefix { get; }

        /// <summary>Only events above this revision are delivered (matters when watching from a future revision).</summary>
        public long After { get; }

        /// <summary>Set under the publish lock once the watcher is removed.</summary>
        public bool Closed { get; set; }

        public ChannelReader<StoreEvent> Events => _channel.Reader;

        public bool TryWrite(StoreEvent evt) => _channel.Writer.TryWrite(evt);

        public void Complete(Exception? error) => _channel.Writer.TryComplete(error);

        public void Dispose() => _owner.Unregister(this);
    }
}
