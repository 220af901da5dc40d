using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;

namespace Switchboard.Controllers.LoadBalancer;

/// <summary>
/// The built-in cloud provider's service controller (ARCHITECTURE.md §2 "LoadBalancer on one machine"; runs only
/// in `up`, like cloud-provider-kind): a Service of type LoadBalancer without spec.loadBalancerClass gets one
/// ingress IP per ipFamily from the LB pool (spec.loadBalancerIP honoured when free and in the pool), the
/// finalizer service.kubernetes.io/load-balancer-cleanup, and the Events upstream's service controller emits.
/// Leaving type LoadBalancer or deletion releases the IPs, clears status and drops the finalizer. One worker, so
/// the pool needs no locking; at start the pool is rebuilt from the stored statuses before anything is allocated.
/// Routing the IPs and publishing them on the host is the `up` process's job (it watches the statuses).
/// </summary>
internal sealed partial class LoadBalancerController : IDisposable
{
    public const string CleanupFinalizer = "service.kubernetes.io/load-balancer-cleanup";

    private readonly Kubernetes _client;
    private readonly LoadBalancerPool _pool;
    private readonly SharedInformer<V1Service> _services;
    private readonly RateLimitingQueue<string> _queue;
    private readonly EventRecorder _recorder;
    private readonly ILogger _logger;
    private readonly IDisposable _registration;

    public LoadBalancerController(SharedInformerFactory informers, Kubernetes client, string pool, ILoggerFactory loggers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _pool = new LoadBalancerPool(pool);
        _logger = loggers.CreateLogger<LoadBalancerController>();
        _queue = new RateLimitingQueue<string>(time, RateLimiters.WithBase<string>(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), time));
        _recorder = new EventRecorder(client, "service-controller", _logger, time);
        _services = informers.Informer<V1Service>();
        _registration = _services.AddEventHandler(new ResourceEventHandler<V1Service>(
            s => _queue.Add(Key(s)), (_, s) => _queue.Add(Key(s)), s => _queue.Add(Key(s))));
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await _services.WaitForSyncAsync(ct).ConfigureAwait(false);
            // Re-adopt what earlier runs handed out, so nothing is given out twice.
            foreach (var svc in _services.Lister.List().OrderBy(s => s.Metadata.CreationTimestamp))
            {
                if (Wants(svc))
                {
                    foreach (var ip in IngressIps(svc))
                    {
                        _pool.TryReserve(ip, Key(svc));
                    }
                }
            }
            await _queue.RunWorkersAsync(1, SyncAsync, Retry, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            try
            {
                await events.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        _queue.Dispose();
    }

    private static string Key(V1Service s) => s.Metadata.NamespaceProperty + "/" + s.Metadata.Name;

    /// <summary>Upstream's wantsLoadBalancer, minus Services another implementation claims by class.</summary>
    private static bool Wants(V1Service s) =>
        s.Spec?.Type == "LoadBalancer" && s.Spec.LoadBalancerClass is null && s.Metadata.DeletionTimestamp is null;

    private static List<IPAddress> IngressIps(V1Service s) =>
        [.. (s.Status?.LoadBalancer?.Ingress ?? []).Select(i => IPAddress.TryParse(i.Ip, out var ip) ? ip : null).OfType<IPAddress>()];

    private async Task SyncAsync(string key, CancellationToken ct)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var (ns, name) = (key[..slash], key[(slash + 1)..]);
        if (!_services.Lister.TryGet(ns, name, out var svc) || svc is null)
        {
            foreach (var ip in _heldBy.GetValueOrDefault(key) ?? [])
            {
                _pool.Release(ip, key);
            }
            _heldBy.Remove(key);
            return;
        }
        if (Wants(svc))
        {
            await EnsureAsync(key, svc, ct).ConfigureAwait(false);
        }
        else
        {
            await CleanupAsync(key, svc, ct).ConfigureAwait(false);
        }
    }

    private readonly Dictionary<string, List<IPAddress>> _heldBy = new(StringComparer.Ordinal);

