using System.Diagnostics.CodeAnalysis;
using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>Read side of the thread-safe cache a reflector fills; reads take no locks and never block the writer.</summary>
public interface IObjectStore<T>
    where T : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>Number of objects currently held.</summary>
    int Count { get; }

    /// <summary>A consistent point-in-time view of all objects; later changes do not affect it.</summary>
    IReadOnlyCollection<T> Snapshot();

    /// <summary>Looks up one object; pass null or "" as namespace for cluster-scoped kinds.</summary>
    bool TryGet(string? @namespace, string name, [MaybeNullWhen(false)] out T value);
}
