using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;
using Switchboard.Controllers.EndpointSlices;

namespace Switchboard.Controllers.Endpoints;

/// <summary>
/// Upstream's core/v1 Endpoints controller (pkg/controller/endpoint, v1.33): one Endpoints object per Service with
/// a selector, named like the Service, listing the selected pods' addresses of the Service's primary IP family,
/// ready ones in <c>addresses</c> and the rest in <c>notReadyAddresses</c>, at most 1000. Still read by
/// <c>kubectl describe service</c> and older tools. Shares the Service and Pod informers with the EndpointSlice
/// controller.
/// </summary>
internal sealed partial class EndpointsController : IDisposable
{
    private const string LeaderAnnotation = "control-plane.alpha.kubernetes.io/leader";

    private readonly Kubernetes _client;
    private readonly ILogger _logger;
    private readonly SharedInformer<V1Service> _services;
    private readonly SharedInformer<V1Pod> _pods;
    private readonly SharedInformer<V1Endpoints> _endpoints;
    private readonly RateLimitingQueue<string> _queue;
    private readonly TriggerTimeTracker _triggers = new();
    private readonly EventRecorder _recorder;
    private readonly List<IDisposable> _registrations = [];
    private readonly Lock _staleLock = new();
    private readonly Dictionary<string, string?> _staleVersions = new(StringComparer.Ordinal);
    private readonly int _workers;
    private readonly TimeSpan _batchPeriod;

    public EndpointsController(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time, int workers = 5, TimeSpan? batchPeriod = null)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _client = client;
        _workers = workers;
        _batchPeriod = batchPeriod ?? TimeSpan.Zero;
        _logger = loggers.CreateLogger<EndpointsController>();
        _queue = new RateLimitingQueue<string>(time);
        _recorder = new EventRecorder(client, "endpoint-controller", _logger, time);

        _services = informers.Informer<V1Service>();
        _services.AddIndex(ServiceMembership.SelectorIndex, ServiceMembership.IndexBySelector);
        _pods = informers.Informer<V1Pod>();
        _pods.AddIndex(Indexers.NamespaceLabel, Indexers.ByNamespaceLabel);
        _endpoints = informers.Informer<V1Endpoints>();

        _registrations.Add(_services.AddEventHandler(new ResourceEventHandler<V1Service>(
            s => _queue.Add(KeyOf(s)), (_, s) => _queue.Add(KeyOf(s)), s => _queue.Add(KeyOf(s)))));
        _registrations.Add(_pods.AddEventHandler(new ResourceEventHandler<V1Pod>(OnPodAdd, OnPodUpdate, OnPodAdd)));
        // Only deletions of Endpoints matter: a deleted object of a live Service is recreated.
        _registrations.Add(_endpoints.AddEventHandler(new ResourceEventHandler<V1Endpoints>(onDelete: e => _queue.Add(KeyOf(e)))));
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await Task.WhenAll(_services.WaitForSyncAsync(ct), _pods.WaitForSyncAsync(ct), _endpoints.WaitForSyncAsync(ct)).ConfigureAwait(false);
            CheckLeftoverEndpoints();
            Log.Started(_logger, _workers);
            await _queue.RunWorkersAsync(_workers, SyncAsync, Retry, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.ShutDown();
            await events.ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
        _queue.Dispose();
    }

    /// <summary>Queues every existing Endpoints once at start, so objects whose Service went while we were down are deleted.</summary>
    private void CheckLeftoverEndpoints()
    {
        foreach (var ep in _endpoints.Store.Snapshot())
        {
            // Leader-election records of old components live in Endpoints without a Service: leave them.
            if (ep.Metadata.Annotations?.ContainsKey(LeaderAnnotation) == true)
            {
                continue;
            }
            _queue.Add(KeyOf(ep));
        }
    }

    private bool Retry(string key, Exception e)
    {
        if (_queue.NumRequeues(key) < 15)
        {
            Log.Retrying(_logger, key, e.Message);
            return true;
        }
        Log.Dropped(_logger, key, e);
        return false;
    }

