using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;
using Switchboard.Store;

namespace Switchboard.ApiServer.Watch;

/// <summary>Options of the watch endpoint.</summary>
public sealed class WatchOptions
{
    /// <summary>How often a watch that asked for bookmarks gets one (upstream: about once a minute).</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Watches without timeoutSeconds end after a random time in [min, 2×min] (upstream --min-request-timeout 1800 s).</summary>
    public TimeSpan MinRequestTimeout { get; set; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// Serves `?watch=true`: newline-delimited {"type","object"} events from the store's in-memory history, as
/// upstream: initial ADDED events for resourceVersion unset or "0", 410 Expired as an in-stream ERROR event,
/// bookmarks only when asked, sendInitialEvents with the initial-events-end bookmark, timeoutSeconds.
/// Each event's object bytes are the stored bytes, written straight to the response without re-encoding.
/// </summary>
internal sealed class WatchStreamer(WatchOptions options, TimeProvider time, CancellationToken stopping) : IDisposable
{
    private readonly object _gate = new();
    private CancellationTokenSource _closeAll = new();
    private TaskCompletionSource _open = CompletedGate();

    private static TaskCompletionSource CompletedGate()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }

    /// <summary>
    /// Ends every open watch (clients re-watch from their last resourceVersion) and, when hold is true, makes new
    /// watches wait until <see cref="Resume"/>. Used to drain watches and by tests that need a client to re-watch
    /// from a revision compacted meanwhile.
    /// </summary>
    public void CloseAll(bool hold)
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            old = _closeAll;
            _closeAll = new CancellationTokenSource();
            if (hold && _open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        old.Cancel();
        old.Dispose();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _closeAll.Dispose();
        }
    }

