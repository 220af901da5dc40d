using System.Diagnostics.CodeAnalysis;
using k8s;
using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Informers;

/// <summary>
/// Reads over an informer's cache (client-go's generated listers, for any kind): by key, by namespace, and by an
/// equality label selector (a Service's <c>spec.selector</c>). Objects are shared with the cache: read-only.
/// </summary>
public sealed class Lister<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IObjectStore<T> _store;
    private readonly Indexer<T> _indexer;

    internal Lister(IObjectStore<T> store, Indexer<T> indexer)
    {
        _store = store;
        _indexer = indexer;
    }

    /// <summary>One object by namespace and name; pass null or "" for cluster-scoped kinds.</summary>
    public bool TryGet(string? @namespace, string name, [MaybeNullWhen(false)] out T value) => _store.TryGet(@namespace, name, out value);

    /// <summary>Every object.</summary>
    public IReadOnlyCollection<T> List() => _store.Snapshot();

    /// <summary>Every object in one namespace.</summary>
    public IReadOnlyList<T> List(string @namespace) => _indexer.ByIndex(Indexers.Namespace, @namespace);

    /// <summary>
    /// Objects in <paramref name="namespace"/> whose labels contain every pair of <paramref name="selector"/>
    /// (an empty selector matches all of them, as for a Service with <c>selector: {}</c>). With the
    /// <see cref="Indexers.NamespaceLabel"/> index the candidates come from the smallest label bucket.
    /// </summary>
    public IReadOnlyList<T> List(string @namespace, IDictionary<string, string> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (selector.Count == 0)
        {
            return List(@namespace);
        }

        IReadOnlyList<T> candidates;
        if (_indexer.HasIndex(Indexers.NamespaceLabel))
        {
            string? narrowest = null;
            var best = int.MaxValue;
            foreach (var (key, value) in selector)
            {
                var label = Indexers.LabelKey(@namespace, key, value);
                var count = _indexer.CountByIndex(Indexers.NamespaceLabel, label);
                if (count < best)
                {
                    best = count;
                    narrowest = label;
                }
            }
            if (best == 0)
            {
                return [];
            }
            candidates = _indexer.ByIndex(Indexers.NamespaceLabel, narrowest!);
        }
        else
        {
            candidates = List(@namespace);
        }

        var result = new List<T>(candidates.Count);
        foreach (var obj in candidates)
        {
            if (Indexers.Matches(selector, obj.Metadata?.Labels))
            {
                result.Add(obj);
            }
        }
        return result;
    }

    /// <summary>Objects filed under a value of a named index.</summary>
    public IReadOnlyList<T> ByIndex(string indexName, string value) => _indexer.ByIndex(indexName, value);
}
