using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Json;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Netexec;

/// <summary>
/// netexec's HTTP endpoints, with upstream's paths, parameters, bodies and status codes. Paths the mux does not
/// know fall through to "/" (the timestamp), as Go's ServeMux does with a "/" pattern.
/// </summary>
internal sealed partial class NetexecHandler(GoLogger log, NetexecState state, string httpOverride, Func<TimeSpan, Task> shutdown, Action<int> exit)
    : IHttpHandler
{
    private readonly long startTimestamp = Stopwatch.GetTimestamp();

    public ValueTask HandleAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var response = context.Response;
        if (httpOverride.Length > 0)
        {
            // Upstream builds a fresh GET request from the override, so it carries no remote address and no headers.
            ApplyOverride(request);
        }

        var path = request.Path;
        if (request.Method != "CONNECT")
        {
            var clean = GoUrl.CleanPath(path);
            if (clean != path)
            {
                Redirect(request, response, request.RawQuery.Length > 0 ? clean + "?" + request.RawQuery : clean, 301);
                return ValueTask.CompletedTask;
            }
        }

        switch (path)
        {
            case "/clientip":
                log.Printf("GET /clientip");
                response.Body = request.RemoteAddress;
                break;
            case "/header":
                Header(request, response);
                break;
            case "/dial":
                return DialAsync(request, response);
            case "/echo":
                Echo(request, response);
                break;
            case "/exit":
                return ExitAsync(request, response);
            case "/healthz":
                log.Printf("GET /healthz");
                response.Status = state.ServerReady ? 200 : 412;
                break;
            case "/readyz":
                Readyz(response);
                break;
            case "/hostname":
                log.Printf("GET /hostname");
                response.Body = HostName();
                break;
            case "/hostName":
                log.Printf("GET /hostName");
                response.Body = HostName();
                break;
            case "/redirect":
                RedirectHandler(request, response);
                break;
            case "/shell":
                return ShellAsync(request, response);
            case "/upload":
                log.Printf("GET /upload");
                response.Body = JsonSerializer.Serialize(new ShellResult { Error = "Unable to upload file." }, AgnhostJsonContext.Relaxed.ShellResult);
                break;
            case "/shutdown":
                log.Printf("GET /shutdown");
                exit(0);
                response.Abort = true;
                break;
            default:
                log.Printf("GET /");
                response.Body = "NOW: " + GoTime.Format(log.Time.GetLocalNow(), GoTime.Since(startTimestamp));
                break;
        }

        return ValueTask.CompletedTask;
    }

    private void ApplyOverride(HttpRequest request)
    {
        var target = httpOverride;
        var q = target.IndexOf('?', StringComparison.Ordinal);
        request.Method = "GET";
        request.RawTarget = target;
        request.RawQuery = q >= 0 ? target[(q + 1)..] : string.Empty;
        request.Path = GoUrl.TryUnescape(q >= 0 ? target.AsSpan(0, q) : target, false, out var p) && p.Length > 0 ? p : "/";
        request.RemoteAddress = string.Empty;
        request.RawHeaders = default;
        request.Body = default;
        request.FormUrlEncoded = false;
    }

    private string HostName()
    {
        var name = Sockets.Hostname();
        log.Printf("hostname: " + name);
        return name;
    }

    private void Header(HttpRequest request, HttpResponse response)
    {
        var key = request.FormValue("key");
        if (key.Length > 0)
        {
            log.Printf("GET /header?key=" + key);
            response.Body = request.GetHeader(key) ?? string.Empty;
            return;
        }

        log.Printf("GET /header");
        response.Body = JsonSerializer.Serialize(request.CanonicalHeaders(), AgnhostJsonContext.Relaxed.SortedDictionaryStringListString);
    }

    private void Echo(HttpRequest request, HttpResponse response)
    {
        var msg = request.FormValue("msg");
        var codeString = request.FormValue("code");
        log.Printf("GET /echo?msg=" + msg + "&code=" + codeString);
        if (codeString.Length > 0)
        {
            if (!GoParse.TryParseInt(codeString, out var code))
            {
                response.Body = "argument 'code' must be an integer or empty, got " + GoQuote(codeString) + "\n";
                return;
            }

            if (code is < 100 or > 999)
            {
                // Go's WriteHeader panics on such codes; the server drops the connection.
                log.Printf("http: panic serving " + request.RemoteAddress + ": invalid WriteHeader code " + codeString);
                response.Abort = true;
                return;
            }

            response.Status = code;
        }

        response.Body = msg;
    }

    private void Readyz(HttpResponse response)
    {
        log.Printf("GET /readyz");
        if (state.SigTermReceived)
        {
            response.Status = 503;
            response.Body = "shutting down";
        }
        else if (state.ServerReady)
        {
            response.Body = "ok";
        }
        else
        {
            response.Status = 412;
        }
    }

    private async ValueTask ExitAsync(HttpRequest request, HttpResponse response)
    {
        var waitString = request.FormValue("wait");
        var timeoutString = request.FormValue("timeout");
        var codeString = request.FormValue("code");
        log.Printf("GET /exit?code=" + codeString + "&timeout=" + timeoutString + "&wait=" + waitString);
        var timeout = TimeSpan.Zero;
        if (timeoutString.Length > 0 && !GoDuration.TryParse(timeoutString, out timeout))
        {
            response.Body = "argument 'timeout' must be a valid golang duration or empty, got " + GoQuote(timeoutString) + "\n";
            return;
        }

        var wait = TimeSpan.Zero;
        if (waitString.Length > 0 && !GoDuration.TryParse(waitString, out wait))
        {
            response.Body = "argument 'wait' must be a valid golang duration or empty, got " + GoQuote(waitString) + "\n";
            return;
        }

        var code = 0;
        if (codeString.Length > 0 && !GoParse.TryParseInt(codeString, out code))
        {
            response.Body = "argument 'code' must be an integer [0-127] or empty, got " + GoQuote(codeString) + "\n";
            return;
        }

        log.Printf(string.Create(
            CultureInfo.InvariantCulture,
            $"Will begin shutdown in {GoDuration.Format(wait)}, allowing {GoDuration.Format(timeout)} for connections to close, then will exit with {code}"));
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, log.Time).ConfigureAwait(false);
        }

        if (timeout <= TimeSpan.Zero)
        {
            exit(code);
            response.Abort = true;
            return;
        }

        // Graceful: this response goes out, then the server drains for up to the timeout and the process exits.
        response.AfterResponse = async () =>
        {
            var deadline = Stopwatch.GetTimestamp();
            await shutdown(timeout).ConfigureAwait(false);
            var timedOut = Stopwatch.GetElapsedTime(deadline) >= timeout;
            log.Printf("Graceful shutdown completed with: " + (timedOut ? "context deadline exceeded" : "<nil>"));
            exit(code);
        };
    }

    private void RedirectHandler(HttpRequest request, HttpResponse response)
    {
        var location = request.FormValue("location");
        var codeString = request.FormValue("code");
        log.Printf(request.Method + " /redirect?msg=" + location + "&code=" + codeString);
        var code = 302;
        if (codeString.Length > 0 && !GoParse.TryParseInt(codeString, out code))
        {
            response.Body = "argument 'code' must be an integer or empty, got " + GoQuote(codeString) + "\n";
            return;
        }

        if (code is < 100 or > 999)
        {
            response.Abort = true;
            return;
        }

        Redirect(request, response, location, code);
    }

    /// <summary>http.Redirect: relative locations resolved against the request path, an HTML body for GET.</summary>
    private static void Redirect(HttpRequest request, HttpResponse response, string url, int code)
    {
        if (!HasSchemeOrHost(url))
        {
            var oldPath = request.Path.Length == 0 ? "/" : request.Path;
            if (url.Length == 0 || url[0] != '/')
            {
                url = oldPath[..(oldPath.LastIndexOf('/') + 1)] + url;
            }

            var query = string.Empty;
            var q = url.IndexOf('?', StringComparison.Ordinal);
            if (q >= 0)
            {
                query = url[q..];
                url = url[..q];
            }

            var trailing = url.EndsWith('/');
            url = GoUrl.Clean(url);
            if (trailing && !url.EndsWith('/'))
            {
                url += "/";
            }

            url += query;
        }

        response.Status = code;
        response.Headers.Add(new("Location", HexEscapeNonAscii(url)));
        if (request.Method is "GET" or "HEAD")
        {
            response.ContentType = "text/html; charset=utf-8";
        }

        if (request.Method == "GET")
        {
            response.Body = "<a href=\"" + GoUrl.HtmlEscape(url) + "\">" + StatusText.Get(code) + "</a>.\n\n";
        }
    }

    private static bool HasSchemeOrHost(string url)
    {
        if (url.StartsWith("//", StringComparison.Ordinal))
        {
            return true;
        }

        var colon = url.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !char.IsAsciiLetter(url[0]))
        {
            return false;
        }

        for (var i = 1; i < colon; i++)
        {
            var c = url[i];
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static string HexEscapeNonAscii(string s)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(s);
        var sb = new System.Text.StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b >= 0x80)
            {
                sb.Append('%').Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append((char)b);
            }
        }

        return sb.ToString();
    }

    /// <summary>Go's %q for the plain strings these messages quote.</summary>
    internal static string GoQuote(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
