using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Client.Events;

/// <summary>
/// Records core/v1 Events about objects (client-go's EventRecorder + broadcaster, simplified): <see cref="Record"/>
/// never blocks the caller; a background loop writes. A repeat of the same (object, type, reason, message) within
/// <see cref="AggregationWindow"/> bumps <c>count</c> and <c>lastTimestamp</c> of the earlier Event with a merge
/// patch instead of creating another, so a flapping condition costs one object. Failed writes are logged and dropped,
/// like upstream: events are best effort.
/// </summary>
public sealed partial class EventRecorder
{
    /// <summary>How long a repeated event is folded into the earlier one (client-go: 10 minutes via its LRU).</summary>
    public static readonly TimeSpan AggregationWindow = TimeSpan.FromMinutes(10);

    private const int Capacity = 1000;

    private readonly Kubernetes _client;
    private readonly string _component;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Dictionary<(string?, string?, string?, string, string, string), Seen> _seen = [];

    public EventRecorder(Kubernetes client, string component, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(component);
        _client = client;
        _component = component;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>A reference to an object for <see cref="Record"/>; cached objects often lack kind/apiVersion, so they are given.</summary>
    public static V1ObjectReference Reference(IKubernetesObject<V1ObjectMeta> obj, string apiVersion, string kind)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return new V1ObjectReference
        {
            ApiVersion = apiVersion,
            Kind = kind,
            Name = obj.Metadata?.Name,
            NamespaceProperty = obj.Metadata?.NamespaceProperty,
            Uid = obj.Metadata?.Uid,
            ResourceVersion = obj.Metadata?.ResourceVersion,
        };
    }

    /// <summary>Queues an event (type "Normal" or "Warning"); dropped with a log line if the queue is full.</summary>
    public void Record(V1ObjectReference involved, string type, string reason, string message)
    {
        ArgumentNullException.ThrowIfNull(involved);
        if (!_pending.Writer.TryWrite(new Pending(involved, type, reason, message, _time.GetUtcNow().UtcDateTime)))
        {
            Log.Dropped(_logger, involved.NamespaceProperty, involved.Name, reason);
        }
    }

    /// <summary>Writes queued events until cancelled; run it alongside the component that records.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in _pending.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await WriteAsync(e, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpOperationException or HttpRequestException)
                {
                    Log.WriteFailed(_logger, ex, e.Involved.NamespaceProperty, e.Involved.Name, e.Reason);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(Pending e, CancellationToken ct)
    {
        var ns = string.IsNullOrEmpty(e.Involved.NamespaceProperty) ? "default" : e.Involved.NamespaceProperty;
        var key = (e.Involved.Uid, e.Involved.NamespaceProperty, e.Involved.Name, e.Type, e.Reason, e.Message);
        if (_seen.TryGetValue(key, out var seen) && e.At - seen.Last < AggregationWindow)
        {
            var count = seen.Count + 1;
            var patch = new JsonObject
            {
                ["count"] = count,
                ["lastTimestamp"] = e.At.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            };
            try
            {
                await _client.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), seen.Name, ns, cancellationToken: ct).ConfigureAwait(false);
                _seen[key] = seen with { Count = count, Last = e.At };
                return;
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // The earlier event expired or was deleted: start a new one.
            }
        }

        Prune(e.At);
        var name = string.Create(CultureInfo.InvariantCulture, $"{e.Involved.Name}.{(e.At - DateTime.UnixEpoch).Ticks * 100:x}");
        var ev = new Corev1Event
        {
            ApiVersion = "v1",
            Kind = "Event",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            InvolvedObject = e.Involved,
            Type = e.Type,
            Reason = e.Reason,
            Message = e.Message,
            Source = new V1EventSource { Component = _component },
            ReportingComponent = _component,
            ReportingInstance = _component,
            FirstTimestamp = e.At,
            LastTimestamp = e.At,
            Count = 1,
        };
        await _client.CoreV1.CreateNamespacedEventAsync(ev, ns, cancellationToken: ct).ConfigureAwait(false);
        _seen[key] = new Seen(name, 1, e.At);
    }

    // Bounded memory: forget events whose aggregation window has passed.
    private void Prune(DateTime now)
    {
        if (_seen.Count < 4096)
        {
            return;
        }
        foreach (var (k, v) in _seen.Where(kv => now - kv.Value.Last >= AggregationWindow).ToList())
        {
            _seen.Remove(k);
        }
    }

    private readonly record struct Pending(V1ObjectReference Involved, string Type, string Reason, string Message, DateTime At);

    private readonly record struct Seen(string Name, int Count, DateTime Last);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Event queue full, dropping event {Reason} for {Namespace}/{Name}")]
        public static partial void Dropped(ILogger logger, string? @namespace, string? name, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Writing event {Reason} for {Namespace}/{Name} failed")]
        public static partial void WriteFailed(ILogger logger, Exception exception, string? @namespace, string? name, string reason);
    }
}
