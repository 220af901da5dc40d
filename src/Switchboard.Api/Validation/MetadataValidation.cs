using System.Text;
using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>How a kind's names are checked (upstream ValidateNameFunc per registry).</summary>
public enum NameRule
{
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
}

/// <summary>ObjectMeta rules of k8s.io/apimachinery/pkg/api/validation (ValidateObjectMeta and its Update twin).</summary>
public static class MetadataValidation
{
    private const int TotalAnnotationSizeLimitB = 256 * 1024;

    public static IEnumerable<string> CheckName(NameRule rule, string name) => rule switch
    {
        NameRule.Dns1123Label => NameValidation.IsDns1123Label(name),
        NameRule.Dns1035Label => NameValidation.IsDns1035Label(name),
        NameRule.PathSegment => NameValidation.IsPathSegmentName(name),
        _ => NameValidation.IsDns1123Subdomain(name),
    };

    public static List<FieldError> ValidateCreate(V1ObjectMeta meta, NameRule rule, bool namespaced)
    {
        var errors = new List<FieldError>();
        if (!string.IsNullOrEmpty(meta.GenerateName))
        {
            foreach (var msg in CheckName(rule, MaskTrailingDash(meta.GenerateName)))
            {
                errors.Add(FieldError.Invalid("metadata.generateName", meta.GenerateName, msg));
            }
        }
        if (string.IsNullOrEmpty(meta.Name))
        {
            errors.Add(FieldError.Required("metadata.name", "name or generateName is required"));
        }
        else
        {
            foreach (var msg in CheckName(rule, meta.Name))
            {
                errors.Add(FieldError.Invalid("metadata.name", meta.Name, msg));
            }
        }
        if (namespaced)
        {
            if (string.IsNullOrEmpty(meta.NamespaceProperty))
            {
                errors.Add(FieldError.Required("metadata.namespace"));
            }
            else
            {
                foreach (var msg in NameValidation.IsDns1123Label(meta.NamespaceProperty))
                {
                    errors.Add(FieldError.Invalid("metadata.namespace", meta.NamespaceProperty, msg));
                }
            }
        }
        else if (!string.IsNullOrEmpty(meta.NamespaceProperty))
        {
            errors.Add(FieldError.Forbidden("metadata.namespace", "not allowed on this type"));
        }
        ValidateLabels(meta.Labels, "metadata.labels", errors);
        ValidateAnnotations(meta.Annotations, "metadata.annotations", errors);
        ValidateFinalizers(meta.Finalizers, errors);
        ValidateOwnerReferences(meta.OwnerReferences, errors);
        return errors;
    }

    public static List<FieldError> ValidateUpdate(V1ObjectMeta meta, V1ObjectMeta old, NameRule rule, bool namespaced)
    {
        var errors = ValidateCreate(meta, rule, namespaced);
        // generateName is not re-checked on update (it only matters for create).
        errors.RemoveAll(e => e.Field == "metadata.generateName");
        Immutable(meta.Name, old.Name, "metadata.name", errors);
        Immutable(meta.NamespaceProperty, old.NamespaceProperty, "metadata.namespace", errors);
        Immutable(meta.Uid, old.Uid, "metadata.uid", errors);
        if (meta.CreationTimestamp != old.CreationTimestamp)
        {
            errors.Add(FieldError.Invalid("metadata.creationTimestamp", Rfc3339(meta.CreationTimestamp), "field is immutable"));
        }
        if (old.DeletionTimestamp is not null && meta.DeletionTimestamp != old.DeletionTimestamp)
        {
            errors.Add(FieldError.Invalid("metadata.deletionTimestamp", Rfc3339(meta.DeletionTimestamp), "field is immutable; may only be changed via deletion"));
        }
        if (old.DeletionTimestamp is not null && old.Finalizers is { Count: > 0 } && meta.Finalizers is not null)
        {
            foreach (var f in meta.Finalizers.Where(f => !old.Finalizers.Contains(f)))
            {
                errors.Add(FieldError.Forbidden("metadata.finalizers", $"no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{f}\"}}"));
            }
        }
        return errors;
    }

    public static string? Rfc3339(DateTime? t) => t?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static void Immutable(string? value, string? old, string field, List<FieldError> errors)
    {
        if (!string.Equals(value ?? "", old ?? "", StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid(field, value ?? "", "field is immutable"));
        }
    }

    public static void ValidateLabels(IDictionary<string, string>? labels, string field, List<FieldError> errors)
    {
        if (labels is null)
        {
            return;
        }
        foreach (var (k, v) in labels)
        {
            foreach (var msg in NameValidation.IsQualifiedName(k))
            {
                errors.Add(FieldError.Invalid(field, k, msg));
            }
            foreach (var msg in NameValidation.IsValidLabelValue(v))
            {
                errors.Add(FieldError.Invalid(field, v, msg));
            }
        }
    }

    public static void ValidateAnnotations(IDictionary<string, string>? annotations, string field, List<FieldError> errors)
    {
        if (annotations is null)
        {
            return;
        }
        long total = 0;
        foreach (var (k, v) in annotations)
        {
            foreach (var msg in NameValidation.IsQualifiedName(k.ToLowerInvariant()))
            {
                errors.Add(FieldError.Invalid(field, k, msg));
            }
            total += Encoding.UTF8.GetByteCount(k) + Encoding.UTF8.GetByteCount(v);
        }
        if (total > TotalAnnotationSizeLimitB)
        {
            errors.Add(FieldError.TooLong(field, TotalAnnotationSizeLimitB) with { Detail = $"must have at most {TotalAnnotationSizeLimitB} bytes" });
        }
    }

    private static void ValidateFinalizers(IList<string>? finalizers, List<FieldError> errors)
    {
        if (finalizers is null)
        {
            return;
        }
        for (var i = 0; i < finalizers.Count; i++)
        {
            foreach (var msg in NameValidation.IsQualifiedName(finalizers[i]))
            {
                errors.Add(FieldError.Invalid($"metadata.finalizers[{i}]", finalizers[i], msg));
            }
        }
    }

    private static void ValidateOwnerReferences(IList<V1OwnerReference>? refs, List<FieldError> errors)
    {
        if (refs is null)
        {
            return;
        }
        var controllers = 0;
        for (var i = 0; i < refs.Count; i++)
        {
            var r = refs[i];
            var f = $"metadata.ownerReferences[{i}]";
            if (string.IsNullOrEmpty(r.ApiVersion))
            {
                errors.Add(FieldError.Invalid(f + ".apiVersion", r.ApiVersion ?? "", "version must not be empty"));
            }
            if (string.IsNullOrEmpty(r.Kind))
            {
                errors.Add(FieldError.Invalid(f + ".kind", r.Kind ?? "", "kind must not be empty"));
            }
            if (string.IsNullOrEmpty(r.Name))
            {
                errors.Add(FieldError.Invalid(f + ".name", r.Name ?? "", "name must not be empty"));
            }
            if (string.IsNullOrEmpty(r.Uid))
            {
                errors.Add(FieldError.Invalid(f + ".uid", r.Uid ?? "", "uid must not be empty"));
            }
            if (r.Controller == true)
            {
                controllers++;
            }
        }
        if (controllers > 1)
        {
            errors.Add(FieldError.Invalid("metadata.ownerReferences", null, "Only one reference can have Controller set to true") with { HasBadValue = false });
        }
    }

    /// <summary>generateName may end in '-' (upstream masks a trailing dash with 'a' before checking).</summary>
    private static string MaskTrailingDash(string name) =>
        name.Length > 1 && name[^1] == '-' ? name[..^1] + "a" : name;
}
