using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;
using Switchboard.Controllers.Topology;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// Upstream's EndpointSlice controller (pkg/controller/endpointslice, v1.33): keeps the EndpointSlices of every
/// Service with a selector equal to the Pods it selects. Reads Services, Pods, Nodes and EndpointSlices through
/// shared informers; one work item per Service; writes through the typed client. See README.md for the contract.
/// </summary>
internal sealed partial class EndpointSliceController : IDisposable
{
    /// <summary>Value of endpointslice.kubernetes.io/managed-by on the slices this controller owns.</summary>
    public const string ControllerName = "endpointslice-controller.k8s.io";

    /// <summary>Index of EndpointSlices by "namespace/service-name" label.</summary>
    public const string SliceServiceIndex = "endpointslice-service";

    private const string TopologyKey = "topology";

    private readonly Kubernetes _client;
    private readonly EndpointSliceControllerOptions _options;
    private readonly ILogger _logger;
    private readonly SharedInformer<V1Service> _services;
    private readonly SharedInformer<V1Pod> _pods;
    private readonly SharedInformer<V1Node> _nodes;
    private readonly SharedInformer<V1EndpointSlice> _slices;
    private readonly RateLimitingQueue<string> _queue;
    private readonly RateLimitingQueue<string> _topologyQueue;
    private readonly EndpointSliceTracker _tracker = new();
    private readonly TriggerTimeTracker _triggers = new();
    private readonly TopologyCache? _topology;
    private readonly SliceReconciler _reconciler;
    private readonly EventRecorder _recorder;
    private readonly List<IDisposable> _registrations = [];
    private long _writes;

    public EndpointSliceController(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time, EndpointSliceControllerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options ?? new EndpointSliceControllerOptions();
        _options.Validate();
        _client = client;
        _logger = loggers.CreateLogger<EndpointSliceController>();
        _queue = new RateLimitingQueue<string>(time, RateLimiters.WithBase<string>(_options.RetryBaseDelay, _options.RetryMaxDelay, time));
        _topologyQueue = new RateLimitingQueue<string>(time);
        _topology = _options.TopologyAwareHints ? new TopologyCache() : null;
        _reconciler = new SliceReconciler(_options.MaxEndpointsPerSlice, _topology, _options.PreferSameTrafficDistribution);
        _recorder = new EventRecorder(client, "endpoint-slice-controller", _logger, time);

        _services = informers.Informer<V1Service>();
        _services.AddIndex(ServiceMembership.SelectorIndex, ServiceMembership.IndexBySelector);
        _pods = informers.Informer<V1Pod>();
        _pods.AddIndex(Indexers.NamespaceLabel, Indexers.ByNamespaceLabel);
        _nodes = informers.Informer<V1Node>();
        _slices = informers.Informer<V1EndpointSlice>();
        _slices.AddIndex(SliceServiceIndex, IndexByService);

        _registrations.Add(_services.AddEventHandler(new ResourceEventHandler<V1Service>(
            s => _queue.Add(KeyOf(s)), (_, s) => _queue.Add(KeyOf(s)), s => _queue.Add(KeyOf(s)))));
        _registrations.Add(_pods.AddEventHandler(new ResourceEventHandler<V1Pod>(OnPodAdd, OnPodUpdate, OnPodAdd)));
        _registrations.Add(_slices.AddEventHandler(new ResourceEventHandler<V1EndpointSlice>(OnSliceAdd, OnSliceUpdate, OnSliceDelete)));
        if (_topology is not null)
        {
            _registrations.Add(_nodes.AddEventHandler(new ResourceEventHandler<V1Node>(
                _ => _topologyQueue.Add(TopologyKey), OnNodeUpdate, _ => _topologyQueue.Add(TopologyKey))));
        }
    }

    /// <summary>Slices created, updated or deleted since start (benchmarks read it).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>True once every informer this controller reads has synced.</summary>
    public bool HasSynced => _services.HasSynced && _pods.HasSynced && _nodes.HasSynced && _slices.HasSynced;

    /// <summary>Waits for the caches, then syncs Services until cancelled. The informers are started by their factory.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var events = _recorder.RunAsync(ct);
        try
        {
            await Task.WhenAll(_services.WaitForSyncAsync(ct), _pods.WaitForSyncAsync(ct), _nodes.WaitForSyncAsync(ct), _slices.WaitForSyncAsync(ct)).ConfigureAwait(false);
            // Node capacity first: a Service synced before it would have its hints removed for lack of node
            // information and not be looked at again until it changes.
            CheckNodeTopologyDistribution();
            Log.Started(_logger, _options.Workers, _services.Store.Count, _pods.Store.Count, _slices.Store.Count);
            var topology = _topology is null
                ? Task.CompletedTask
                : _topologyQueue.RunWorkersAsync(1, CheckNodeTopologyDistributionAsync, static (_, _) => false, ct);
            await Task.WhenAll(_queue.RunWorkersAsync(_options.Workers, SyncAsync, Retry, ct), topology).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.ShutDown();
            _topologyQueue.ShutDown();
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
        _topologyQueue.Dispose();
    }