    /// <summary>Lets held watches start.</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _open.TrySetResult();
        }
    }

    /// <summary>Number of watch requests waiting for <see cref="Resume"/>.</summary>
    public int Held => Volatile.Read(ref _held);

    private int _held;
    private int _active;

    /// <summary>Number of watches currently streaming (registered with the store).</summary>
    public int Active => Volatile.Read(ref _active);

    private (Task Open, CancellationToken CloseAll) Current()
    {
        lock (_gate)
        {
            return (_open.Task, _closeAll.Token);
        }
    }

    private static ReadOnlySpan<byte> AddedPrefix => "{\"type\":\"ADDED\",\"object\":"u8;
    private static ReadOnlySpan<byte> ModifiedPrefix => "{\"type\":\"MODIFIED\",\"object\":"u8;
    private static ReadOnlySpan<byte> DeletedPrefix => "{\"type\":\"DELETED\",\"object\":"u8;
    private static ReadOnlySpan<byte> Suffix => "}\n"u8;

    public async Task ServeAsync(HttpContext ctx, ResourceStorage storage, string? ns, RequestQuery q)
    {
        var info = storage.Info;
        var filter = ObjectFilter.Create(info, q.LabelSelector, q.FieldSelector);
        var table = MediaTypes.Negotiate(ctx.Request.Headers.Accept.ToString(), tableAllowed: true) == ResponseFormat.Table;
        var rvText = q.ResourceVersion;
        var sendInitial = q.SendInitialEvents;
        if (sendInitial is not null && q.ResourceVersionMatch != "NotOlderThan")
        {
            throw new ApiException(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to \"NotOlderThan\"")
            {
                DetailKind = "ListOptions",
                DetailGroup = "meta.k8s.io",
                Causes = [("FieldValueForbidden", "Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to \"NotOlderThan\"", "sendInitialEvents")],
            };
        }
        var initial = sendInitial ?? (rvText is null or "0");
        long fromRevision = 0;
        if (rvText is not null and not "0")
        {
            if (!long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out fromRevision))
            {
                throw ApiException.BadRequest($"resourceVersion: Invalid value: \"{rvText}\": must be a non-negative integer");
            }
        }

        var timeout = q.TimeoutSeconds is int t and > 0
            ? TimeSpan.FromSeconds(t)
            : options.MinRequestTimeout * (1 + RandomNumberGenerator.GetInt32(1000) / 1000.0);
        var (open, closeAll) = Current();
        if (!open.IsCompleted)
        {
            Interlocked.Increment(ref _held);
            try
            {
                await open.WaitAsync(ctx.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _held);
            }
            (_, closeAll) = Current();
        }
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, stopping, closeAll);
        lifetime.CancelAfter(timeout);
        var ct = lifetime.Token;

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-cache, private";
        var pipe = ctx.Response.BodyWriter;
        var writer = new EventWriter(pipe, info, table, time);

        IStoreWatch? watch = null;
        Interlocked.Increment(ref _active);
        try
        {
            var prefix = info.ListPrefix(ns);
            if (initial)
            {
                // Initial state: list at the latest revision, then watch from exactly that revision (no gap).
                var list = await storage.Store.ListAsync(prefix, 0, null, 0, ct).ConfigureAwait(false);
                fromRevision = list.Revision;
                watch = storage.Store.Watch(prefix, fromRevision);
                foreach (var item in list.Items)
                {
                    if (filter.Matches(item.Value))
                    {
                        writer.Write(AddedPrefix, item.Value);
                    }
                }
                if (sendInitial == true && q.AllowWatchBookmarks)
                {
                    writer.WriteBookmark(fromRevision, initialEventsEnd: true);
                }
            }
            else
            {
                try
                {
                    watch = storage.Store.Watch(prefix, fromRevision);
                }
                catch (StoreExpiredException e)
                {
                    writer.WriteError(410, "Expired", $"too old resource version: {e.Requested} ({e.Compacted})");
                    await pipe.FlushAsync(ct).ConfigureAwait(false);
                    return;
                }
            }
            await pipe.FlushAsync(ct).ConfigureAwait(false);

            var lastRevision = fromRevision;
            var nextBookmark = time.GetUtcNow() + options.BookmarkInterval;
            var reader = watch.Events;
            while (!ct.IsCancellationRequested)
            {
                if (q.AllowWatchBookmarks)
                {
                    var delay = nextBookmark - time.GetUtcNow();
                    if (delay <= TimeSpan.Zero)
                    {
                        writer.WriteBookmark(lastRevision, initialEventsEnd: false);
                        await pipe.FlushAsync(ct).ConfigureAwait(false);
                        nextBookmark = time.GetUtcNow() + options.BookmarkInterval;
                        continue;
                    }
                    using var bookmarkCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    bookmarkCts.CancelAfter(delay);
                    try
                    {
                        if (!await reader.WaitToReadAsync(bookmarkCts.Token).ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        continue;
                    }
                }
                else
                {
                    if (!await reader.WaitToReadAsync(ct).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                while (reader.TryRead(out var ev))
                {
                    lastRevision = ev.Revision;
                    var now = filter.Matches(ev.Value);
                    var before = ev.Type != StoreEventType.Added && filter.Matches(ev.PreviousValue);
                    switch (ev.Type)
                    {
                        case StoreEventType.Added when now:
                            writer.Write(AddedPrefix, ev.Value);
                            break;
                        case StoreEventType.Modified when now && before:
                            writer.Write(ModifiedPrefix, ev.Value);
                            break;
                        case StoreEventType.Modified when now:
                            writer.Write(AddedPrefix, ev.Value);
                            break;
                        case StoreEventType.Modified when before:
                            // The object left the selection: the watcher sees it go (upstream watch filtering).
                            writer.Write(DeletedPrefix, ev.Value);
                            break;
                        case StoreEventType.Deleted when before:
                            writer.Write(DeletedPrefix, ev.Value);
                            break;
                        default:
                            break;
                    }
                }
                var flush = await pipe.FlushAsync(ct).ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Timeout, client gone or server stopping: end the stream cleanly; clients re-watch.
        }
        catch (StoreWatcherOverflowException)
        {
            // Too slow a reader: closing makes it re-watch from its last revision, as upstream does.
        }
        finally
        {
            watch?.Dispose();
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Writes events to the response pipe; JSON objects are copied as stored.</summary>
    private sealed class EventWriter(PipeWriter pipe, Api.Resources.ResourceInfo info, bool table, TimeProvider time)
    {
        private bool _sentColumns;

        public void Write(ReadOnlySpan<byte> prefix, ReadOnlyMemory<byte> obj)
        {
            pipe.Write(prefix);
            if (table)
            {
                var t = Tables.TableResponses.WatchEvent(info, obj, includeColumns: !_sentColumns, time.GetUtcNow());
                _sentColumns = true;
                pipe.Write(t);
            }
            else
            {
                pipe.Write(obj.Span);
            }
            pipe.Write(Suffix);
        }

        public void WriteBookmark(long revision, bool initialEventsEnd)
        {
            var annotations = initialEventsEnd ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "";
            var line = $"{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{info.Kind}\",\"apiVersion\":\"{info.GroupVersion}\",\"metadata\":{{\"resourceVersion\":\"{revision.ToString(CultureInfo.InvariantCulture)}\",\"creationTimestamp\":null{annotations}}}}}}}\n";
            pipe.Write(Encoding.UTF8.GetBytes(line));
        }

        public void WriteError(int code, string reason, string message)
        {
            var e = new ApiException(code, reason, message);
            pipe.Write("{\"type\":\"ERROR\",\"object\":"u8);
            using (var w = new System.Text.Json.Utf8JsonWriter(pipe))
            {
                e.WriteStatus(w);
            }
            pipe.Write(Suffix);
        }
    }
}
