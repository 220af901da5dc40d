using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Switchboard.Client.Tests.Fakes;

/// <summary>One request the fake received: path and decoded query.</summary>
internal sealed record RecordedRequest(string Path, IReadOnlyDictionary<string, string> Query)
{
    public bool IsWatch => Query.TryGetValue("watch", out var w) && w == "true";

    public string? this[string name] => Query.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A scripted FAKE of the Kubernetes API for one resource (core/v1 services) — not Switchboard's API server.
/// Kestrel on 127.0.0.1:0 serving paginated JSON lists and newline-delimited watch streams from an in-memory
/// history, with hooks to close watches, expire resourceVersions (410 in-stream or as HTTP), fail requests,
/// expire continue tokens, send bookmarks and cut the "network" while history is compacted.
/// </summary>
internal sealed class FakeApiServer : IAsyncDisposable
{
    private const string Collection = "services";

    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, V1Service> _objects = new(StringComparer.Ordinal);
    private readonly List<(long Rv, string Namespace, string Line)> _history = [];
    private readonly List<WatchConnection> _watches = [];
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly Queue<int> _watchFailures = new();
    private readonly Queue<int> _listFailures = new();
    private readonly WebApplication _app;
    private long _rv = 100;
    private long _compactedRv;
    private int _expireContinueTokens;
    private bool _partitioned;
    private int _uid;

