namespace Switchboard.Core.Loops;

/// <summary>
/// A background pass that runs every interval and soon after <see cref="Trigger"/> (a repair or resync loop):
/// triggers that arrive during a pass ask for the next one, <paramref name="settle"/> lets a burst of triggers fold
/// into one pass, and a pass may ask to look again after <paramref name="soon"/> instead of the whole interval.
/// A failed pass goes to <paramref name="failed"/> and the loop goes on; disposal cancels and awaits it.
/// </summary>
public sealed class TriggeredLoop(
    TimeProvider time,
    TimeSpan interval,
    Func<CancellationToken, Task<bool>> pass,
    Action<Exception> failed,
    TimeSpan settle = default,
    TimeSpan soon = default) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _trigger = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;

    /// <summary>Starts the loop (once).</summary>
    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Asks for a pass soon.</summary>
    public void Trigger() => _trigger.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var again = false;
        while (!ct.IsCancellationRequested)
        {
            var trigger = _trigger.Task;
            var timer = Task.Delay(again ? soon : interval, time, ct);
            await Task.WhenAny(trigger, timer).ConfigureAwait(false);
            if (ct.IsCancellationRequested)
            {
                return;
            }
            try
            {
                if (trigger.IsCompleted)
                {
                    _trigger = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (settle > TimeSpan.Zero)
                    {
                        await Task.Delay(settle, time, ct).ConfigureAwait(false);
                    }
                }
                again = await pass(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failed(e);
                again = false;
            }
        }
    }
}