    internal async Task SyncAsync(string key, CancellationToken ct)
    {
        var (ns, name) = EndpointUtil.SplitKey(key);
        if (!_services.Store.TryGet(ns, name, out var service))
        {
            // The Service is gone: its Endpoints go too (not through owner references, there are none).
            try
            {
                await _client.CoreV1.DeleteNamespacedEndpointsAsync(name, ns, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
            }
            _triggers.DeleteService(ns, name);
            lock (_staleLock)
            {
                _staleVersions.Remove(key);
            }
            return;
        }
        if (service.Spec?.Type == "ExternalName" || service.Spec?.Selector is null)
        {
            return;
        }

        var pods = _pods.Lister.List(ns, service.Spec.Selector);
        var trigger = _triggers.Compute(service, pods);
        var subsets = DesiredSubsets(service, pods);

        var exists = _endpoints.Store.TryGet(ns, name, out var current);
        if (exists && IsStale(key, current!))
        {
            throw new InvalidOperationException($"endpoints informer cache is out of date, resource version {current!.Metadata.ResourceVersion} already processed for endpoints {key}");
        }
        current ??= new V1Endpoints { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns } };

        var compareLabels = current.Metadata.Labels;
        if (compareLabels?.ContainsKey(EndpointUtil.LabelHeadless) == true)
        {
            compareLabels = compareLabels.Where(kv => kv.Key != EndpointUtil.LabelHeadless).ToDictionary(kv => kv.Key, kv => kv.Value);
        }
        if (exists
            && EndpointSubsets.Equal(current.Subsets, subsets)
            && EndpointUtil.SameLabels(compareLabels, service.Metadata.Labels)
            && EndpointSubsets.CapacityAnnotationSetCorrectly(current.Metadata.Annotations, current.Subsets))
        {
            return;
        }

        var labels = service.Metadata.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(service.Metadata.Labels);
        if (!EndpointUtil.IsServiceIPSet(service))
        {
            labels[EndpointUtil.LabelHeadless] = "";
        }
        else
        {
            labels.Remove(EndpointUtil.LabelHeadless);
        }
        var annotations = current.Metadata.Annotations is null ? new Dictionary<string, string>() : new Dictionary<string, string>(current.Metadata.Annotations);
        if (trigger is { } t)
        {
            annotations[EndpointUtil.AnnotationTriggerTime] = EndpointUtil.FormatRfc3339Nano(t);
        }
        else
        {
            annotations.Remove(EndpointUtil.AnnotationTriggerTime);
        }
        if (EndpointSubsets.Truncate(subsets))
        {
            annotations[EndpointSubsets.AnnotationOverCapacity] = "truncated";
        }
        else
        {
            annotations.Remove(EndpointSubsets.AnnotationOverCapacity);
        }

        var desired = current with
        {
            ApiVersion = "v1",
            Kind = "Endpoints",
            Metadata = current.Metadata with { Labels = labels, Annotations = annotations },
            Subsets = subsets,
        };
        var reference = EventRecorder.Reference(desired, "v1", "Endpoints");
        try
        {
            if (!exists)
            {
                await _client.CoreV1.CreateNamespacedEndpointsAsync(desired, ns, cancellationToken: ct).ConfigureAwait(false);
            }
            else
            {
                var updated = await _client.CoreV1.ReplaceNamespacedEndpointsAsync(desired, name, ns, cancellationToken: ct).ConfigureAwait(false);
                if (updated.Metadata.ResourceVersion != current.Metadata.ResourceVersion)
                {
                    // Until the cache moves past this version, a sync would act on what we just replaced.
                    lock (_staleLock)
                    {
                        _staleVersions[key] = current.Metadata.ResourceVersion;
                    }
                }
            }
        }
        catch (HttpOperationException e) when (!exists && e.Response.StatusCode == HttpStatusCode.Forbidden && e.Response.Content?.Contains("NamespaceTerminating", StringComparison.Ordinal) == true)
        {
            return;
        }
        catch (HttpOperationException e)
        {
            _recorder.Record(reference, "Warning", exists ? "FailedToUpdateEndpoint" : "FailedToCreateEndpoint",
                exists ? $"Failed to update endpoint {key}: {(int)e.Response.StatusCode} {e.Response.Content}" : $"Failed to create endpoint for service {key}: {(int)e.Response.StatusCode} {e.Response.Content}");
            throw;
        }
    }