    private bool Retry(string key, Exception e)
    {
        if (_queue.NumRequeues(key) < _options.MaxRetries)
        {
            Log.Retrying(_logger, key, e.Message);
            return true;
        }
        Log.Dropped(_logger, key, e);
        return false;
    }

    /// <summary>One Service: desired slices from the caches, then the writes.</summary>
    internal async Task SyncAsync(string key, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var (ns, name) = EndpointUtil.SplitKey(key);
        if (!_services.Store.TryGet(ns, name, out var service))
        {
            // Deleted: the garbage collector removes its slices through their owner references.
            _triggers.DeleteService(ns, name);
            _tracker.DeleteService(ns, name);
            _topology?.RemoveHints(key, EndpointUtil.AddressTypeIPv4);
            _topology?.RemoveHints(key, EndpointUtil.AddressTypeIPv6);
            return;
        }
        if (service.Spec?.Type == "ExternalName" || service.Spec?.Selector is null)
        {
            // ExternalName Services get no endpoints; selectorless ones have slices managed by their users.
            return;
        }

        var pods = _pods.Lister.List(ns, service.Spec.Selector);
        var slices = new List<V1EndpointSlice>();
        foreach (var slice in _slices.Indexer.ByIndex(SliceServiceIndex, key))
        {
            // Slices being deleted are dropped so a stuck finalizer cannot stall the Service.
            if (ManagedByUs(slice) && slice.Metadata.DeletionTimestamp is null)
            {
                slices.Add(slice);
            }
        }
        if (_tracker.StaleSlices(service, slices))
        {
            throw new StaleCacheException($"EndpointSlice informer cache is out of date for Service {key}");
        }

        var trigger = _triggers.Compute(service, pods);
        var plan = _reconciler.Plan(service, pods, slices, GetNode, trigger);
        var reference = EventRecorder.Reference(service, "v1", "Service");
        try
        {
            await ApplyAsync(ns, plan, ct).ConfigureAwait(false);
            if (plan.Error(key) is { } error)
            {
                throw new InvalidOperationException(error);
            }
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or InvalidOperationException)
        {
            _recorder.Record(reference, HintEvent.Warning, "FailedToUpdateEndpointSlices", $"Error updating Endpoint Slices for Service {key}: {Describe(e)}");
            throw;
        }
        finally
        {
            foreach (var ev in plan.Events)
            {
                _recorder.Record(reference, ev.Type, ev.Reason, ev.Message);
            }
        }
        Log.Synced(_logger, key, pods.Count, plan.ToCreate.Count, plan.ToUpdate.Count, plan.ToDelete.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task ApplyAsync(string ns, SlicePlan plan, CancellationToken ct)
    {
        foreach (var slice in plan.ToCreate)
        {
            V1EndpointSlice created;
            try
            {
                created = await _client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, ns, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden && e.Response.Content?.Contains("NamespaceTerminating", StringComparison.Ordinal) == true)
            {
                // Creates keep failing in a terminating namespace; the namespace controller is removing it all.
                return;
            }
            _tracker.Update(created);
            Interlocked.Increment(ref _writes);
        }
        foreach (var slice in plan.ToUpdate)
        {
            var updated = await _client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, slice.Metadata.Name, ns, cancellationToken: ct).ConfigureAwait(false);
            _tracker.Update(updated);
            Interlocked.Increment(ref _writes);
        }
        foreach (var slice in plan.ToDelete)
        {
            try
            {
                await _client.DiscoveryV1.DeleteNamespacedEndpointSliceAsync(slice.Metadata.Name, ns, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                continue;
            }
            _tracker.ExpectDeletion(slice);
            Interlocked.Increment(ref _writes);
        }
    }

    private V1Node? GetNode(string name) => _nodes.Store.TryGet(null, name, out var node) ? node : null;

    private void OnPodAdd(V1Pod pod)
    {
        foreach (var key in ServiceMembership.ServicesFor(_services.Indexer, pod.Metadata.NamespaceProperty, pod.Metadata.Labels))
        {
            _queue.AddAfter(key, _options.EndpointUpdatesBatchPeriod);
        }
    }

    private void OnPodUpdate(V1Pod oldPod, V1Pod newPod)
    {
        foreach (var key in ServiceMembership.ServicesToUpdate(_services.Indexer, oldPod, newPod))
        {
            _queue.AddAfter(key, _options.EndpointUpdatesBatchPeriod);
        }
    }

    private void OnSliceAdd(V1EndpointSlice slice)
    {
        if (ManagedByUs(slice) && _tracker.ShouldSync(slice))
        {
            QueueServiceFor(slice);
        }
    }

    private void OnSliceUpdate(V1EndpointSlice oldSlice, V1EndpointSlice newSlice)
    {
        // Generation does not move on label changes; a slice moved to another Service touches both.
        if (ServiceNameOf(oldSlice) != ServiceNameOf(newSlice))
        {
            QueueServiceFor(newSlice);
            QueueServiceFor(oldSlice);
            return;
        }
        if (ManagedByUs(oldSlice) != ManagedByUs(newSlice) || (ManagedByUs(newSlice) && _tracker.ShouldSync(newSlice)))
        {
            QueueServiceFor(newSlice);
        }
    }

    private void OnSliceDelete(V1EndpointSlice slice)
    {
        // Upstream only looks again when it tracked the slice and did not delete it itself. After a restart nothing
        // is tracked, so a slice deleted by hand would stay gone until the Service changes (kubernetes#85353);
        // untracked deletions are therefore looked at too.
        if (ManagedByUs(slice) && (!_tracker.Has(slice) || !_tracker.HandleDeletion(slice)))
        {
            QueueServiceFor(slice);
        }
    }

    private void QueueServiceFor(V1EndpointSlice slice)
    {
        if (ServiceNameOf(slice) is { Length: > 0 } service)
        {
            var delay = _options.EndpointUpdatesBatchPeriod > _options.SliceChangeMinSyncDelay ? _options.EndpointUpdatesBatchPeriod : _options.SliceChangeMinSyncDelay;
            _queue.AddAfter(EndpointUtil.Key(slice.Metadata.NamespaceProperty, service), delay);
        }
    }

    private void OnNodeUpdate(V1Node oldNode, V1Node newNode)
    {
        // The zone label may be added by a cloud provider after the node registered.
        if (EndpointUtil.IsNodeReady(oldNode) != EndpointUtil.IsNodeReady(newNode) || ZoneOf(oldNode) != ZoneOf(newNode))
        {
            _topologyQueue.Add(TopologyKey);
        }
    }

    private Task CheckNodeTopologyDistributionAsync(string key, CancellationToken ct)
    {
        CheckNodeTopologyDistribution();
        return Task.CompletedTask;
    }

    /// <summary>Recomputes zone capacity and requeues the Services whose hints it leaves overloaded.</summary>
    private void CheckNodeTopologyDistribution()
    {
        if (_topology is null)
        {
            return;
        }
        _topology.SetNodes(_nodes.Store.Snapshot());
        foreach (var key in _topology.GetOverloadedServices())
        {
            Log.Overloaded(_logger, key);
            _queue.Add(key);
        }
    }

    private static string? ZoneOf(V1Node node) => node.Metadata.Labels?.TryGetValue(EndpointUtil.LabelTopologyZone, out var z) == true ? z : null;

    private static bool ManagedByUs(V1EndpointSlice slice) =>
        slice.Metadata.Labels?.TryGetValue(EndpointUtil.LabelManagedBy, out var m) == true && m == ControllerName;

    private static string? ServiceNameOf(V1EndpointSlice slice) =>
        slice.Metadata.Labels?.TryGetValue(EndpointUtil.LabelServiceName, out var n) == true ? n : null;

    private static void IndexByService(V1EndpointSlice slice, ICollection<string> values)
    {
        if (ServiceNameOf(slice) is { Length: > 0 } service)
        {
            values.Add(EndpointUtil.Key(slice.Metadata.NamespaceProperty, service));
        }
    }

    private static string KeyOf(V1Service service) => EndpointUtil.Key(service.Metadata.NamespaceProperty, service.Metadata.Name);

    private static string Describe(Exception e) =>
        e is HttpOperationException h ? $"{(int)h.Response.StatusCode} {h.Response.Content}" : e.Message;

    /// <summary>The cache has not caught up with our own last write for this Service; retried after back-off.</summary>
    private sealed class StaleCacheException(string message) : InvalidOperationException(message);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "EndpointSlice controller started: {Workers} workers; cached {Services} Services, {Pods} Pods, {Slices} EndpointSlices")]
        public static partial void Started(ILogger logger, int workers, int services, int pods, int slices);

        [LoggerMessage(2, LogLevel.Information, "Error syncing endpoint slices for service {Key}, retrying: {Error}")]
        public static partial void Retrying(ILogger logger, string key, string error);

        [LoggerMessage(3, LogLevel.Warning, "Retry budget exceeded, dropping service {Key} out of the queue")]
        public static partial void Dropped(ILogger logger, string key, Exception error);

        [LoggerMessage(4, LogLevel.Debug, "Synced endpoint slices of {Key}: {Pods} pods, {Created} created, {Updated} updated, {Deleted} deleted in {Milliseconds:F1} ms")]
        public static partial void Synced(ILogger logger, string key, int pods, int created, int updated, int deleted, double milliseconds);

        [LoggerMessage(5, LogLevel.Debug, "Queuing Service {Key} after Node change due to overloading")]
        public static partial void Overloaded(ILogger logger, string key);
    }
}
