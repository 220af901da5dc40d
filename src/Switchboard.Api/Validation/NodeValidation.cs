using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>Node spec.podCIDRs rules of v1.33 (pkg/apis/core/validation ValidateNode, ValidateNodeUpdate).</summary>
public static class NodeValidation
{
    public static List<FieldError> Validate(V1Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var errors = new List<FieldError>();
        var cidrs = node.Spec?.PodCIDRs;
        if (cidrs is not { Count: > 0 })
        {
            return errors;
        }
        const string path = "spec.podCIDRs";
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (!IPValidation.IsCidr(cidrs[i]))
            {
                errors.Add(FieldError.Invalid($"{path}[{i}]", cidrs[i], IPValidation.InvalidCidrMessage));
            }
        }
        if (cidrs.Count > 1)
        {
            var dualStack = IPValidation.IsDualStackCidrs([.. cidrs], out var error);
            if (error is not null)
            {
                errors.Add(FieldError.Internal(path, "invalid PodCIDRs. failed to check with dual stack with error:" + error));
            }
            if (!dualStack || cidrs.Count > 2)
            {
                errors.Add(FieldError.InvalidRaw(path, GoText.StringSlice([.. cidrs]), "may specify no more than one CIDR for each IP family"));
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < cidrs.Count; i++)
            {
                if (!seen.Add(cidrs[i]))
                {
                    errors.Add(FieldError.Duplicate($"{path}[{i}]", cidrs[i]));
                }
            }
        }
        return errors;
    }

    /// <summary>podCIDRs may go from unset to set, never change after (the node IPAM controller owns them).</summary>
    public static List<FieldError> ValidateUpdate(V1Node node, V1Node old)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(old);
        var errors = Validate(node);
        var before = old.Spec?.PodCIDRs ?? [];
        var after = node.Spec?.PodCIDRs ?? [];
        if (before.Count > 0)
        {
            const string message = "node updates may not change podCIDR except from \"\" to valid";
            if (before.Count != after.Count)
            {
                errors.Add(FieldError.Forbidden("spec.podCIDRs", message));
            }
            else
            {
                for (var i = 0; i < before.Count; i++)
                {
                    if (before[i] != after[i])
                    {
                        errors.Add(FieldError.Forbidden("spec.podCIDRs", message));
                    }
                }
            }
        }
        if (old.Spec?.ProviderID is { Length: > 0 } provider && provider != node.Spec?.ProviderID)
        {
            errors.Add(FieldError.Forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"));
        }
        return errors;
    }
}
