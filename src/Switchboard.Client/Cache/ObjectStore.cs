using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>What one store change means to a handler.</summary>
internal enum DeltaKind
{
    Added,
    Updated,
    Deleted,
}

/// <summary>One change applied to the store; <see cref="Old"/> is set for updates, <see cref="Object"/> is the new (or last) state.</summary>
internal readonly record struct Delta<T>(DeltaKind Kind, T? Old, T Object);

/// <summary>
/// Single-writer, many-reader cache keyed by namespace/name. The writer publishes a new immutable dictionary by
/// atomic swap, so readers see consistent snapshots without locks (ARCHITECTURE/STYLE: "readers take no locks").
/// </summary>
internal sealed class ObjectStore<T> : IObjectStore<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private ImmutableDictionary<string, T> _items = ImmutableDictionary.Create<string, T>(StringComparer.Ordinal);

    public int Count => Volatile.Read(ref _items).Count;

    public IReadOnlyCollection<T> Snapshot() => new ValuesView(Volatile.Read(ref _items));

    public bool TryGet(string? @namespace, string name, [MaybeNullWhen(false)] out T value) =>
        Volatile.Read(ref _items).TryGetValue(KeyOf(@namespace, name), out value);

    /// <summary>client-go's MetaNamespaceKeyFunc: "ns/name", or "name" for cluster-scoped objects.</summary>
    internal static string KeyOf(string? @namespace, string name) =>
        string.IsNullOrEmpty(@namespace) ? name : @namespace + "/" + name;

    internal static string KeyOf(T obj) => KeyOf(obj.Metadata?.NamespaceProperty, obj.Metadata?.Name ?? "");

    /// <summary>Applies a watch ADDED/MODIFIED; returns null when the store already holds this exact version.</summary>
    internal Delta<T>? Upsert(T obj)
    {
        var items = _items;
        var key = KeyOf(obj);
        if (items.TryGetValue(key, out var old))
        {
            // A replayed event (same resourceVersion) must not reach the handler twice.
            if (SameVersion(old, obj))
            {
                return null;
            }

            Volatile.Write(ref _items, items.SetItem(key, obj));
            return new Delta<T>(DeltaKind.Updated, old, obj);
        }

        Volatile.Write(ref _items, items.Add(key, obj));
        return new Delta<T>(DeltaKind.Added, null, obj);
    }

    /// <summary>Applies a watch DELETED; returns null when the object was not held (nothing to tell the handler).</summary>
    internal Delta<T>? Remove(T obj)
    {
        var items = _items;
        var key = KeyOf(obj);
        if (!items.ContainsKey(key))
        {
            return null;
        }

        Volatile.Write(ref _items, items.Remove(key));
        return new Delta<T>(DeltaKind.Deleted, null, obj);
    }

    /// <summary>
    /// Makes the store equal to a fresh list and returns only the difference (DeltaFIFO "Replace" without the
    /// resync noise): deletes for objects gone, adds for new ones, updates where the resourceVersion moved. An
    /// object recreated under the same name (new UID) is a delete followed by an add, because it is a new object.
    /// </summary>
    internal List<Delta<T>> Replace(IReadOnlyCollection<T> objects)
    {
        var old = _items;
        var builder = ImmutableDictionary.CreateBuilder<string, T>(StringComparer.Ordinal);
        foreach (var obj in objects)
        {
            // Last one wins if a server ever repeats a key inside one list.
            builder[KeyOf(obj)] = obj;
        }

        var next = builder.ToImmutable();
        var deltas = new List<Delta<T>>();
        foreach (var (key, was) in old)
        {
            if (!next.TryGetValue(key, out var now) || !SameUid(was, now))
            {
                deltas.Add(new Delta<T>(DeltaKind.Deleted, null, was));
            }
        }

        // Adds and updates follow the server's list order, so handlers see a stable, meaningful sequence.
        foreach (var now in objects)
        {
            var key = KeyOf(now);
            if (!ReferenceEquals(next[key], now))
            {
                continue; // a repeated key; its last occurrence is reported
            }

            if (!old.TryGetValue(key, out var was) || !SameUid(was, now))
            {
                deltas.Add(new Delta<T>(DeltaKind.Added, null, now));
            }
            else if (!SameVersion(was, now))
            {
                deltas.Add(new Delta<T>(DeltaKind.Updated, was, now));
            }
        }

        Volatile.Write(ref _items, next);
        return deltas;
    }

    private static bool SameVersion(T a, T b) =>
        string.Equals(a.Metadata?.ResourceVersion, b.Metadata?.ResourceVersion, StringComparison.Ordinal);

    // A missing UID on either side (minimal fakes, hand-built objects) is treated as "same object".
    private static bool SameUid(T a, T b) =>
        string.IsNullOrEmpty(a.Metadata?.Uid) || string.IsNullOrEmpty(b.Metadata?.Uid)
        || string.Equals(a.Metadata.Uid, b.Metadata.Uid, StringComparison.Ordinal);

    /// <summary>Read-only collection over one immutable dictionary version; no copy is made.</summary>
    private sealed class ValuesView(ImmutableDictionary<string, T> items) : IReadOnlyCollection<T>
    {
        public int Count => items.Count;

        public IEnumerator<T> GetEnumerator() => items.Values.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
