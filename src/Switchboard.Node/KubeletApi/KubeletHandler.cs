using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// Routes and answers kubelet API requests. Errors are plain text with upstream's status codes and wording, which
/// the API server turns into a Status (GenericHttpResponseChecker) or relays.
/// </summary>
internal sealed partial class KubeletHandler
{
    private readonly ClientCertificateAuthorizer _auth;
    private readonly IContainerLocator _locator;
    private readonly IExecLauncher _launcher;
    private readonly ContainerLogStreamer _logs;
    private readonly ILogger _logger;
    private readonly PortForwarder _portForwarder;

    public KubeletHandler(ClientCertificateAuthorizer auth, IContainerLocator locator, IExecLauncher launcher, ContainerLogStreamer logs, ILogger logger)
    {
        _portForwarder = new PortForwarder(logger);
        _auth = auth;
        _locator = locator;
        _launcher = launcher;
        _logs = logs;
        _logger = logger;
    }

    public async Task HandleAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        var decision = _auth.Check(ctx.Connection.ClientCertificate, ctx.Request.Method, path);
        if (!decision.Allowed)
        {
            Log.Refused(_logger, decision.StatusCode, decision.User ?? "(none)", path);
            await TextAsync(ctx, decision.StatusCode, decision.Message).ConfigureAwait(false);
            return;
        }
        var route = KubeletRoute.Parse(path);
        try
        {
            switch (route?.Endpoint)
            {
                case KubeletEndpoint.Healthz:
                    await TextAsync(ctx, 200, "ok").ConfigureAwait(false);
                    return;
                case KubeletEndpoint.ContainerLogs when HttpMethods.IsGet(ctx.Request.Method):
                    await ContainerLogsAsync(ctx, route).ConfigureAwait(false);
                    return;
                case KubeletEndpoint.Exec or KubeletEndpoint.Attach when HttpMethods.IsGet(ctx.Request.Method) || HttpMethods.IsPost(ctx.Request.Method):
                    await StreamAsync(ctx, route).ConfigureAwait(false);
                    return;
                case KubeletEndpoint.PortForward when HttpMethods.IsGet(ctx.Request.Method) || HttpMethods.IsPost(ctx.Request.Method):
                    await PortForwardAsync(ctx, route).ConfigureAwait(false);
                    return;
                case null:
                    await TextAsync(ctx, 404, "404 page not found").ConfigureAwait(false);
                    return;
                default:
                    await TextAsync(ctx, 405, "405: Method Not Allowed").ConfigureAwait(false);
                    return;
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (IOException e) when (ctx.Response.HasStarted)
        {
            Log.StreamFailed(_logger, path, e.Message);
        }
    }

    private async Task ContainerLogsAsync(HttpContext ctx, KubeletRoute route)
    {
        var request = LogRequest.Parse(k => ctx.Request.Query.TryGetValue(k, out var v) ? v.ToString() : null, out var error);
        if (error is not null)
        {
            await TextAsync(ctx, error.StartsWith("Unable to decode", StringComparison.Ordinal) ? 400 : 422, error).ConfigureAwait(false);
            return;
        }
        var view = _locator.Find(route.Namespace, route.Pod, route.Container);
        if (view is null)
        {
            await TextAsync(ctx, 404, $"container \"{route.Container}\" in pod \"{route.Pod}\" not found on this node").ConfigureAwait(false);
            return;
        }
        var path = request.Previous ? view.PreviousLog : view.CurrentLog;
        if (path is null)
        {
            await TextAsync(ctx, 400, request.Previous
                ? $"previous terminated container \"{route.Container}\" in pod \"{route.Pod}\" not found"
                : $"container \"{route.Container}\" in pod \"{route.Pod}\" is waiting to start: ContainerCreating").ConfigureAwait(false);
            return;
        }
        if (!File.Exists(path))
        {
            await TextAsync(ctx, 400, $"log of container \"{route.Container}\" in pod \"{route.Pod}\" is gone ({path})").ConfigureAwait(false);
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain";
        await ctx.Response.StartAsync(ctx.RequestAborted).ConfigureAwait(false);
        await _logs.CopyAsync(view, path, request, ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    private async Task StreamAsync(HttpContext ctx, KubeletRoute route)
    {
        var view = _locator.Find(route.Namespace, route.Pod, route.Container);
        if (view is null || (route.PodUid is not null && route.PodUid != view.PodUid))
        {
            await TextAsync(ctx, 404, $"container \"{route.Container}\" in pod \"{route.Pod}\" not found on this node").ConfigureAwait(false);
            return;
        }
        var exec = route.Endpoint == KubeletEndpoint.Exec;
        var request = StreamRequest.Parse(k => ctx.Request.Query.TryGetValue(k, out var v) ? [.. v.Select(x => x ?? "")] : []);
        if (request.Validate(exec) is { } invalid)
        {
            await TextAsync(ctx, 400, invalid).ConfigureAwait(false);
            return;
        }
        if (!view.Running)
        {
            await TextAsync(ctx, 400, $"container \"{route.Container}\" in pod \"{route.Pod}\" is not running").ConfigureAwait(false);
            return;
        }
        Func<TerminalSize?, IStreamedProcess> start = size => exec ? _launcher.Start(view, request, size) : new LogAttachProcess(_logs, view, request.Stdin);
        if (!ctx.WebSockets.IsWebSocketRequest)
        {
            await SpdyStreamAsync(ctx, request, start).ConfigureAwait(false);
            return;
        }
        var protocol = StreamProtocol.Negotiate(ctx.WebSockets.WebSocketRequestedProtocols);
        if (protocol is null)
        {
            await TextAsync(ctx, 400, "unable to upgrade connection: none of the requested subprotocols is supported (v5.channel.k8s.io, v4.channel.k8s.io)").ConfigureAwait(false);
            return;
        }
        using var ws = await ctx.WebSockets.AcceptWebSocketAsync(protocol).ConfigureAwait(false);
        using var session = new StreamSession(ws, protocol, request, _logger);
        Log.StreamStarted(_logger, exec ? "exec" : "attach", route.Namespace, route.Pod, route.Container, protocol, request.Tty);
        await session.RunAsync(start, request.Command, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>exec/attach over a SPDY/3.1 upgrade, with upstream's protocol negotiation (403 when none matches).</summary>
    private async Task SpdyStreamAsync(HttpContext ctx, StreamRequest request, Func<TerminalSize?, IStreamedProcess> start)
    {
        var upgrade = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest || !ctx.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase))
        {
            await TextAsync(ctx, 400, "Upgrade request required").ConfigureAwait(false);
            return;
        }
        var offered = ctx.Request.Headers["X-Stream-Protocol-Version"].Select(v => v ?? "").ToList();
        var protocol = SpdyRemoteCommand.Negotiate(offered);
        if (protocol is null)
        {
            ctx.Response.Headers["X-Accepted-Stream-Protocol-Versions"] = string.Join(", ", SpdyRemoteCommand.Protocols);
            await TextAsync(ctx, 403, $"unable to upgrade: unable to negotiate protocol: client supports [{string.Join(' ', offered)}], server supports [{string.Join(' ', SpdyRemoteCommand.Protocols)}]").ConfigureAwait(false);
            return;
        }
        ctx.Response.Headers.Upgrade = "SPDY/3.1";
        ctx.Response.Headers["X-Stream-Protocol-Version"] = protocol;
        Log.StreamStarted(_logger, "stream", "", "", "", "SPDY/3.1 " + protocol, request.Tty);
        await using var stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
        await new SpdyRemoteCommand(_logger).RunAsync(stream, request, start, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// /portForward/{ns}/{pod}: SPDY/3.1 either tunnelled in a WebSocket ("SPDY/3.1+portforward.k8s.io", kubectl's
    /// first choice) or as a plain HTTP upgrade (its fallback). The locator finds containers, not Pods, so the API
    /// server names one of the Pod's containers in <c>container</c> (a Switchboard addition; the network namespace is
    /// the Pod's either way).
    /// </summary>
    private async Task PortForwardAsync(HttpContext ctx, KubeletRoute route)
    {
        var container = ctx.Request.Query["container"].ToString();
        var view = container.Length == 0 ? null : _locator.Find(route.Namespace, route.Pod, container);
        if (view is null || (route.PodUid is not null && route.PodUid != view.PodUid))
        {
            await TextAsync(ctx, 404, $"pod \"{route.Pod}\" not found on this node").ConfigureAwait(false);
            return;
        }
        if (ctx.WebSockets.IsWebSocketRequest)
        {
            if (!ctx.WebSockets.WebSocketRequestedProtocols.Contains(PortForwarder.WebSocketProtocol, StringComparer.OrdinalIgnoreCase))
            {
                await TextAsync(ctx, 400, "unable to upgrade: no tunneling spdy protocols provided").ConfigureAwait(false);
                return;
            }
            // .NET refuses '/' in a subprotocol name (not an HTTP token character), gorilla and kubectl use it: the
            // handshake (RFC 6455 §4.2.2) is done here and the upgraded stream wrapped as a server WebSocket.
            var wsUpgrade = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>();
            var key = ctx.Request.Headers["Sec-WebSocket-Key"].ToString();
            if (wsUpgrade is null || !wsUpgrade.IsUpgradableRequest || key.Length == 0)
            {
                await TextAsync(ctx, 400, "unable to upgrade: not a WebSocket handshake over HTTP/1.1").ConfigureAwait(false);
                return;
            }
            ctx.Response.Headers.Upgrade = "websocket";
            ctx.Response.Headers["Sec-WebSocket-Accept"] = WebSocketAccept(key);
            ctx.Response.Headers["Sec-WebSocket-Protocol"] = PortForwarder.WebSocketProtocol;
            var raw = await wsUpgrade.UpgradeAsync().ConfigureAwait(false);
            using var ws = System.Net.WebSockets.WebSocket.CreateFromStream(raw, new System.Net.WebSockets.WebSocketCreationOptions
            {
                IsServer = true,
                KeepAliveInterval = TimeSpan.FromSeconds(30),
            });
            await using var transport = new WebSocketByteStream(ws);
            await _portForwarder.ServeAsync(transport, view, ctx.RequestAborted).ConfigureAwait(false);
            if (ws.State == System.Net.WebSockets.WebSocketState.Open)
            {
                await ws.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
            }
            return;
        }
        var upgrade = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>();
        var spdy = ctx.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase);
        var versions = ctx.Request.Headers["X-Stream-Protocol-Version"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries));
        if (upgrade is null || !upgrade.IsUpgradableRequest || !spdy)
        {
            await TextAsync(ctx, 400, "Upgrade request required").ConfigureAwait(false);
            return;
        }
        if (!versions.Contains(PortForwarder.Protocol, StringComparer.Ordinal))
        {
            ctx.Response.Headers["X-Accepted-Stream-Protocol-Versions"] = PortForwarder.Protocol;
            await TextAsync(ctx, 403, $"unable to upgrade: unable to negotiate protocol: client supports {string.Join(',', versions)}, server supports [{PortForwarder.Protocol}]").ConfigureAwait(false);
            return;
        }
        ctx.Response.Headers.Upgrade = "SPDY/3.1";
        ctx.Response.Headers["X-Stream-Protocol-Version"] = PortForwarder.Protocol;
        await using var stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
        await _portForwarder.ServeAsync(stream, view, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Sec-WebSocket-Accept: base64(SHA-1(key + the RFC 6455 GUID)).</summary>
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 here; it is a handshake check, not security.
    internal static string WebSocketAccept(string key) =>
        Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350

    private static Task TextAsync(HttpContext ctx, int code, string text)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        ctx.Response.ContentLength = bytes.Length;
        return ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted).AsTask();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "kubelet API refused {Code} for {User} on {Path}")]
        public static partial void Refused(ILogger logger, int code, string user, string path);

        [LoggerMessage(Level = LogLevel.Information, Message = "{Kind} {Namespace}/{Pod}/{Container} over {Protocol} (tty {Tty})")]
        public static partial void StreamStarted(ILogger logger, string kind, string @namespace, string pod, string container, string protocol, bool tty);

        [LoggerMessage(Level = LogLevel.Debug, Message = "stream of {Path} ended: {Reason}")]
        public static partial void StreamFailed(ILogger logger, string path, string reason);
    }
}
