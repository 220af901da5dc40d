using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Node.KubeletApi.Spdy;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// exec and attach over SPDY/3.1 (kubectl's fallback, and the only protocol of kubectl before 1.29): the client
/// opens one stream per channel ("error", "stdin", "stdout", "stderr", "resize" for a tty), each with a
/// <c>streamType</c> header; FIN is the half-close; the status JSON goes on the error stream, after which the
/// connection closes (upstream remotecommand's httpstream server, protocols v4/v5.channel.k8s.io).
/// </summary>
internal sealed partial class SpdyRemoteCommand
{
    /// <summary>Channel protocols served over SPDY, best first (v5 adds nothing SPDY lacks: FIN already half-closes).</summary>
    public static readonly IReadOnlyList<string> Protocols = [StreamProtocol.V5, StreamProtocol.V4];

    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(30);

    private readonly ILogger _logger;

    public SpdyRemoteCommand(ILogger logger) => _logger = logger;

    /// <summary>The first protocol of the client's X-Stream-Protocol-Version list that we serve.</summary>
    public static string? Negotiate(IEnumerable<string> offered) =>
        offered.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(p => Protocols.Contains(p, StringComparer.Ordinal));

    public async Task RunAsync(Stream transport, StreamRequest request, Func<TerminalSize?, IStreamedProcess> start, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var session = new SpdySession(transport, _logger);
        await using (session.ConfigureAwait(false))
        {
            var streams = new ConcurrentDictionary<string, SpdyStream>(StringComparer.Ordinal);
            var expected = 1 + (request.Stdin ? 1 : 0) + (request.Stdout ? 1 : 0) + (request.Stderr ? 1 : 0) + (request.Tty ? 1 : 0);
            var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reading = session.RunAsync(s =>
            {
                if (s.Header("streamtype") is { } type)
                {
                    streams[type] = s;
                }
                if (streams.Count >= expected)
                {
                    arrived.TrySetResult();
                }
                return Task.CompletedTask;
            }, stop.Token);
            try
            {
                await Task.WhenAny(arrived.Task, reading, Task.Delay(StreamWait, stop.Token)).ConfigureAwait(false);
                if (!arrived.Task.IsCompleted || !streams.TryGetValue("error", out var error))
                {
                    Log.StreamsMissing(_logger, string.Join(",", streams.Keys));
                    return;
                }
                var size = new TaskCompletionSource<TerminalSize?>(TaskCreationOptions.RunContinuationsAsynchronously);
                IStreamedProcess? process = null;
                var resizeLoop = streams.TryGetValue("resize", out var resize)
                    ? ResizeLoopAsync(resize, s =>
                    {
                        if (!size.TrySetResult(s))
                        {
                            process?.Resize(s.Width, s.Height);
                        }
                    }, stop.Token)
                    : Task.CompletedTask;
                if (request.Tty)
                {
                    await Task.WhenAny(size.Task, Task.Delay(StreamSession.FirstResizeWait, stop.Token)).ConfigureAwait(false);
                }
                size.TrySetResult(null);
                try
                {
                    process = start(await size.Task.ConfigureAwait(false));
                }
                catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException or UnauthorizedAccessException)
                {
                    await FinishAsync(error, StreamProtocol.InternalErrorStatus("error executing command in container: " + e.Message), streams, stop.Token).ConfigureAwait(false);
                    return;
                }
                await using (process.ConfigureAwait(false))
                {
                    var stdin = streams.TryGetValue("stdin", out var i) ? StdinAsync(i, process, stop.Token) : Task.CompletedTask;
                    var stdout = PumpAsync(process.Stdout, streams.GetValueOrDefault("stdout"), stop.Token);
                    var stderr = PumpAsync(process.Stderr, streams.GetValueOrDefault("stderr"), stop.Token);
                    var done = Task.WhenAll(process.Exited, stdout, stderr);
                    await Task.WhenAny(done, reading).ConfigureAwait(false);
                    if (!done.IsCompleted)
                    {
                        return;
                    }
                    var code = await process.Exited.ConfigureAwait(false);
                    await FinishAsync(error, code == 0 ? StreamProtocol.SuccessStatus() : StreamProtocol.ExitStatus(code, request.Command), streams, stop.Token).ConfigureAwait(false);
                }
            }
            catch (IOException e)
            {
                Log.Ended(_logger, e.Message);
            }
            finally
            {
                // Upstream closes the connection once the status is out; the client has read it by the FIN.
                await stop.CancelAsync().ConfigureAwait(false);
                try
                {
                    await reading.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    private static async Task FinishAsync(SpdyStream error, byte[] status, ConcurrentDictionary<string, SpdyStream> streams, CancellationToken ct)
    {
        await error.WriteAsync(status, ct).ConfigureAwait(false);
        await error.CloseAsync(ct).ConfigureAwait(false);
        foreach (var s in streams.Values)
        {
            await s.CloseAsync(ct).ConfigureAwait(false);
        }
    }

    private static async Task PumpAsync(Stream? source, SpdyStream? target, CancellationToken ct)
    {
        if (source is null)
        {
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            while (true)
            {
                var n = await source.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                if (target is not null)
                {
                    await target.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
            }
        }
        catch (IOException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (target is not null)
        {
            await target.CloseAsync(ct).ConfigureAwait(false);
        }
    }

    private static async Task StdinAsync(SpdyStream stdin, IStreamedProcess process, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var r = await stdin.Input.ReadAsync(ct).ConfigureAwait(false);
                if (process.Stdin is { } target)
                {
                    foreach (var segment in r.Buffer)
                    {
                        await target.WriteAsync(segment, ct).ConfigureAwait(false);
                    }
                    await target.FlushAsync(ct).ConfigureAwait(false);
                }
                stdin.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        process.CloseStdin();
    }

    /// <summary>The resize stream is a sequence of JSON objects ({"Width":w,"Height":h}) with no separator.</summary>
    private static async Task ResizeLoopAsync(SpdyStream resize, Action<TerminalSize> apply, CancellationToken ct)
    {
        var pending = new List<byte>();
        try
        {
            while (true)
            {
                var r = await resize.Input.ReadAsync(ct).ConfigureAwait(false);
                foreach (var segment in r.Buffer)
                {
                    pending.AddRange(segment.ToArray());
                }
                resize.Input.AdvanceTo(r.Buffer.End);
                int end;
                while ((end = pending.IndexOf((byte)'}')) >= 0)
                {
                    var message = pending.GetRange(0, end + 1).ToArray();
                    pending.RemoveRange(0, end + 1);
                    if (StreamProtocol.TryParseResize(message.AsSpan().TrimStart(" \r\n\t"u8), out var w, out var h))
                    {
                        apply(new TerminalSize(w, h));
                    }
                }
                if (r.IsCompleted || pending.Count > 4096)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "SPDY exec: the client did not open every stream in time (got {Streams})")]
        public static partial void StreamsMissing(ILogger logger, string streams);

        [LoggerMessage(Level = LogLevel.Debug, Message = "SPDY exec ended: {Reason}")]
        public static partial void Ended(ILogger logger, string reason);
    }
}