    private FakeApiServer(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Answer a too-old resourceVersion with HTTP 410 instead of a 200 stream holding an ERROR event.</summary>
    public bool ExpiredAsHttpStatus { get; set; }

    public string CurrentResourceVersion
    {
        get
        {
            lock (_lock)
            {
                return _rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public IReadOnlyList<RecordedRequest> ListRequests => [.. _requests.Where(r => !r.IsWatch)];

    public IReadOnlyList<RecordedRequest> WatchRequests => [.. _requests.Where(r => r.IsWatch)];

    public int OpenWatches
    {
        get
        {
            lock (_lock)
            {
                return _watches.Count;
            }
        }
    }

    public static async Task<FakeApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var server = new FakeApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.BaseUri = new Uri(address);
        return server;
    }

    /// <summary>A KubernetesClient pointed at the fake over plain HTTP, as a kubeconfig with an http:// server would give.</summary>
    public Kubernetes CreateClient() => new(new KubernetesClientConfiguration { Host = BaseUri.ToString() });

    public V1Service Upsert(string ns, string name, string? label = null)
    {
        lock (_lock)
        {
            var rv = ++_rv;
            var key = ns + "/" + name;
            var exists = _objects.TryGetValue(key, out var old);
            var obj = new V1Service
            {
                ApiVersion = "v1",
                Kind = "Service",
                Metadata = new V1ObjectMeta
                {
                    Name = name,
                    NamespaceProperty = ns,
                    Uid = exists ? old!.Metadata.Uid : "uid-" + (++_uid).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ResourceVersion = rv.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Labels = label is null ? null : new Dictionary<string, string> { ["app"] = label },
                },
            };
            _objects[key] = obj;
            Publish(rv, ns, Event(exists ? "MODIFIED" : "ADDED", obj));
            return obj;
        }
    }

    public V1Service Delete(string ns, string name)
    {
        lock (_lock)
        {
            var rv = ++_rv;
            var key = ns + "/" + name;
            var old = _objects[key];
            _objects.Remove(key);
            var gone = new V1Service
            {
                ApiVersion = "v1",
                Kind = "Service",
                Metadata = new V1ObjectMeta
                {
                    Name = name,
                    NamespaceProperty = ns,
                    Uid = old.Metadata.Uid,
                    ResourceVersion = rv.ToString(System.Globalization.CultureInfo.InvariantCulture),
                },
            };
            Publish(rv, ns, Event("DELETED", gone));
            return gone;
        }
    }

    public IReadOnlyList<V1Service> Objects(string ns)
    {
        lock (_lock)
        {
            return [.. _objects.Values.Where(o => o.Metadata.NamespaceProperty == ns)];
        }
    }

    /// <summary>Drops all history: a watch from any older resourceVersion now gets 410 Expired.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _compactedRv = _rv;
            _history.Clear();
        }
    }

    /// <summary>Ends every open watch normally (as the server does at timeoutSeconds).</summary>
    public void CloseWatches()
    {
        lock (_lock)
        {
            foreach (var w in _watches)
            {
                w.Lines.Writer.TryComplete();
            }
        }
    }

    /// <summary>Compacts history, then sends ERROR 410 Expired to every open watch and ends it.</summary>
    public void ExpireWatches()
    {
        lock (_lock)
        {
            _compactedRv = _rv;
            _history.Clear();
            foreach (var w in _watches)
            {
                w.Lines.Writer.TryWrite(ExpiredLine(w.ResourceVersion));
                w.Lines.Writer.TryComplete();
            }
        }
    }

    /// <summary>Sends a BOOKMARK at the current resourceVersion to watches that asked for bookmarks.</summary>
    public void SendBookmark()
    {
        lock (_lock)
        {
            foreach (var w in _watches.Where(w => w.Bookmarks))
            {
                w.Lines.Writer.TryWrite(BookmarkLine(_rv, initialEventsEnd: false));
            }
        }
    }

    /// <summary>Cuts the "network": open watches end and every request gets 503 until <see cref="Heal"/>.</summary>
    public void Partition()
    {
        lock (_lock)
        {
            _partitioned = true;
            foreach (var w in _watches)
            {
                w.Lines.Writer.TryComplete();
            }
        }
    }

    public void Heal()
    {
        lock (_lock)
        {
            _partitioned = false;
        }
    }

    public void FailNextWatches(int status, int count)
    {
        lock (_lock)
        {
            for (var i = 0; i < count; i++)
            {
                _watchFailures.Enqueue(status);
            }
        }
    }

    public void FailNextLists(int status, int count)
    {
        lock (_lock)
        {
            for (var i = 0; i < count; i++)
            {
                _listFailures.Enqueue(status);
            }
        }
    }

    /// <summary>The next list request carrying a continue token gets 410 Expired.</summary>
    public void ExpireNextContinueToken()
    {
        lock (_lock)
        {
            _expireContinueTokens++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        CloseWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var query = ctx.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        _requests.Enqueue(new RecordedRequest(ctx.Request.Path.Value ?? "", query));
        var segments = (ctx.Request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? ns = segments switch
        {
            ["api", "v1", Collection] => null,
            ["api", "v1", "namespaces", var n, Collection] => n,
            _ => "\0",
        };
        if (ns == "\0")
        {
            await WriteStatusAsync(ctx, 404, "NotFound", "not served by the fake");
            return;
        }

        int? failure;
        lock (_lock)
        {
            var isWatch = query.GetValueOrDefault("watch") == "true";
            failure = _partitioned ? 503 : (isWatch ? _watchFailures : _listFailures).TryDequeue(out var s) ? s : null;
        }

        if (failure is { } code)
        {
            await WriteStatusAsync(ctx, code, code == 503 ? "ServiceUnavailable" : "InternalError", "injected failure");
        }
        else if (query.GetValueOrDefault("watch") == "true")
        {
            await WatchAsync(ctx, ns, query);
        }
        else
        {
            await ListAsync(ctx, ns, query);
        }
    }

    private async Task ListAsync(HttpContext ctx, string? ns, Dictionary<string, string> query)
    {
        var list = Page(ns, query);
        if (list is null)
        {
            await WriteStatusAsync(ctx, 410, "Expired", "The provided continue parameter is too old");
            return;
        }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(KubernetesJson.Serialize(list));
    }

    /// <summary>One page of the list; continue = "snapshotRv:offset". Null when the token is to be expired.</summary>
    private V1ServiceList? Page(string? ns, Dictionary<string, string> query)
    {
        var limit = query.TryGetValue("limit", out var l) ? int.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : int.MaxValue;
        lock (_lock)
        {
            var snapshotRv = _rv;
            var offset = 0;
            if (query.TryGetValue("continue", out var token))
            {
                if (_expireContinueTokens > 0)
                {
                    _expireContinueTokens--;
                    return null;
                }

                var parts = token.Split(':');
                snapshotRv = long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
                offset = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            }

            var matching = _objects.Values.Where(o => ns is null || o.Metadata.NamespaceProperty == ns).ToList();
            var page = matching.Skip(offset).Take(limit).ToList();
            var more = offset + page.Count < matching.Count;
            return new V1ServiceList
            {
                ApiVersion = "v1",
                Kind = "ServiceList",
                Metadata = new V1ListMeta
                {
                    ResourceVersion = snapshotRv.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ContinueProperty = more ? $"{snapshotRv}:{offset + page.Count}" : null,
                },
                Items = page,
            };
        }
    }

    private async Task WatchAsync(HttpContext ctx, string? ns, Dictionary<string, string> query)
    {
        var bookmarks = query.GetValueOrDefault("allowWatchBookmarks") == "true";
        var sendInitial = query.GetValueOrDefault("sendInitialEvents") == "true";
        var rvText = query.GetValueOrDefault("resourceVersion");
        WatchConnection? conn = null;
        var expired = false;
        lock (_lock)
        {
            long? rv = string.IsNullOrEmpty(rvText) ? null : long.Parse(rvText, System.Globalization.CultureInfo.InvariantCulture);
            if (rv is { } from && from < _compactedRv)
            {
                expired = true;
            }
            else
            {
                conn = new WatchConnection(ns, rvText, bookmarks);
                if (rv is null)
                {
                    // RV unset: synthetic ADDED for the current state, like kube-apiserver ("start at most recent").
                    foreach (var o in _objects.Values.Where(o => ns is null || o.Metadata.NamespaceProperty == ns))
                    {
                        conn.Lines.Writer.TryWrite(Event("ADDED", o));
                    }

                    if (sendInitial && bookmarks)
                    {
                        conn.Lines.Writer.TryWrite(BookmarkLine(_rv, initialEventsEnd: true));
                    }
                }
                else
                {
                    foreach (var (_, _, line) in _history.Where(h => h.Rv > rv && (ns is null || h.Namespace == ns)))
                    {
                        conn.Lines.Writer.TryWrite(line);
                    }
                }

                _watches.Add(conn);
            }
        }

        if (expired && ExpiredAsHttpStatus)
        {
            await WriteStatusAsync(ctx, 410, "Expired", $"too old resource version: {rvText} ({_compactedRv})");
            return;
        }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync();
        await ctx.Response.Body.FlushAsync();
        if (expired)
        {
            await WriteLineAsync(ctx, ExpiredLine(rvText));
            return;
        }

        try
        {
            await foreach (var line in conn!.Lines.Reader.ReadAllAsync(ctx.RequestAborted))
            {
                await WriteLineAsync(ctx, line);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            lock (_lock)
            {
                _watches.Remove(conn!);
            }
        }
    }

    private void Publish(long rv, string ns, string line)
    {
        _history.Add((rv, ns, line));
        foreach (var w in _watches.Where(w => w.Namespace is null || w.Namespace == ns))
        {
            w.Lines.Writer.TryWrite(line);
        }
    }

    private static async Task WriteLineAsync(HttpContext ctx, string line)
    {
        await ctx.Response.WriteAsync(line + "\n");
        await ctx.Response.Body.FlushAsync();
    }

    private static Task WriteStatusAsync(HttpContext ctx, int code, string reason, string message)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(Status(code, reason, message));
    }

    // Written by hand: KubernetesClient 21.0.8's V1Status converter cannot serialize (Write throws NotImplementedException).
    private static string Status(int code, string reason, string message) => JsonSerializer.Serialize(new
    {
        kind = "Status",
        apiVersion = "v1",
        metadata = new { },
        status = "Failure",
        message,
        reason,
        code,
    });

    private static string Event(string type, object obj) => EventJson(type, KubernetesJson.Serialize(obj));

    private static string EventJson(string type, string objectJson) =>
        "{\"type\":\"" + type + "\",\"object\":" + objectJson + "}";

    private string ExpiredLine(string? rv) =>
        EventJson("ERROR", Status(410, "Expired", $"too old resource version: {rv} ({_compactedRv})"));

    private static string BookmarkLine(long rv, bool initialEventsEnd) => Event("BOOKMARK", new V1Service
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta
        {
            ResourceVersion = rv.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Annotations = initialEventsEnd ? new Dictionary<string, string> { ["k8s.io/initial-events-end"] = "true" } : null,
        },
    });

    private sealed record WatchConnection(string? Namespace, string? ResourceVersion, bool Bookmarks)
    {
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    }
}
