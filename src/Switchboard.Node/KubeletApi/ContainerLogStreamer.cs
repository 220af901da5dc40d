using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// Serves a container's log file as upstream's kubelet serves container logs: tailLines, limitBytes, sinceSeconds/
/// sinceTime, timestamps, follow until the container stops.
///
/// Container processes write their stdout/stderr straight into the file, so lines carry no time of their own.
/// What we can say honestly: bytes already in the file when the request arrives were written no later than the
/// file's last-write time, so they are stamped with it (and sinceSeconds/sinceTime keep or drop them all by that
/// time); bytes that arrive while following are stamped with the time this server read them (within one poll
/// interval of the write). Timestamps use upstream's fixed-width RFC 3339 format with nine fraction digits.
/// </summary>
internal sealed class ContainerLogStreamer
{
    private readonly IContainerLocator _locator;
    private readonly TimeProvider _time;
    private readonly TimeSpan _poll;

    public ContainerLogStreamer(IContainerLocator locator, TimeProvider time, TimeSpan pollInterval)
    {
        _locator = locator;
        _time = time;
        _poll = pollInterval;
    }

    /// <summary>
    /// Copies <paramref name="path"/> (the current or previous run of <paramref name="view"/>) to
    /// <paramref name="output"/>; follows while the container keeps running with this file when asked.
    /// </summary>
    public async Task CopyAsync(ContainerView view, string path, LogRequest request, Stream output, CancellationToken ct)
    {
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        });
        var writer = new LogWriter(output, request.Timestamps, request.LimitBytes);
        var existingStamp = new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero);
        var length = file.Length;
        var start = 0L;
        var since = request.SinceTime ?? (request.SinceSeconds is long s ? _time.GetUtcNow().AddSeconds(-s) : null);
        if (since is not null && existingStamp < since)
        {
            start = length;
        }
        if (request.TailLines is long tail)
        {
            start = Math.Max(start, await TailStartAsync(file, length, tail, ct).ConfigureAwait(false));
        }
        file.Position = start;
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            if (!await CopyAvailableAsync(file, buffer, writer, existingStamp, ct).ConfigureAwait(false))
            {
                return;
            }
            await output.FlushAsync(ct).ConfigureAwait(false);
            if (!request.Follow || request.Previous || !view.Running)
            {
                return;
            }
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(_poll, _time, ct).ConfigureAwait(false);
                var current = _locator.Find(view.PodNamespace, view.PodName, view.Container);
                var stillHere = current is { Running: true } && current.CurrentLog == path;
                // One more read after the container stopped: whatever it wrote last is served too.
                if (!await CopyAvailableAsync(file, buffer, writer, _time.GetUtcNow(), ct).ConfigureAwait(false))
                {
                    return;
                }
                await output.FlushAsync(ct).ConfigureAwait(false);
                if (!stillHere)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>False once limitBytes is reached.</summary>
    private static async Task<bool> CopyAvailableAsync(FileStream file, byte[] buffer, LogWriter writer, DateTimeOffset stamp, CancellationToken ct)
    {
        while (true)
        {
            var n = await file.ReadAsync(buffer, ct).ConfigureAwait(false);
            if (n == 0)
            {
                return true;
            }
            if (!await writer.WriteAsync(buffer.AsMemory(0, n), stamp, ct).ConfigureAwait(false))
            {
                return false;
            }
        }
    }

    /// <summary>Offset of the first of the last <paramref name="lines"/> lines (a final newline ends a line, it does not start one).</summary>
    internal static async Task<long> TailStartAsync(Stream file, long length, long lines, CancellationToken ct)
    {
        if (lines <= 0)
        {
            return length;
        }
        var buffer = new byte[8192];
        var end = length;
        var found = 0L;
        var skipFinalNewline = true;
        while (end > 0)
        {
            var size = (int)Math.Min(buffer.Length, end);
            var blockStart = end - size;
            file.Position = blockStart;
            await file.ReadExactlyAsync(buffer.AsMemory(0, size), ct).ConfigureAwait(false);
            for (var i = size - 1; i >= 0; i--)
            {
                if (buffer[i] != (byte)'\n')
                {
                    skipFinalNewline = false;
                    continue;
                }
                if (skipFinalNewline)
                {
                    skipFinalNewline = false;
                    continue;
                }
                if (++found == lines)
                {
                    return blockStart + i + 1;
                }
            }
            end = blockStart;
        }
        return 0;
    }

    /// <summary>Upstream's RFC3339NanoFixed: 2006-01-02T15:04:05.000000000Z07:00 (here always UTC, "Z").</summary>
    internal static string FormatTimestamp(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture) + "00Z";

    /// <summary>Writes log bytes, prefixing each line with its stamp when asked and stopping at limitBytes.</summary>
    internal sealed class LogWriter(Stream output, bool timestamps, long? limitBytes)
    {
        private bool _atLineStart = true;
        private long _remaining = limitBytes ?? long.MaxValue;

        public async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, DateTimeOffset stamp, CancellationToken ct)
        {
            if (!timestamps)
            {
                return await PutAsync(data, ct).ConfigureAwait(false);
            }
            var prefix = System.Text.Encoding.ASCII.GetBytes(FormatTimestamp(stamp) + " ");
            while (!data.IsEmpty)
            {
                if (_atLineStart)
                {
                    if (!await PutAsync(prefix, ct).ConfigureAwait(false))
                    {
                        return false;
                    }
                    _atLineStart = false;
                }
                var nl = data.Span.IndexOf((byte)'\n');
                var line = nl < 0 ? data : data[..(nl + 1)];
                if (!await PutAsync(line, ct).ConfigureAwait(false))
                {
                    return false;
                }
                _atLineStart = nl >= 0;
                data = data[line.Length..];
            }
            return true;
        }

        private async ValueTask<bool> PutAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            if (_remaining <= 0)
            {
                return false;
            }
            var take = (int)Math.Min(data.Length, _remaining);
            await output.WriteAsync(data[..take], ct).ConfigureAwait(false);
            _remaining -= take;
            return _remaining > 0;
        }
    }
}

/// <summary>
/// attach: a container process writes its stdout and stderr to its log file and has no stdin pipe, so attach
/// streams what the container writes from now on (its stdout channel) until it stops; client stdin is discarded.
/// </summary>
internal sealed class LogAttachProcess : IStreamedProcess
{
    private readonly Pipe _pipe = new();
    private readonly CancellationTokenSource _stop = new();

    public LogAttachProcess(ContainerLogStreamer streamer, ContainerView view, bool stdin)
    {
        Stdin = stdin ? Stream.Null : null;
        Stdout = _pipe.Reader.AsStream();
        Exited = RunAsync(streamer, view);
    }

    public Stream? Stdin { get; }

    public Stream? Stdout { get; }

    public Stream? Stderr => null;

    public Task<int> Exited { get; }

    private async Task<int> RunAsync(ContainerLogStreamer streamer, ContainerView view)
    {
        await Task.Yield();
        try
        {
            if (view.CurrentLog is { } log)
            {
                await using var sink = _pipe.Writer.AsStream(leaveOpen: true);
                await streamer.CopyAsync(view, log, new LogRequest { Follow = true, TailLines = 0 }, sink, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
        }
        return 0;
    }

    public void CloseStdin()
    {
    }

    public void Resize(ushort width, ushort height)
    {
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
        try
        {
            // The follower observes the token until it returns; only then may the source go.
            await Exited.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
        }
        _stop.Dispose();
    }
}
