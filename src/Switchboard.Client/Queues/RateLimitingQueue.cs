using Switchboard.Core.Queues;

namespace Switchboard.Client.Queues;

/// <summary>
/// client-go's rate-limiting work queue: <see cref="WorkQueue{T}"/>'s de-duplication and one-worker-per-item
/// guarantee, with retries delayed by a pluggable <see cref="IRateLimiter{T}"/> (per-item back-off and an overall
/// bucket by default) and <see cref="NumRequeues"/> so a controller can give up on an item after N failures.
/// </summary>
public sealed class RateLimitingQueue<T> : IDisposable
    where T : notnull
{
    private readonly WorkQueue<T> _queue;
    private readonly IRateLimiter<T> _limiter;
    private int _shutDown;

    public RateLimitingQueue(TimeProvider time, IRateLimiter<T>? limiter = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _queue = new WorkQueue<T>(time);
        _limiter = limiter ?? RateLimiters.DefaultController<T>(time);
    }

    /// <summary>Items waiting (not counting those being processed).</summary>
    public int Count => _queue.Count;

    /// <summary>Queues the item unless it is already waiting; an item being processed is queued again after Done.</summary>
    public void Add(T item) => _queue.Add(item);

    /// <summary>Queues the item after a delay (batching, or "look again later").</summary>
    public void AddAfter(T item, TimeSpan delay) => _queue.AddAfter(item, delay);

    /// <summary>Queues a failed item after the limiter's delay.</summary>
    public void AddRateLimited(T item) => _queue.AddAfter(item, _limiter.When(item));

    /// <summary>Clears the item's failure history after a success.</summary>
    public void Forget(T item) => _limiter.Forget(item);

    /// <summary>Failures since the item was last forgotten.</summary>
    public int NumRequeues(T item) => _limiter.NumRequeues(item);

    /// <summary>Waits for the next item; false once shut down.</summary>
    public Task<(bool Ok, T Item)> TryTakeAsync(CancellationToken cancellationToken) => _queue.TryTakeAsync(cancellationToken);

    /// <summary>Marks the item processed.</summary>
    public void Done(T item) => _queue.Done(item);

    public void ShutDown()
    {
        if (Interlocked.Exchange(ref _shutDown, 1) == 0)
        {
            _queue.ShutDown();
        }
    }

    public void Dispose()
    {
        // WorkQueue.ShutDown is not idempotent (each call releases its semaphore by int.MaxValue / 2, so a second
        // call with items pending throws SemaphoreFullException); shut it down once. Its SemaphoreSlim owns no OS
        // handle, so skipping its Dispose after a ShutDown leaks nothing.
        if (Interlocked.Exchange(ref _shutDown, 1) == 0)
        {
            _queue.Dispose();
        }
    }
}