    /// <summary>The subsets the Service's pods call for, repacked into canonical form.</summary>
    internal static List<V1EndpointSubset> DesiredSubsets(V1Service service, IReadOnlyList<V1Pod> pods)
    {
        var publishNotReady = service.Spec?.PublishNotReadyAddresses == true;
        var entries = new List<EndpointSubsets.Entry>();
        foreach (var pod in pods)
        {
            if (!EndpointUtil.ShouldPodBeInEndpoints(pod, includeTerminating: publishNotReady))
            {
                continue;
            }
            var address = AddressFor(service, pod);
            if (address is null)
            {
                continue; // no IP of the Service's family (e.g. mid dual-stack migration)
            }
            var ready = publishNotReady || EndpointUtil.IsPodReady(pod);
            var ports = service.Spec?.Ports;
            if (ports is null || ports.Count == 0)
            {
                if (service.Spec?.ClusterIP == "None")
                {
                    entries.Add(new EndpointSubsets.Entry(address, null, ready));
                }
                continue;
            }
            foreach (var sp in ports)
            {
                if (!EndpointUtil.TryFindPort(pod, sp, out var number))
                {
                    continue;
                }
                var port = new Corev1EndpointPort { Name = sp.Name, Port = number, Protocol = sp.Protocol ?? "TCP", AppProtocol = sp.AppProtocol };
                entries.Add(new EndpointSubsets.Entry(address, port, ready));
            }
        }
        return EndpointSubsets.Repack(entries);
    }

    /// <summary>Upstream podToEndpointAddressForService: the pod's IP of the Service's primary family.</summary>
    internal static V1EndpointAddress? AddressFor(V1Service service, V1Pod pod)
    {
        bool wantV6;
        if (service.Spec?.IpFamilies is { Count: > 0 } families)
        {
            wantV6 = families[0] == "IPv6";
        }
        else if (EndpointUtil.IsServiceIPSet(service))
        {
            wantV6 = EndpointUtil.IsIPv6(service.Spec!.ClusterIP);
        }
        else
        {
            wantV6 = EndpointUtil.IsIPv6(pod.Status?.PodIP);
        }

        string? ip = null;
        foreach (var candidate in pod.Status?.PodIPs?.Select(p => p.Ip) ?? [pod.Status?.PodIP])
        {
            if (EndpointUtil.TryParseIp(candidate, out var parsed) && (parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) == wantV6)
            {
                ip = candidate;
                break;
            }
        }
        if (ip is null)
        {
            return null;
        }
        return new V1EndpointAddress
        {
            Ip = ip,
            NodeName = pod.Spec?.NodeName,
            Hostname = EndpointUtil.ShouldSetHostname(pod, service) ? pod.Spec!.Hostname : null,
            TargetRef = new V1ObjectReference { Kind = "Pod", NamespaceProperty = pod.Metadata.NamespaceProperty, Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
        };
    }

    private bool IsStale(string key, V1Endpoints current)
    {
        lock (_staleLock)
        {
            return _staleVersions.TryGetValue(key, out var rv) && rv == current.Metadata.ResourceVersion;
        }
    }

    private void OnPodAdd(V1Pod pod)
    {
        foreach (var key in ServiceMembership.ServicesFor(_services.Indexer, pod.Metadata.NamespaceProperty, pod.Metadata.Labels))
        {
            _queue.AddAfter(key, _batchPeriod);
        }
    }

    private void OnPodUpdate(V1Pod oldPod, V1Pod newPod)
    {
        foreach (var key in ServiceMembership.ServicesToUpdate(_services.Indexer, oldPod, newPod))
        {
            _queue.AddAfter(key, _batchPeriod);
        }
    }

    private static string KeyOf(IKubernetesObject<V1ObjectMeta> obj) => EndpointUtil.Key(obj.Metadata.NamespaceProperty, obj.Metadata.Name);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Endpoints controller started: {Workers} workers")]
        public static partial void Started(ILogger logger, int workers);

        [LoggerMessage(2, LogLevel.Information, "Error syncing endpoints for service {Key}, retrying: {Error}")]
        public static partial void Retrying(ILogger logger, string key, string error);

        [LoggerMessage(3, LogLevel.Warning, "Dropping service {Key} out of the queue")]
        public static partial void Dropped(ILogger logger, string key, Exception error);
    }
}
