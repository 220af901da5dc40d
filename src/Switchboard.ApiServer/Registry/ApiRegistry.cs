using System.Collections.Concurrent;
using System.Collections.Frozen;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Api.Serialization;
using Switchboard.Store;

namespace Switchboard.ApiServer.Registry;

/// <summary>The storage of every served resource, each with its kind's strategy.</summary>
internal sealed class ApiRegistry
{
    private readonly FrozenDictionary<ResourceInfo, ResourceStorage> _storages;

    public ApiRegistry(ResourceCatalog catalog, Api.Schema.SchemaCatalog schemas, IStore store, TimeProvider time, IReadOnlyDictionary<Type, IResourceStrategy> strategies)
    {
        Catalog = catalog;
        Store = store;
        var accessors = new ConcurrentDictionary<Type, ModelAccessor>();
        var namespaces = catalog.FindKind("", "Namespace") ?? throw new InvalidOperationException("namespaces must be served");
        _storages = catalog.All.ToFrozenDictionary(r => r, r =>
        {
            var strategy = strategies.TryGetValue(r.ModelType, out var s)
                ? s
                : (IResourceStrategy)Activator.CreateInstance(typeof(ResourceStrategy<>).MakeGenericType(r.ModelType))!;
            return new ResourceStorage(r, strategy, store, time, GetNamespaceAsync, accessors, schemas);
        });
        Namespaces = _storages[namespaces];
    }

    public ResourceCatalog Catalog { get; }

    public IStore Store { get; }

    public ResourceStorage Namespaces { get; }

    public ResourceStorage Get(ResourceInfo info) => _storages[info];

    public ResourceStorage? Find(string group, string kind) => Catalog.FindKind(group, kind) is { } r ? _storages[r] : null;

    private async ValueTask<V1Namespace?> GetNamespaceAsync(string name)
    {
        var stored = await Store.GetAsync(Namespaces.Info.Key(null, name)).ConfigureAwait(false);
        return stored is null ? null : KubeJson.Deserialize<V1Namespace>(stored.Value.Span);
    }
}
