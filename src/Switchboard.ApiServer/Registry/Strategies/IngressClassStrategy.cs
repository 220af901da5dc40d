using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>IngressClasses: parameters.scope defaults to Cluster, generation on spec changes, v1.33 validation.</summary>
internal sealed class IngressClassStrategy : ResourceStrategy<V1IngressClass>
{
    public override bool TracksGeneration => true;

    protected override ValueTask PrepareForCreateAsync(V1IngressClass obj, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1IngressClass obj, V1IngressClass old, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        StrategyHelpers.SetGeneration(obj, old, StrategyHelpers.JsonDiffers(obj.Spec, old.Spec));
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1IngressClass obj) => IngressClassValidation.Validate(obj);

    protected override IEnumerable<FieldError> ValidateUpdate(V1IngressClass obj, V1IngressClass old) => IngressClassValidation.ValidateUpdate(obj, old);

    /// <summary>Upstream SetDefaults_IngressClass.</summary>
    private static void ApplyDefaults(V1IngressClass obj)
    {
        obj.Spec ??= new V1IngressClassSpec();
        if (obj.Spec.Parameters is { } parameters)
        {
            parameters.Scope ??= "Cluster";
        }
    }
}
