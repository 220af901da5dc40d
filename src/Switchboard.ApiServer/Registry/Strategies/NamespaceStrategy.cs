using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>Namespaces: DNS-1123 label names, the kubernetes finalizer, phase Active, the metadata.name label.</summary>
internal sealed class NamespaceStrategy : ResourceStrategy<V1Namespace>
{
    private const string NameLabel = "kubernetes.io/metadata.name";

    public override NameRule NameRule => NameRule.Dns1123Label;

    protected override ValueTask PrepareForCreateAsync(V1Namespace obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1NamespaceSpec();
        obj.Spec.Finalizers = ["kubernetes"];
        obj.Status = new V1NamespaceStatus { Phase = "Active" };
        SetNameLabel(obj);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Namespace obj, V1Namespace old, bool dryRun, CancellationToken cancellationToken)
    {
        // spec.finalizers changes only through /finalize (the storage keeps the live ones on other writes).
        SetNameLabel(obj);
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1Namespace obj)
    {
        if (obj.Spec?.Finalizers is { } finalizers)
        {
            for (var i = 0; i < finalizers.Count; i++)
            {
                foreach (var msg in NameValidation.IsQualifiedName(finalizers[i]))
                {
                    yield return FieldError.Invalid($"spec.finalizers[{i}]", finalizers[i], msg);
                }
            }
        }
    }

    /// <summary>Upstream (since 1.21) keeps this label equal to the name on every namespace.</summary>
    private static void SetNameLabel(V1Namespace obj)
    {
        obj.Metadata.Labels ??= new Dictionary<string, string>();
        obj.Metadata.Labels[NameLabel] = obj.Metadata.Name;
    }
}
