using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Client.Cache;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>One reflector over one resource of the catalogue, feeding the metadata of every change into the graph.</summary>
internal sealed class KindMonitor : IResourceEventHandler<PartialObjectMetadata>
{
    private readonly ResourceInfo _resource;
    private readonly DependencyGraph _graph;
    private readonly Reflector<PartialObjectMetadata> _reflector;

    public KindMonitor(Kubernetes client, ResourceInfo resource, DependencyGraph graph, ReflectorOptions? options, ILogger logger, TimeProvider time)
    {
        _resource = resource;
        _graph = graph;
        var request = new ResourceRequest { Group = resource.Group, Version = resource.Version, Plural = resource.Plural };
        _reflector = new Reflector<PartialObjectMetadata>(client, request, this, options, logger, time);
    }

    public ResourceInfo Resource => _resource;

    public bool HasSynced => _reflector.HasSynced;

    public Task RunAsync(CancellationToken ct) => _reflector.RunAsync(ct);

    public Task WaitForSyncAsync(CancellationToken ct) => _reflector.WaitForSyncAsync(ct);

    public void OnAdd(PartialObjectMetadata obj) => _graph.Observe(_resource, obj.Metadata);

    public void OnUpdate(PartialObjectMetadata oldObj, PartialObjectMetadata newObj) => _graph.Observe(_resource, newObj.Metadata);

    public void OnDelete(PartialObjectMetadata obj) => _graph.Forget(obj.Metadata);
}
