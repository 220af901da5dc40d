using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Http;

/// <summary>
/// A small HTTP/1.1 server straight over sockets: keep-alive, Content-Length and chunked request bodies,
/// pipelined requests answered in order, Go-style 400/431/501/505 answers to malformed input, optional TLS.
/// Each connection reuses one context and pooled buffers.
/// </summary>
internal sealed class HttpServer(IHttpHandler handler, GoLogger log, X509Certificate2? certificate = null) : IDisposable
{
    public const int MaxBodyBytes = 32 << 20;

    private readonly CancellationTokenSource idle = new();
    private readonly List<Socket> listeners = [];
    private int busy;
    private volatile bool draining;
    private DateCache? dateCache;

    public void Dispose() => idle.Dispose();

    public void Start(Socket listener)
    {
        lock (listeners)
        {
            listeners.Add(listener);
        }

        _ = AcceptLoopAsync(listener);
    }

    /// <summary>Go's Server.Shutdown: stop accepting, close idle connections, wait for busy ones up to the timeout.</summary>
    public async Task ShutdownAsync(TimeSpan timeout)
    {
        draining = true;
        lock (listeners)
        {
            foreach (var l in listeners)
            {
                l.Dispose();
            }
        }

        await idle.CancelAsync().ConfigureAwait(false);
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Volatile.Read(ref busy) > 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!draining)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException e)
            {
                // Like Go: log accept errors (EMFILE, ECONNABORTED) and retry after a short pause.
                log.Printf("http: Accept error: " + e.Message + "; retrying in 5ms");
                await Task.Delay(5).ConfigureAwait(false);
                continue;
            }

            _ = ServeConnectionAsync(client);
        }
    }

    private async Task ServeConnectionAsync(Socket socket)
    {
        var remote = Sockets.Format(socket.RemoteEndPoint);
        socket.NoDelay = true;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var filled = 0;
        using var output = new ResponseBuffer();
        var context = new HttpContext();
        try
        {
            if (certificate is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, idle.Token)
                    .ConfigureAwait(false);
            }

            while (!draining)
            {
                RequestHead head;
                ParseStatus status;
                int errorStatus;
                string errorText;
                while ((status = HttpParser.TryParseHead(buffer.AsSpan(0, filled), out head, out errorStatus, out errorText)) == ParseStatus.Incomplete)
                {
                    if (filled == buffer.Length)
                    {
                        buffer = Grow(buffer, filled, buffer.Length * 2);
                    }

                    var n = await stream.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                if (status == ParseStatus.Invalid)
                {
                    await WriteParseErrorAsync(stream, errorStatus, errorText).ConfigureAwait(false);
                    return;
                }

                ReadOnlyMemory<byte> body = default;
                int consumed;
                var sentContinue = false;
                if (head.Chunked)
                {
                    byte[] decoded;
                    int used;
                    while ((status = HttpParser.TryDecodeChunked(buffer.AsSpan(head.BodyStart, filled - head.BodyStart), MaxBodyBytes, out decoded, out used)) == ParseStatus.Incomplete)
                    {
                        if (head.ExpectContinue && !sentContinue)
                        {
                            sentContinue = true;
                            await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
                        }

                        if (filled == buffer.Length)
                        {
                            buffer = Grow(buffer, filled, buffer.Length * 2);
                        }

                        var n = await stream.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            return;
                        }

                        filled += n;
                    }

                    if (status == ParseStatus.Invalid)
                    {
                        await WriteParseErrorAsync(stream, 400, "invalid chunked body").ConfigureAwait(false);
                        return;
                    }

                    body = decoded;
                    consumed = head.BodyStart + used;
                }
                else if (head.ContentLength > 0)
                {
                    if (head.ContentLength > MaxBodyBytes)
                    {
                        await WriteParseErrorAsync(stream, 413, "request body too large").ConfigureAwait(false);
                        return;
                    }

                    var needed = head.BodyStart + (int)head.ContentLength;
                    if (needed > buffer.Length)
                    {
                        buffer = Grow(buffer, filled, needed);
                    }

                    if (filled < needed && head.ExpectContinue)
                    {
                        await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
                    }

                    while (filled < needed)
                    {
                        var n = await stream.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            return;
                        }

                        filled += n;
                    }

                    body = buffer.AsMemory(head.BodyStart, (int)head.ContentLength);
                    consumed = needed;
                }
                else
                {
                    consumed = head.BodyStart;
                }

                context.Reset();
                if (!Fill(context.Request, buffer, head, body, remote))
                {
                    await WriteParseErrorAsync(stream, 400, "invalid URI escape").ConfigureAwait(false);
                    return;
                }

                Interlocked.Increment(ref busy);
                try
                {
                    try
                    {
                        await handler.HandleAsync(context, CancellationToken.None).ConfigureAwait(false);
                    }
#pragma warning disable CA1031 // A handler failure must cost one connection, never the process (Go recovers panics).
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        log.Printf("http: panic serving " + remote + ": " + e.Message);
                        return;
                    }

                    var response = context.Response;
                    if (response.Abort)
                    {
                        return;
                    }

                    var close = response.Close || head.Close || draining;
                    WriteResponse(output, context.Request, response, head, close);
                    await stream.WriteAsync(output.Written).ConfigureAwait(false);
                    if (response.AfterResponse is { } after)
                    {
                        _ = after();
                    }

                    if (close)
                    {
                        return;
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref busy);
                }

                // Keep what a pipelining client already sent after this request.
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException)
        {
            if (e is System.Security.Authentication.AuthenticationException or IOException && certificate is not null && filled == 0)
            {
                log.Printf("http: TLS handshake error from " + remote + ": " + e.Message);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static byte[] Grow(byte[] buffer, int filled, int size)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(size);
        buffer.AsSpan(0, filled).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    private static bool Fill(HttpRequest request, byte[] buffer, in RequestHead head, ReadOnlyMemory<byte> body, string remote)
    {
        var method = buffer.AsSpan(head.MethodStart, head.MethodLength);
        request.Method = method.SequenceEqual("GET"u8) ? "GET" : method.SequenceEqual("HEAD"u8) ? "HEAD" : Encoding.ASCII.GetString(method);
        var target = Encoding.UTF8.GetString(buffer, head.TargetStart, head.TargetLength);
        request.RawTarget = target;
        request.Http11 = head.Http11;
        request.RemoteAddress = remote;
        request.RawHeaders = buffer.AsMemory(head.HeadersStart, head.HeadersLength);
        request.Body = body;
        request.FormUrlEncoded = head.FormUrlEncoded;

        var pathPart = target.AsSpan();
        if (pathPart.Length > 0 && pathPart[0] != '/' && pathPart[0] != '*')
        {
            // absolute-form: drop scheme and authority.
            var scheme = pathPart.IndexOf("://", StringComparison.Ordinal);
            if (scheme > 0)
            {
                var afterAuthority = pathPart[(scheme + 3)..];
                var slash = afterAuthority.IndexOfAny('/', '?');
                pathPart = slash >= 0 ? afterAuthority[slash..] : "/";
            }
        }

        var q = pathPart.IndexOf('?');
        request.RawQuery = q >= 0 ? pathPart[(q + 1)..].ToString() : string.Empty;
        var rawPath = q >= 0 ? pathPart[..q] : pathPart;
        if (rawPath.IsEmpty)
        {
            rawPath = "/";
        }

        if (!GoUrl.TryUnescape(rawPath, false, out var path))
        {
            return false;
        }

        request.Path = path;
        return true;
    }

    private void WriteResponse(ResponseBuffer output, HttpRequest request, HttpResponse response, in RequestHead head, bool close)
    {
        output.Clear();
        var status = response.Status;
        var version = head.Http11 ? "HTTP/1.1 "u8 : "HTTP/1.0 "u8;
        if (status is >= 100 and < 200 and not 101)
        {
            // Go sends an informational header and then the real 200 for a handler's 1xx WriteHeader.
            output.Append(version);
            output.AppendInt(status);
            output.AppendAscii(" " + StatusText.StatusLineReason(status) + "\r\n\r\n");
            status = 200;
        }

        output.Append(version);
        output.AppendInt(status);
        output.Append(" "u8);
        output.AppendAscii(StatusText.StatusLineReason(status));
        output.Append("\r\n"u8);

        var bodyAllowed = status is not (204 or 304) and >= 200;
        var bodyLength = response.BodyBytes?.Length ?? (response.Body is null ? 0 : Encoding.UTF8.GetByteCount(response.Body));
        if (close)
        {
            output.Append("Connection: close\r\n"u8);
        }
        else if (!head.Http11)
        {
            output.Append("Connection: keep-alive\r\n"u8);
        }

        if (bodyAllowed)
        {
            output.Append("Content-Length: "u8);
            output.AppendInt(bodyLength);
            output.Append("\r\n"u8);
            var contentType = response.ContentType ?? (bodyLength > 0 ? "text/plain; charset=utf-8" : null);
            if (contentType is not null)
            {
                output.Append("Content-Type: "u8);
                output.AppendAscii(contentType);
                output.Append("\r\n"u8);
            }
        }

        output.Append("Date: "u8);
        output.Append(DateHeader());
        output.Append("\r\n"u8);
        foreach (var (name, value) in response.Headers)
        {
            output.AppendAscii(name);
            output.Append(": "u8);
            output.AppendAscii(value);
            output.Append("\r\n"u8);
        }

        output.Append("\r\n"u8);
        if (bodyAllowed && request.Method != "HEAD")
        {
            if (response.BodyBytes is not null)
            {
                output.Append(response.BodyBytes);
            }
            else if (response.Body is not null)
            {
                output.AppendUtf8(response.Body);
            }
        }
    }

    private byte[] DateHeader()
    {
        var now = log.Time.GetUtcNow();
        var second = now.ToUnixTimeSeconds();
        var cached = dateCache;
        if (cached is null || cached.Second != second)
        {
            cached = new DateCache(second, Encoding.ASCII.GetBytes(now.ToString("r", System.Globalization.CultureInfo.InvariantCulture)));
            dateCache = cached;
        }

        return cached.Value;
    }

    /// <summary>Go's answer to a request it cannot parse: status, text body, then it closes the connection.</summary>
    private static async Task WriteParseErrorAsync(Stream stream, int status, string text)
    {
        var reason = StatusText.StatusLineReason(status);
        var publicText = status switch
        {
            400 => "400 Bad Request",
            501 => "Unsupported transfer encoding",
            417 => string.Empty,
            _ => status.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + reason + (text.Length > 0 && text != reason ? ": " + text : string.Empty),
        };
        var message = "HTTP/1.1 " + status.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + reason
            + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + publicText;
        await stream.WriteAsync(Encoding.ASCII.GetBytes(message)).ConfigureAwait(false);
    }

    private sealed record DateCache(long Second, byte[] Value);
}
