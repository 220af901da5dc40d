using k8s;
using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Informers;

/// <summary>
/// Computes the values one object is filed under in one index (its namespace, its labels, ...). Append to
/// <paramref name="values"/>; must be pure and fast, it runs on the informer's loop for every change.
/// </summary>
public delegate void IndexFunc<in T>(T obj, ICollection<string> values);

/// <summary>
/// client-go's thread-safe indexer: secondary indexes over an informer's objects, kept in step with the store by
/// the informer before any handler hears of a change, so a worker woken by a handler finds the change indexed.
/// Reads take a short lock and copy the matching objects out; objects are shared with the cache, treat them as read-only.
/// </summary>
public sealed class Indexer<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, IndexFunc<T>> _funcs = new(StringComparer.Ordinal);

    // index name → indexed value → object key → object.
    private readonly Dictionary<string, Dictionary<string, Dictionary<string, T>>> _indexes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, T> _items = new(StringComparer.Ordinal);
    private readonly List<string> _scratch = [];

    /// <summary>Names of the registered indexes.</summary>
    public IReadOnlyCollection<string> IndexNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _funcs.Keys];
            }
        }
    }

    /// <summary>True when an index of that name is registered.</summary>
    public bool HasIndex(string indexName)
    {
        lock (_lock)
        {
            return _funcs.ContainsKey(indexName);
        }
    }

    /// <summary>Objects filed under <paramref name="value"/> in the index; empty when none (or no such index).</summary>
    public IReadOnlyList<T> ByIndex(string indexName, string value)
    {
        lock (_lock)
        {
            if (!_indexes.TryGetValue(indexName, out var index) || !index.TryGetValue(value, out var bucket))
            {
                return [];
            }
            return [.. bucket.Values];
        }
    }

    /// <summary>Number of objects filed under <paramref name="value"/>; lets a caller pick the narrowest of several indexes.</summary>
    public int CountByIndex(string indexName, string value)
    {
        lock (_lock)
        {
            return _indexes.TryGetValue(indexName, out var index) && index.TryGetValue(value, out var bucket) ? bucket.Count : 0;
        }
    }

    /// <summary>Every object, as the informer has reported it to its handlers.</summary>
    internal IReadOnlyList<T> All()
    {
        lock (_lock)
        {
            return [.. _items.Values];
        }
    }

    /// <summary>Registers an index; an index already registered under the name is kept (callers share well-known names).</summary>
    internal bool TryAddIndex(string indexName, IndexFunc<T> func)
    {
        lock (_lock)
        {
            if (!_funcs.TryAdd(indexName, func))
            {
                return false;
            }
            var index = new Dictionary<string, Dictionary<string, T>>(StringComparer.Ordinal);
            _indexes[indexName] = index;
            foreach (var (key, obj) in _items)
            {
                File(index, func, key, obj);
            }
            return true;
        }
    }

    /// <summary>Files an added or updated object, unfiling what was held under its key (what was filed, not what a delta claims).</summary>
    internal void Upsert(T obj)
    {
        var key = ObjectStore<T>.KeyOf(obj);
        lock (_lock)
        {
            if (_items.TryGetValue(key, out var held))
            {
                Unfile(key, held);
            }
            _items[key] = obj;
            foreach (var (name, func) in _funcs)
            {
                File(_indexes[name], func, key, obj);
            }
        }
    }

    internal void Remove(T obj)
    {
        var key = ObjectStore<T>.KeyOf(obj);
        lock (_lock)
        {
            if (_items.Remove(key, out var held))
            {
                Unfile(key, held);
            }
        }
    }

    private void File(Dictionary<string, Dictionary<string, T>> index, IndexFunc<T> func, string key, T obj)
    {
        _scratch.Clear();
        func(obj, _scratch);
        foreach (var value in _scratch)
        {
            if (!index.TryGetValue(value, out var bucket))
            {
                bucket = new Dictionary<string, T>(StringComparer.Ordinal);
                index[value] = bucket;
            }
            bucket[key] = obj;
        }
    }

    private void Unfile(string key, T old)
    {
        foreach (var (name, func) in _funcs)
        {
            var index = _indexes[name];
            _scratch.Clear();
            func(old, _scratch);
            foreach (var value in _scratch)
            {
                if (index.TryGetValue(value, out var bucket) && bucket.Remove(key) && bucket.Count == 0)
                {
                    index.Remove(value);
                }
            }
        }
    }
}
