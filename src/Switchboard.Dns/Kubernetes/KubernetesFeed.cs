using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Cache;

namespace Switchboard.Dns.Kubernetes;

/// <summary>
/// List+watch of Services, EndpointSlices and Namespaces (and Pods when `--pods verified` or autopath needs them)
/// through <see cref="Reflector{T}"/> over slim models (SlimObjects.cs: only the fields DNS reads are parsed, so the
/// reflector caches hold no managed fields or status), each change cut down further and handed to the
/// <see cref="ZoneIndex"/>. DNS runs
/// alone in its process, so it uses reflectors directly: shared informers would add a namespace index and
/// fan-out that nothing here shares. Once every collection has been listed the index is marked synced (N9).
/// </summary>
internal sealed partial class KubernetesFeed : IAsyncDisposable
{
    private readonly ZoneIndex _index;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Func<CancellationToken, Task>> _runs = [];
    private readonly List<Func<CancellationToken, Task>> _syncs = [];
    private readonly List<Task> _running = [];

    public KubernetesFeed(k8s.Kubernetes client, ZoneIndex index, bool watchPods, ILoggerFactory loggers, TimeProvider time)
    {
        _index = index;
        _logger = loggers.CreateLogger("Switchboard.Dns.Kubernetes");
        Add(new Reflector<ServiceObject>(client, ResourceRequest.For<ServiceObject>(), new ServiceHandler(index), logger: Logger(loggers, "services"), timeProvider: time));
        // Only slices that name their Service matter to DNS; the API filters the rest out.
        Add(new Reflector<EndpointSliceObject>(client, ResourceRequest.For<EndpointSliceObject>() with { LabelSelector = SliceInfo.ServiceNameLabel }, new SliceHandler(index), logger: Logger(loggers, "endpointslices"), timeProvider: time));
        Add(new Reflector<NamespaceObject>(client, ResourceRequest.For<NamespaceObject>(), new NamespaceHandler(index), logger: Logger(loggers, "namespaces"), timeProvider: time));
        if (watchPods)
        {
            Add(new Reflector<PodObject>(client, ResourceRequest.For<PodObject>(), new PodHandler(index), logger: Logger(loggers, "pods"), timeProvider: time));
        }
    }

    public void Start()
    {
        foreach (var run in _runs)
        {
            _running.Add(run(_stop.Token));
        }
        _running.Add(WaitForSyncAsync(_stop.Token));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in _running)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private static ILogger Logger(ILoggerFactory loggers, string resource) => loggers.CreateLogger("Switchboard.Dns.Kubernetes." + resource);

    private void Add<T>(Reflector<T> reflector)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta>
    {
        _runs.Add(reflector.RunAsync);
        _syncs.Add(reflector.WaitForSyncAsync);
    }

    private async Task WaitForSyncAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_syncs.Select(s => s(cancellationToken))).ConfigureAwait(false);
        _index.MarkSynced();
        Log.Synced(_logger, _syncs.Count);
    }

    private sealed class ServiceHandler(ZoneIndex index) : IResourceEventHandler<ServiceObject>
    {
        public void OnAdd(ServiceObject obj) => index.UpsertService(obj);

        public void OnUpdate(ServiceObject oldObj, ServiceObject newObj) => index.UpsertService(newObj);

        public void OnDelete(ServiceObject obj) => index.RemoveService(obj.Metadata.NamespaceProperty ?? "", obj.Metadata.Name);
    }

    private sealed class SliceHandler(ZoneIndex index) : IResourceEventHandler<EndpointSliceObject>
    {
        public void OnAdd(EndpointSliceObject obj) => index.UpsertSlice(obj);

        // A slice that lost its Service label or turned FQDN is dropped by UpsertSlice itself.
        public void OnUpdate(EndpointSliceObject oldObj, EndpointSliceObject newObj) => index.UpsertSlice(newObj);

        public void OnDelete(EndpointSliceObject obj) => index.RemoveSlice(obj.Metadata.NamespaceProperty ?? "", obj.Metadata.Name);
    }

    private sealed class NamespaceHandler(ZoneIndex index) : IResourceEventHandler<NamespaceObject>
    {
        public void OnAdd(NamespaceObject obj) => index.UpsertNamespace(obj.Metadata.Name);

        public void OnUpdate(NamespaceObject oldObj, NamespaceObject newObj) => index.UpsertNamespace(newObj.Metadata.Name);

        public void OnDelete(NamespaceObject obj) => index.RemoveNamespace(obj.Metadata.Name);
    }

    private sealed class PodHandler(ZoneIndex index) : IResourceEventHandler<PodObject>
    {
        public void OnAdd(PodObject obj) => index.UpsertPod(PodInfo.From(obj));

        public void OnUpdate(PodObject oldObj, PodObject newObj) => index.UpsertPod(PodInfo.From(newObj));

        public void OnDelete(PodObject obj) => index.RemovePod(obj.Metadata.NamespaceProperty ?? "", obj.Metadata.Name);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Cluster zone synced: {Collections} collections listed")]
        public static partial void Synced(ILogger logger, int collections);
    }
}
