using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// Nodes: podCIDR and podCIDRs kept consistent as upstream's v1 conversion does (podCIDR is podCIDRs[0]), and
/// v1.33's podCIDRs validation (format, at most one per family, immutable once set).
/// </summary>
internal sealed class NodeStrategy : ResourceStrategy<V1Node>
{
    protected override ValueTask PrepareForCreateAsync(V1Node obj, bool dryRun, CancellationToken cancellationToken)
    {
        NormalizePodCidrs(obj);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Node obj, V1Node old, bool dryRun, CancellationToken cancellationToken)
    {
        NormalizePodCidrs(obj);
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1Node obj) => NodeValidation.Validate(obj);

    protected override IEnumerable<FieldError> ValidateUpdate(V1Node obj, V1Node old) => NodeValidation.ValidateUpdate(obj, old);

    private static void NormalizePodCidrs(V1Node obj)
    {
        if (obj.Spec is not { } spec)
        {
            return;
        }
        if (spec.PodCIDRs is not { Count: > 0 } && !string.IsNullOrEmpty(spec.PodCIDR))
        {
            spec.PodCIDRs = [spec.PodCIDR];
        }
        if (spec.PodCIDRs is { Count: > 0 } cidrs)
        {
            spec.PodCIDR = cidrs[0];
        }
    }
}
