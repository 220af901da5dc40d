using System.Text;

namespace Switchboard.Agnhost.Http;

/// <summary>Handles one parsed request by filling in the response. Must not keep spans of the request after returning.</summary>
internal interface IHttpHandler
{
    ValueTask HandleAsync(HttpContext context, CancellationToken cancellationToken);
}

/// <summary>One request and its response; reused for every request on a connection.</summary>
internal sealed class HttpContext
{
    public HttpRequest Request { get; } = new();

    public HttpResponse Response { get; } = new();

    public void Reset()
    {
        Request.Reset();
        Response.Reset();
    }
}

internal sealed class HttpRequest
{
    public string Method { get; set; } = "GET";

    /// <summary>The request-target exactly as sent (Go's RequestURI).</summary>
    public string RawTarget { get; set; } = "/";

    /// <summary>The percent-decoded path (Go's URL.Path).</summary>
    public string Path { get; set; } = "/";

    public string RawQuery { get; set; } = string.Empty;

    public bool Http11 { get; set; } = true;

    /// <summary>Go's RemoteAddr: "ip:port" or "[ip6]:port".</summary>
    public string RemoteAddress { get; set; } = string.Empty;

    /// <summary>Raw "name: value" lines; valid only while the handler runs.</summary>
    public ReadOnlyMemory<byte> RawHeaders { get; set; }

    /// <summary>The request body; valid only while the handler runs.</summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    public bool FormUrlEncoded { get; set; }

    public string? GetHeader(string name) =>
        HttpParser.GetHeader(RawHeaders.Span, Encoding.ASCII.GetBytes(name));

    /// <summary>
    /// Go's Request.FormValue: urlencoded POST/PUT/PATCH body values first, then the query; "" when absent.
    /// </summary>
    public string FormValue(string key)
    {
        if (FormUrlEncoded && Method is "POST" or "PUT" or "PATCH" && !Body.IsEmpty)
        {
            var fromBody = GoUrl.QueryGet(Encoding.UTF8.GetString(Body.Span), key);
            if (fromBody is not null)
            {
                return fromBody;
            }
        }

        return GoUrl.QueryGet(RawQuery, key) ?? string.Empty;
    }

    /// <summary>Every header with Go's canonical key (textproto.CanonicalMIMEHeaderKey), Host excluded like Go.</summary>
    public SortedDictionary<string, List<string>> CanonicalHeaders()
    {
        var result = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var e = new HeaderEnumerator(RawHeaders.Span);
        while (e.MoveNext())
        {
            var key = Canonical(Encoding.Latin1.GetString(e.Name));
            if (key == "Host")
            {
                continue;
            }

            if (!result.TryGetValue(key, out var list))
            {
                list = [];
                result[key] = list;
            }

            list.Add(Encoding.UTF8.GetString(e.Value));
        }

        return result;
    }

    public static string Canonical(string key)
    {
        var chars = key.ToCharArray();
        var upper = true;
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            chars[i] = upper ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c);
            upper = c == '-';
        }

        return new string(chars);
    }

    public void Reset()
    {
        Method = "GET";
        RawTarget = "/";
        Path = "/";
        RawQuery = string.Empty;
        RawHeaders = default;
        Body = default;
        FormUrlEncoded = false;
    }
}

internal sealed class HttpResponse
{
    public int Status { get; set; } = 200;

    /// <summary>Null: "text/plain; charset=utf-8" when there is a body (what Go sniffs for text), none otherwise.</summary>
    public string? ContentType { get; set; }

    public string? Body { get; set; }

    public byte[]? BodyBytes { get; set; }

    public List<KeyValuePair<string, string>> Headers { get; } = [];

    /// <summary>Close the connection after this response.</summary>
    public bool Close { get; set; }

    /// <summary>Send no response at all and drop the connection (Go handler panics, os.Exit races).</summary>
    public bool Abort { get; set; }

    /// <summary>Runs after the response is written (e.g. a graceful exit).</summary>
    public Func<Task>? AfterResponse { get; set; }

    /// <summary>http.Error: text body with a trailing newline and nosniff.</summary>
    public void Error(int status, string message)
    {
        Status = status;
        ContentType = "text/plain; charset=utf-8";
        Headers.Add(new("X-Content-Type-Options", "nosniff"));
        Body = message + "\n";
    }

    public void Reset()
    {
        Status = 200;
        ContentType = null;
        Body = null;
        BodyBytes = null;
        Headers.Clear();
        Close = false;
        Abort = false;
        AfterResponse = null;
    }
}
