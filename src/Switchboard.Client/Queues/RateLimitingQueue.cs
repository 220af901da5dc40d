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

    /// <summary>
    /// client-go's <c>processNextWorkItem</c> loop on <paramref name="workers"/> tasks until the queue shuts down:
    /// a key that syncs is forgotten; one that throws (anything but this run's own cancellation) is requeued with
    /// back-off when <paramref name="retry"/> says so, otherwise forgotten. The queue is shut down when the run ends.
    /// </summary>
    public async Task RunWorkersAsync(int workers, Func<T, CancellationToken, Task> sync, Func<T, Exception, bool> retry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sync);
        ArgumentNullException.ThrowIfNull(retry);
        try
        {
            var tasks = new Task[Math.Max(1, workers)];
            for (var i = 0; i < tasks.Length; i++)
            {
                tasks[i] = Task.Run(() => WorkAsync(sync, retry, cancellationToken), cancellationToken);
            }
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            ShutDown();
        }
    }

    private async Task WorkAsync(Func<T, CancellationToken, Task> sync, Func<T, Exception, bool> retry, CancellationToken ct)
    {
        while (true)
        {
            var (ok, item) = await TryTakeAsync(ct).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }
            try
            {
                await sync(item, ct).ConfigureAwait(false);
                Forget(item);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                if (retry(item, e))
                {
                    AddRateLimited(item);
                }
                else
                {
                    Forget(item);
                }
            }
            finally
            {
                Done(item);
            }
        }
    }

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
