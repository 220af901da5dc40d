using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>
/// Receives every change a reflector applies to its store, in order, on the reflector's loop; the store already
/// holds the new state when a method runs. Keep handlers fast (hand work to a queue) and do not throw.
/// </summary>
public interface IResourceEventHandler<in T>
    where T : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>An object appeared (first list, watch ADDED, or found by a relist).</summary>
    void OnAdd(T obj);

    /// <summary>An object changed; <paramref name="oldObj"/> is what the store held before.</summary>
    void OnUpdate(T oldObj, T newObj);

    /// <summary>An object disappeared (watch DELETED, or missing from a relist); this is its last known state.</summary>
    void OnDelete(T obj);
}
