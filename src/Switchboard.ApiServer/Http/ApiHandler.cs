using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Schema;
using Switchboard.ApiServer.Discovery;
using Switchboard.ApiServer.Metrics;
using Switchboard.ApiServer.Registry;
using Switchboard.ApiServer.Security;
using Switchboard.ApiServer.Watch;

namespace Switchboard.ApiServer.Http;

/// <summary>
/// The whole REST surface in one dispatcher: health, version, discovery, OpenAPI, metrics and resources.
/// Every failure is answered with a Kubernetes Status.
/// </summary>
internal sealed partial class ApiHandler
{
    private readonly ApiRegistry _registry;
    private readonly DiscoveryDocuments _discovery;
    private readonly OpenApiDocuments _openApi;
    private readonly BearerAuthenticator _auth;
    private readonly ServiceAccountTokens _tokens;
    private readonly FieldValidator _fieldValidator;
    private readonly ApiMetrics _metrics;
    private readonly WatchStreamer _watch;
    private readonly ApiServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly byte[] _version;
    private volatile bool _ready;

    public ApiHandler(ApiRegistry registry, DiscoveryDocuments discovery, OpenApiDocuments openApi, BearerAuthenticator auth,
        ServiceAccountTokens tokens, FieldValidator fieldValidator, ApiMetrics metrics, WatchStreamer watch, ApiServerOptions options, TimeProvider time, ILogger logger, byte[] version)
    {
        _registry = registry;
        _discovery = discovery;
        _openApi = openApi;
        _auth = auth;
        _tokens = tokens;
        _fieldValidator = fieldValidator;
        _metrics = metrics;
        _watch = watch;
        _options = options;
        _time = time;
        _logger = logger;
        _version = version;
    }

    /// <summary>Serves pods/exec|attach|log|portforward by proxying to the Pod's kubelet (Proxy/).</summary>
    public Proxy.PodStreamProxy? PodProxy { get; init; }

    /// <summary>Set once the bootstrap objects exist; /readyz answers 200 from then on.</summary>
    public void MarkReady() => _ready = true;