    private async Task EnsureAsync(string key, V1Service svc, CancellationToken ct)
    {
        var reference = EventRecorder.Reference(svc, "v1", "Service");
        if (svc.Metadata.Finalizers?.Contains(CleanupFinalizer) != true)
        {
            var copy = Clone(svc);
            copy.Metadata.Finalizers = [.. copy.Metadata.Finalizers ?? [], CleanupFinalizer];
            svc = await _client.CoreV1.ReplaceNamespacedServiceAsync(copy, copy.Metadata.Name, copy.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        }

        var families = (svc.Spec.IpFamilies is { Count: > 0 } f ? f : ["IPv4"])
            .Select(x => x == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork).ToList();
        var current = IngressIps(svc);
        var chosen = new List<IPAddress>();
        var requested = IPAddress.TryParse(svc.Spec.LoadBalancerIP, out var r) ? r : null;
        foreach (var family in families)
        {
            // Keep what the Service holds (after a restart the pool was rebuilt from it), else the requested IP, else the next free one.
            var keep = current.FirstOrDefault(ip => ip.AddressFamily == family && _pool.TryReserve(ip, key));
            if (keep is null && requested?.AddressFamily == family)
            {
                if (_pool.TryReserve(requested, key))
                {
                    keep = requested;
                }
                else
                {
                    _recorder.Record(reference, "Warning", "SyncLoadBalancerFailed", $"Error syncing load balancer: failed to ensure load balancer: loadBalancerIP {requested} is not free in the load balancer pool");
                    continue;
                }
            }
            keep ??= _pool.Allocate(family, key);
            if (keep is null)
            {
                if (_pool.HasFamily(family))
                {
                    _recorder.Record(reference, "Warning", "SyncLoadBalancerFailed", $"Error syncing load balancer: failed to ensure load balancer: no free {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address left in the load balancer pool");
                }
                continue;
            }
            chosen.Add(keep);
        }
        foreach (var stale in (_heldBy.GetValueOrDefault(key) ?? []).Concat(current).Where(ip => !chosen.Contains(ip)).ToList())
        {
            _pool.Release(stale, key);
        }
        _heldBy[key] = chosen;

        if (current.SequenceEqual(chosen))
        {
            return;
        }
        _recorder.Record(reference, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer");
        var existing = svc.Status?.LoadBalancer?.Ingress ?? [];
        var status = Clone(svc);
        status.Status ??= new V1ServiceStatus();
        status.Status.LoadBalancer = new V1LoadBalancerStatus
        {
            // Entries whose IP stays keep their ports[] (the host publisher writes bind errors there).
            Ingress = [.. chosen.Select(ip => existing.FirstOrDefault(e => e.Ip == ip.ToString()) ?? new V1LoadBalancerIngress { Ip = ip.ToString(), IpMode = "VIP" })],
        };
        await _client.CoreV1.ReplaceNamespacedServiceStatusAsync(status, svc.Metadata.Name, svc.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        _recorder.Record(reference, "Normal", "EnsuredLoadBalancer", "Ensured load balancer");
        Log.Ensured(_logger, key, chosen);
    }

    private async Task CleanupAsync(string key, V1Service svc, CancellationToken ct)
    {
        var reference = EventRecorder.Reference(svc, "v1", "Service");
        var held = IngressIps(svc).Where(ip => _pool.OwnerOf(ip) == key).ToList();
        var hadFinalizer = svc.Metadata.Finalizers?.Contains(CleanupFinalizer) == true;
        if (held.Count > 0 || (hadFinalizer && svc.Status?.LoadBalancer?.Ingress is { Count: > 0 }))
        {
            _recorder.Record(reference, "Normal", "DeletingLoadBalancer", "Deleting load balancer");
            var status = Clone(svc);
            status.Status ??= new V1ServiceStatus();
            status.Status.LoadBalancer = new V1LoadBalancerStatus();
            svc = await _client.CoreV1.ReplaceNamespacedServiceStatusAsync(status, svc.Metadata.Name, svc.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            _recorder.Record(reference, "Normal", "DeletedLoadBalancer", "Deleted load balancer");
        }
        foreach (var ip in held.Concat(_heldBy.GetValueOrDefault(key) ?? []))
        {
            _pool.Release(ip, key);
        }
        _heldBy.Remove(key);
        if (hadFinalizer)
        {
            var copy = Clone(svc);
            copy.Metadata.Finalizers = [.. copy.Metadata.Finalizers!.Where(f => f != CleanupFinalizer)];
            await _client.CoreV1.ReplaceNamespacedServiceAsync(copy, copy.Metadata.Name, copy.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            Log.Released(_logger, key);
        }
    }

    // Informer objects are shared with the cache: never mutate them.
    private static V1Service Clone(V1Service s) => KubernetesJson.Deserialize<V1Service>(KubernetesJson.Serialize(s));

    private bool Retry(string key, Exception e)
    {
        Log.SyncFailed(_logger, key, e.Message);
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "load balancer for {Service}: {Ips}")]
        public static partial void Ensured(ILogger logger, string service, IReadOnlyList<IPAddress> ips);

        [LoggerMessage(Level = LogLevel.Information, Message = "load balancer for {Service} released")]
        public static partial void Released(ILogger logger, string service);

        [LoggerMessage(Level = LogLevel.Warning, Message = "load balancer sync of {Service} failed, retrying: {Error}")]
        public static partial void SyncFailed(ILogger logger, string service, string error);
    }
}
