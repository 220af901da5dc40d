using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Proxy;

/// <summary>
/// The pods/exec, pods/attach, pods/portforward and pods/log subresources: find the Pod's node, then proxy to its
/// kubelet. Upgrade requests (WebSocket, SPDY) are tunnelled byte for byte after the kubelet's 101, like upstream's
/// UpgradeAwareHandler; logs are streamed (and flushed as they come, for follow).
/// </summary>
internal sealed partial class PodStreamProxy : IDisposable
{
    public static readonly IReadOnlySet<string> Subresources = new HashSet<string>(StringComparer.Ordinal) { "exec", "attach", "portforward", "log" };

    /// <summary>Request headers that belong to one hop (or to us) and are not forwarded to the kubelet.</summary>
    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Authorization", "Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer",
        "Transfer-Encoding", "Content-Length", "Impersonate-User", "Impersonate-Group",
    };

    /// <summary>Response headers of a 101 that Kestrel writes itself.</summary>
    private static readonly HashSet<string> OwnResponseHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Date", "Server", "Content-Length", "Transfer-Encoding", "Keep-Alive",
    };

    private readonly ApiRegistry _registry;
    private readonly KubeletConnector _connector;
    private readonly ILogger _logger;

    public PodStreamProxy(ApiRegistry registry, KubeletConnector connector, ILogger logger)
    {
        _registry = registry;
        _connector = connector;
        _logger = logger;
    }

    /// <summary>Serves one pod subresource request; returns the metric verb (CONNECT, as upstream counts them).</summary>
    public async Task<string> HandleAsync(HttpContext ctx, ResourceStorage pods, RequestInfo ri)
    {
        var ct = ctx.RequestAborted;
        var method = ctx.Request.Method;
        var isLog = ri.Subresource == "log";
        if (isLog ? !HttpMethods.IsGet(method) : !(HttpMethods.IsGet(method) || HttpMethods.IsPost(method)))
        {
            throw ApiException.MethodNotAllowed();
        }
        var live = await pods.GetAsync(ri.Namespace, ri.Name!, ct).ConfigureAwait(false);
        var pod = (V1Pod)pods.Decode(live.Value.Span);
        if (isLog)
        {
            await LogAsync(ctx, pod, ri.Name!).ConfigureAwait(false);
            return "CONNECT";
        }
        string path;
        if (ri.Subresource == "portforward")
        {
            path = KubeletLocation.PortForwardPath(pod, ctx.Request.Query);
        }
        else
        {
            var container = KubeletLocation.ValidateContainer(pod, ctx.Request.Query["container"].ToString());
            path = KubeletLocation.StreamPath(ri.Subresource!, pod, container, ctx.Request.Query);
        }
        var endpoint = await NodeEndpointAsync(pod, ri.Name!, ct).ConfigureAwait(false);
        await TunnelAsync(ctx, endpoint, path).ConfigureAwait(false);
        return "CONNECT";
    }

    private async Task<IPEndPoint> NodeEndpointAsync(V1Pod pod, string name, CancellationToken ct)
    {
        var nodeName = pod.Spec?.NodeName;
        if (string.IsNullOrEmpty(nodeName))
        {
            throw ApiException.BadRequest($"pod {name} does not have a host assigned");
        }
        var nodes = _registry.Find("", "Node")!;
        var node = (V1Node)nodes.Decode((await nodes.GetAsync(null, nodeName, ct).ConfigureAwait(false)).Value.Span);
        return KubeletLocation.NodeEndpoint(node);
    }

    private async Task LogAsync(HttpContext ctx, V1Pod pod, string name)
    {
        var ct = ctx.RequestAborted;
        var options = PodLogOptions.Parse(ctx.Request.Query, name);
        var container = KubeletLocation.ValidateContainer(pod, options.Container);
        if (string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            // Upstream: a Pod without a host has no log location, and the answer is an empty stream.
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/plain";
            return;
        }
        var endpoint = await NodeEndpointAsync(pod, name, ct).ConfigureAwait(false);
        var url = new UriBuilder("https", endpoint.Address.ToString(), endpoint.Port).Uri + KubeletLocation.LogPath(pod, container, options)[1..];
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            response = await _connector.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException or SocketException)
        {
            Log.KubeletUnreachable(_logger, endpoint.ToString(), e.Message);
            throw ApiException.Internal($"Get \"{url}\": {e.Message}");
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var body = await ReadLimitedAsync(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), 50_000, ct).ConfigureAwait(false);
                throw KubeletError((int)response.StatusCode, body, name);
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.StartAsync(ct).ConfigureAwait(false);
            await using var source = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
            try
            {
                while (true)
                {
                    int n;
                    try
                    {
                        n = await source.ReadAsync(buffer, ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException)
                    {
                        // The response has started; all we can do is end it.
                        Log.KubeletUnreachable(_logger, endpoint.ToString(), e.Message);
                        return;
                    }
                    if (n == 0)
                    {
                        return;
                    }
                    await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    await ctx.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>A kubelet's non-2xx answer as upstream's GenericHttpResponseChecker turns it into a Status.</summary>
    internal static ApiException KubeletError(int code, string body, string name)
    {
        var suffix = $" ( pods/log {name})";
        return code switch
        {
            500 => ApiException.Internal(body),
            400 => ApiException.BadRequest(body),
            403 => new ApiException(403, "Forbidden", body) { DetailName = name, DetailKind = "pods/log" },
            404 => new ApiException(404, "NotFound", "the server could not find the requested resource" + suffix)
            {
                DetailName = name,
                DetailKind = "pods/log",
                Causes = [("UnexpectedServerResponse", body, null)],
            },
            401 => new ApiException(401, "Unauthorized", "the server has asked for the client to provide credentials" + suffix) { DetailName = name, DetailKind = "pods/log" },
            _ => new ApiException(code, "", $"the server responded with the status code {code} but did not return more information" + suffix)
            {
                DetailName = name,
                DetailKind = "pods/log",
                Causes = [("UnexpectedServerResponse", body, null)],
            },
        };
    }

    private async Task TunnelAsync(HttpContext ctx, IPEndPoint endpoint, string pathAndQuery)
    {
        var ct = ctx.RequestAborted;
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest)
        {
            throw ApiException.BadRequest("Upgrade request required");
        }
        Stream backend;
        try
        {
            backend = await _connector.ConnectAsync(endpoint, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException or AuthenticationException)
        {
            Log.KubeletUnreachable(_logger, endpoint.ToString(), e.Message);
            throw new ApiException(500, "", $"error dialing backend: {e.Message}");
        }
        await using (backend.ConfigureAwait(false))
        {
            HttpResponseHead head;
            try
            {
                await backend.WriteAsync(RequestHead(ctx.Request, endpoint, pathAndQuery), ct).ConfigureAwait(false);
                await backend.FlushAsync(ct).ConfigureAwait(false);
                head = await HttpResponseHead.ReadAsync(backend, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                Log.KubeletUnreachable(_logger, endpoint.ToString(), e.Message);
                throw new ApiException(500, "", $"error proxying to kubelet {endpoint}: {e.Message}");
            }
            if (head.StatusCode != 101)
            {
                // Upstream relays the backend's refusal as it is.
                await RelayRefusalAsync(ctx, backend, head).ConfigureAwait(false);
                return;
            }
            foreach (var (key, value) in head.Headers)
            {
                if (!OwnResponseHeaders.Contains(key))
                {
                    ctx.Response.Headers.Append(key, value);
                }
            }
            var client = await upgrade.UpgradeAsync().ConfigureAwait(false);
            if (!head.Rest.IsEmpty)
            {
                await client.WriteAsync(head.Rest, ct).ConfigureAwait(false);
            }
            await PipeAsync(client, backend).ConfigureAwait(false);
        }
    }

    /// <summary>Copies both ways until either side ends, then closes both (upstream does the same).</summary>
    private static async Task PipeAsync(Stream client, Stream backend)
    {
        using var done = new CancellationTokenSource();
        var up = CopyAsync(client, backend, done.Token);
        var down = CopyAsync(backend, client, done.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(up, down).ConfigureAwait(false);
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                await to.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                await to.FlushAsync(ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static byte[] RequestHead(HttpRequest request, IPEndPoint endpoint, string pathAndQuery)
    {
        var sb = new StringBuilder(512);
        sb.Append(request.Method).Append(' ').Append(pathAndQuery).Append(" HTTP/1.1\r\n");
        sb.Append("Host: ").Append(endpoint.ToString()).Append("\r\n");
        sb.Append("Connection: Upgrade\r\n");
        foreach (var (key, values) in request.Headers)
        {
            if (HopHeaders.Contains(key) || key.StartsWith(':'))
            {
                continue;
            }
            foreach (var v in values)
            {
                sb.Append(key).Append(": ").Append(v).Append("\r\n");
            }
        }
        sb.Append("\r\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    private static async Task RelayRefusalAsync(HttpContext ctx, Stream backend, HttpResponseHead head)
    {
        var length = long.TryParse(head.Header("Content-Length"), out var l) ? Math.Min(l, 64 * 1024) : 64 * 1024;
        var body = new MemoryStream();
        body.Write(head.Rest.Span[..(int)Math.Min(head.Rest.Length, length)]);
        var buffer = new byte[8192];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (body.Length < length)
            {
                var n = await backend.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - body.Length)), timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                body.Write(buffer, 0, n);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
        }
        ctx.Response.StatusCode = head.StatusCode;
        ctx.Response.ContentType = head.Header("Content-Type") ?? "text/plain; charset=utf-8";
        ctx.Response.ContentLength = body.Length;
        await ctx.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<string> ReadLimitedAsync(Stream stream, int limit, CancellationToken ct)
    {
        var buffer = new byte[limit];
        var filled = 0;
        while (filled < limit)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            filled += n;
        }
        return Encoding.UTF8.GetString(buffer, 0, filled).Trim();
    }

    public void Dispose() => _connector.Dispose();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "kubelet {Endpoint}: {Reason}")]
        public static partial void KubeletUnreachable(ILogger logger, string endpoint, string reason);
    }
}