    public async Task HandleAsync(HttpContext ctx)
    {
        var started = Stopwatch.GetTimestamp();
        var verb = ctx.Request.Method;
        var resource = "";
        try
        {
            var path = ctx.Request.Path.Value ?? "/";
            if (!Authenticate(ctx, path))
            {
                throw ApiException.Unauthorized();
            }
            var info = RequestInfo.Parse(path);
            if (info is not null)
            {
                resource = info.Resource;
                verb = await HandleResourceAsync(ctx, info).ConfigureAwait(false);
            }
            else
            {
                await HandleNonResourceAsync(ctx, path).ConfigureAwait(false);
            }
        }
        catch (ApiException e)
        {
            await WriteStatusAsync(ctx, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (BadHttpRequestException e)
        {
            await WriteStatusAsync(ctx, e.StatusCode == 413 ? ApiException.TooLarge() : ApiException.BadRequest(e.Message)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The API must answer every unexpected failure with a Status, never drop the connection.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.UnhandledError(_logger, ctx.Request.Method, ctx.Request.Path.Value ?? "", e);
            await WriteStatusAsync(ctx, ApiException.Internal(e.Message)).ConfigureAwait(false);
        }
        finally
        {
            _metrics.Observe(verb, resource, ctx.Response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
    }

    private bool Authenticate(HttpContext ctx, string path)
    {
        var result = _auth.Authenticate(ctx.Request.Headers.Authorization.ToString());
        if (result.IsAuthenticated)
        {
            return true;
        }
        if (result.Status == AuthStatus.Rejected)
        {
            // A bad token is refused even where anonymous reads are allowed, as upstream.
            return false;
        }
        // Upstream lets anonymous clients read health and version.
        return HttpMethods.IsGet(ctx.Request.Method) && path is "/healthz" or "/livez" or "/readyz" or "/version" or "/healthz/" or "/readyz/" or "/livez/";
    }

    private async Task HandleNonResourceAsync(HttpContext ctx, string path)
    {
        var accept = ctx.Request.Headers.Accept.ToString();
        switch (path.TrimEnd('/'))
        {
            case "/healthz" or "/livez":
                await WriteTextAsync(ctx, 200, "ok").ConfigureAwait(false);
                return;
            case "/readyz":
                if (_ready)
                {
                    await WriteTextAsync(ctx, 200, "ok").ConfigureAwait(false);
                }
                else
                {
                    await WriteTextAsync(ctx, 500, "[-]bootstrap failed: not finished\nreadyz check failed").ConfigureAwait(false);
                }
                return;
            case "/version":
                await WriteJsonAsync(ctx, 200, _version).ConfigureAwait(false);
                return;
            case "/metrics":
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await ctx.Response.WriteAsync(_metrics.Render(_registry), ctx.RequestAborted).ConfigureAwait(false);
                return;
            case "/api":
                if (MediaTypes.WantsAggregatedDiscovery(accept))
                {
                    await WriteBytesAsync(ctx, 200, MediaTypes.AggregatedDiscovery, _discovery.AggregatedCore).ConfigureAwait(false);
                }
                else
                {
                    await WriteJsonAsync(ctx, 200, _discovery.LegacyCore).ConfigureAwait(false);
                }
                return;
            case "/apis":
                if (MediaTypes.WantsAggregatedDiscovery(accept))
                {
                    await WriteBytesAsync(ctx, 200, MediaTypes.AggregatedDiscovery, _discovery.AggregatedGroups).ConfigureAwait(false);
                }
                else
                {
                    await WriteJsonAsync(ctx, 200, _discovery.LegacyGroups).ConfigureAwait(false);
                }
                return;
            case "/openapi/v3":
                await WriteJsonAsync(ctx, 200, _openApi.Index.ToArray()).ConfigureAwait(false);
                return;
            default:
                break;
        }
        if (path.StartsWith("/openapi/v3/", StringComparison.Ordinal) && _openApi.TryGet(path["/openapi/v3/".Length..].TrimEnd('/'), out var doc, out var hash))
        {
            ctx.Response.Headers.ETag = "\"" + hash + "\"";
            // Documents are addressed by hash, so clients may cache them for long.
            ctx.Response.Headers.CacheControl = ctx.Request.Query.ContainsKey("hash") ? "public, immutable" : "no-cache, private";
            await WriteJsonAsync(ctx, 200, doc.ToArray()).ConfigureAwait(false);
            return;
        }
        if (_discovery.TryGetLegacy(path, out var list))
        {
            await WriteJsonAsync(ctx, 200, list).ConfigureAwait(false);
            return;
        }
        throw ApiException.NotFoundPath();
    }

    // ---- response helpers ----

    internal static async Task WriteStatusAsync(HttpContext ctx, ApiException e)
    {
        if (ctx.Response.HasStarted)
        {
            return;
        }
        ctx.Response.Clear();
        if (e.RetryAfterSeconds is int retry)
        {
            ctx.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            e.WriteStatus(w);
        }
        await WriteBytesAsync(ctx, e.Code, MediaTypes.Json, buffer.WrittenMemory).ConfigureAwait(false);
    }

    private static Task WriteTextAsync(HttpContext ctx, int code, string text)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        return ctx.Response.WriteAsync(text, ctx.RequestAborted);
    }

    internal static Task WriteJsonAsync(HttpContext ctx, int code, ReadOnlyMemory<byte> body) => WriteBytesAsync(ctx, code, MediaTypes.Json, body);

    internal static async Task WriteBytesAsync(HttpContext ctx, int code, string contentType, ReadOnlyMemory<byte> body)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = contentType;
        ctx.Response.ContentLength = body.Length;
        await ctx.Response.Body.WriteAsync(body, ctx.RequestAborted).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "unhandled error serving {Method} {Path}")]
        public static partial void UnhandledError(ILogger logger, string method, string path, Exception exception);
    }
}
