using k8s;
using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry;

/// <summary>
/// Per-kind behaviour of the registry, as upstream's RESTCreateStrategy/RESTUpdateStrategy: defaulting,
/// allocation, validation and what a write may change. The generic storage does everything else.
/// </summary>
internal interface IResourceStrategy
{
    NameRule NameRule { get; }

    /// <summary>True when metadata.generation counts spec changes.</summary>
    bool TracksGeneration { get; }

    /// <summary>Defaults and allocations for a new object (not called for dry runs' allocation side, see dryRun).</summary>
    ValueTask PrepareForCreateAsync(IKubernetesObject<V1ObjectMeta> obj, bool dryRun, CancellationToken cancellationToken);

    IEnumerable<FieldError> ValidateCreate(IKubernetesObject<V1ObjectMeta> obj);

    /// <summary>Defaults for an update; old is the live object.</summary>
    ValueTask PrepareForUpdateAsync(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old, bool dryRun, CancellationToken cancellationToken);

    IEnumerable<FieldError> ValidateUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old);

    /// <summary>Undo what PrepareForCreate allocated when the create did not persist.</summary>
    void AbortCreate(IKubernetesObject<V1ObjectMeta> obj);

    /// <summary>Undo what PrepareForUpdate allocated when the update did not persist.</summary>
    void AbortUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old);

    /// <summary>After a create persisted (upstream's AfterCreate hook).</summary>
    void AfterCreate(IKubernetesObject<V1ObjectMeta> obj);

    /// <summary>Release what the live object held once it is gone from the store.</summary>
    void AfterDelete(IKubernetesObject<V1ObjectMeta> obj);

    /// <summary>After an update persisted: release what old held and obj no longer does.</summary>
    void AfterUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old);
}

/// <summary>A strategy for one model type with no per-kind rules beyond metadata; kinds override what they need.</summary>
internal class ResourceStrategy<T> : IResourceStrategy
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    public virtual NameRule NameRule => NameRule.Dns1123Subdomain;

    public virtual bool TracksGeneration => false;

    public ValueTask PrepareForCreateAsync(IKubernetesObject<V1ObjectMeta> obj, bool dryRun, CancellationToken cancellationToken) =>
        PrepareForCreateAsync((T)obj, dryRun, cancellationToken);

    public IEnumerable<FieldError> ValidateCreate(IKubernetesObject<V1ObjectMeta> obj) => Validate((T)obj);

    public ValueTask PrepareForUpdateAsync(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old, bool dryRun, CancellationToken cancellationToken) =>
        PrepareForUpdateAsync((T)obj, (T)old, dryRun, cancellationToken);

    public IEnumerable<FieldError> ValidateUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old) => ValidateUpdate((T)obj, (T)old);

    public void AbortCreate(IKubernetesObject<V1ObjectMeta> obj) => AbortCreate((T)obj);

    public void AbortUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old) => AbortUpdate((T)obj, (T)old);

    public void AfterCreate(IKubernetesObject<V1ObjectMeta> obj) => AfterCreate((T)obj);

    public void AfterDelete(IKubernetesObject<V1ObjectMeta> obj) => AfterDelete((T)obj);

    public void AfterUpdate(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old) => AfterUpdate((T)obj, (T)old);

    protected virtual ValueTask PrepareForCreateAsync(T obj, bool dryRun, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    protected virtual IEnumerable<FieldError> Validate(T obj) => [];

    protected virtual ValueTask PrepareForUpdateAsync(T obj, T old, bool dryRun, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>By default an update is validated like a create.</summary>
    protected virtual IEnumerable<FieldError> ValidateUpdate(T obj, T old) => Validate(obj);

    protected virtual void AbortCreate(T obj)
    {
    }

    protected virtual void AbortUpdate(T obj, T old)
    {
    }

    protected virtual void AfterCreate(T obj)
    {
    }

    protected virtual void AfterDelete(T obj)
    {
    }

    protected virtual void AfterUpdate(T obj, T old)
    {
    }
}
