namespace Switchboard.Core.Queues;

/// <summary>
/// A rate-limited work queue in client-go's shape: an item is queued at most once, is never processed by two
/// workers at once (an Add while it is being processed re-queues it after Done), and failed items come back
/// after a per-item exponential back-off. Keys are usually namespace/name strings.
/// </summary>
public sealed class WorkQueue<T> : IDisposable
    where T : notnull
{
    private readonly object _gate = new();
    private readonly Queue<T> _queue = new();
    private readonly HashSet<T> _dirty = [];
    private readonly HashSet<T> _processing = [];
    private readonly Dictionary<T, int> _failures = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly TimeProvider _time;
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;
    private readonly List<ITimer> _timers = [];
    private bool _shutDown;

    public WorkQueue(TimeProvider time, TimeSpan? baseDelay = null, TimeSpan? maxDelay = null)
    {
        _time = time;
        _baseDelay = baseDelay ?? TimeSpan.FromMilliseconds(5);
        _maxDelay = maxDelay ?? TimeSpan.FromSeconds(1000);
    }

    /// <summary>Number of items waiting (not counting those being processed).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    public void Add(T item)
    {
        lock (_gate)
        {
            if (_shutDown || !_dirty.Add(item))
            {
                return;
            }
            if (_processing.Contains(item))
            {
                // Done() queues it again, so one worker sees the latest state.
                return;
            }
            _queue.Enqueue(item);
        }
        _signal.Release();
    }

    /// <summary>Adds the item after delay (timers from the injected TimeProvider).</summary>
    public void AddAfter(T item, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(item);
            return;
        }
        lock (_gate)
        {
            if (_shutDown)
            {
                return;
            }
            ITimer? timer = null;
            timer = _time.CreateTimer(_ =>
            {
                lock (_gate)
                {
                    _timers.Remove(timer!);
                }
                timer!.Dispose();
                Add(item);
            }, null, delay, Timeout.InfiniteTimeSpan);
            _timers.Add(timer);
        }
    }

    /// <summary>Re-adds a failed item after its exponential back-off (base × 2^failures, capped).</summary>
    public void AddRateLimited(T item)
    {
        int failures;
        lock (_gate)
        {
            _failures.TryGetValue(item, out failures);
            _failures[item] = failures + 1;
        }
        var delay = TimeSpan.FromTicks((long)Math.Min(_maxDelay.Ticks, _baseDelay.Ticks * Math.Pow(2, Math.Min(failures, 30))));
        AddAfter(item, delay);
    }

    /// <summary>Clears the item's failure count after a success.</summary>
    public void Forget(T item)
    {
        lock (_gate)
        {
            _failures.Remove(item);
        }
    }

    /// <summary>Waits for the next item; returns false once the queue is shut down and drained of waiters.</summary>
    public async Task<(bool Ok, T Item)> TryTakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return (false, default!);
            }
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    if (_shutDown)
                    {
                        return (false, default!);
                    }
                    continue;
                }
                var item = _queue.Dequeue();
                _dirty.Remove(item);
                _processing.Add(item);
                return (true, item);
            }
        }
    }

    /// <summary>Marks the item processed; if it was added meanwhile it is queued again.</summary>
    public void Done(T item)
    {
        var requeue = false;
        lock (_gate)
        {
            _processing.Remove(item);
            if (_dirty.Contains(item) && !_shutDown)
            {
                _queue.Enqueue(item);
                requeue = true;
            }
        }
        if (requeue)
        {
            _signal.Release();
        }
    }

    public void ShutDown()
    {
        lock (_gate)
        {
            if (_shutDown)
            {
                return;
            }
            _shutDown = true;
            foreach (var t in _timers)
            {
                t.Dispose();
            }
            _timers.Clear();
        }
        _signal.Release(int.MaxValue / 2);
    }

    public void Dispose()
    {
        ShutDown();
        _signal.Dispose();
    }
}
