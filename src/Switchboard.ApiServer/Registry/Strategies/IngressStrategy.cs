using k8s.Models;
using Switchboard.Api.Serialization;
using Switchboard.Api.Validation;
using Switchboard.Store;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// Ingresses: upstream's DefaultIngressClass admission on create (the newest IngressClass marked
/// is-default-class wins), an empty status on create, generation on spec changes, v1.33 validation of the spec on
/// main writes and of the load-balancer status on status writes.
/// </summary>
/// <param name="store">Read to find the default IngressClass (as upstream's admission reads its informer).</param>
/// <param name="ingressClassPrefix">The store prefix of IngressClasses.</param>
internal sealed class IngressStrategy(IStore store, string ingressClassPrefix) : ResourceStrategy<V1Ingress>
{
    public override bool TracksGeneration => true;

    protected override async ValueTask PrepareForCreateAsync(V1Ingress obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1IngressSpec();
        obj.Status = new V1IngressStatus { LoadBalancer = new V1IngressLoadBalancerStatus() };
        if (IngressValidation.WantsDefaultClass(obj))
        {
            var list = await store.ListAsync(ingressClassPrefix, 0, null, 0, cancellationToken).ConfigureAwait(false);
            var classes = list.Items.Select(i => KubeJson.Deserialize<V1IngressClass>(i.Value.Span)).OfType<V1IngressClass>();
            if (IngressValidation.PickDefaultClass(classes) is { } chosen)
            {
                obj.Spec.IngressClassName = chosen.Metadata.Name;
            }
        }
    }

    protected override ValueTask PrepareForUpdateAsync(V1Ingress obj, V1Ingress old, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1IngressSpec();
        StrategyHelpers.SetGeneration(obj, old, StrategyHelpers.JsonDiffers(obj.Spec, old.Spec));
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1Ingress obj) => IngressValidation.ValidateCreate(obj);

    /// <summary>
    /// The storage keeps the live status on main writes and the live spec on status writes, so a changed status
    /// means a status write (validated as upstream's ValidateIngressStatusUpdate), anything else a main write.
    /// </summary>
    protected override IEnumerable<FieldError> ValidateUpdate(V1Ingress obj, V1Ingress old) =>
        StrategyHelpers.JsonDiffers(obj.Status, old.Status)
            ? IngressValidation.ValidateStatusUpdate(obj, old)
            : IngressValidation.ValidateUpdate(obj, old);
}
