using k8s;
using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Informers;

/// <summary>An <see cref="IResourceEventHandler{T}"/> from delegates (client-go's ResourceEventHandlerFuncs); null ones are no-ops.</summary>
public sealed class ResourceEventHandler<T>(Action<T>? onAdd = null, Action<T, T>? onUpdate = null, Action<T>? onDelete = null) : IResourceEventHandler<T>
    where T : IKubernetesObject<V1ObjectMeta>
{
    public void OnAdd(T obj) => onAdd?.Invoke(obj);

    public void OnUpdate(T oldObj, T newObj) => onUpdate?.Invoke(oldObj, newObj);

    public void OnDelete(T obj) => onDelete?.Invoke(obj);
}
