using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>NetworkPolicies: v1 defaults (podSelector {}, protocol TCP, policyTypes), generation, v1.33 validation.</summary>
internal sealed class NetworkPolicyStrategy : ResourceStrategy<V1NetworkPolicy>
{
    public override bool TracksGeneration => true;

    protected override ValueTask PrepareForCreateAsync(V1NetworkPolicy obj, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1NetworkPolicy obj, V1NetworkPolicy old, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        StrategyHelpers.SetGeneration(obj, old, StrategyHelpers.JsonDiffers(obj.Spec, old.Spec));
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1NetworkPolicy obj) => NetworkPolicyValidation.Validate(obj);

    protected override IEnumerable<FieldError> ValidateUpdate(V1NetworkPolicy obj, V1NetworkPolicy old) => NetworkPolicyValidation.ValidateUpdate(obj, old);

    /// <summary>
    /// Upstream SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort: Ingress is always assumed, Egress only
    /// when egress rules exist; a port's protocol is TCP. podSelector is a struct upstream, so it is always served.
    /// </summary>
    internal static void ApplyDefaults(V1NetworkPolicy obj)
    {
        obj.Spec ??= new V1NetworkPolicySpec();
        var spec = obj.Spec;
        spec.PodSelector ??= new V1LabelSelector();
        foreach (var port in (spec.Ingress ?? []).SelectMany(r => r.Ports ?? []).Concat((spec.Egress ?? []).SelectMany(r => r.Ports ?? [])))
        {
            port.Protocol ??= "TCP";
        }
        if (spec.PolicyTypes is not { Count: > 0 })
        {
            spec.PolicyTypes = spec.Egress is { Count: > 0 } ? ["Ingress", "Egress"] : ["Ingress"];
        }
    }
}
