using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>Upstream k8s.io/apimachinery/pkg/apis/meta/v1/validation ValidateLabelSelector and its requirement rules.</summary>
public static class LabelSelectorValidation
{
    /// <param name="selector">Null is valid (nothing to check).</param>
    /// <param name="allowInvalidLabelValue">Ratcheting: skip value checks when the old object already had bad values.</param>
    /// <param name="field">The selector's path, e.g. "spec.podSelector".</param>
    /// <param name="errors">Errors are appended here.</param>
    public static void Validate(V1LabelSelector? selector, bool allowInvalidLabelValue, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (selector is null)
        {
            return;
        }
        MetadataValidation.ValidateLabels(selector.MatchLabels, field + ".matchLabels", errors);
        var expressions = selector.MatchExpressions ?? [];
        for (var i = 0; i < expressions.Count; i++)
        {
            ValidateRequirement(expressions[i], allowInvalidLabelValue, $"{field}.matchExpressions[{i}]", errors);
        }
    }

    /// <summary>True when <see cref="Validate"/> would report anything (used to ratchet updates of old objects).</summary>
    public static bool HasErrors(V1LabelSelector? selector)
    {
        var errors = new List<FieldError>();
        Validate(selector, false, "", errors);
        return errors.Count > 0;
    }

    private static void ValidateRequirement(V1LabelSelectorRequirement requirement, bool allowInvalidLabelValue, string field, List<FieldError> errors)
    {
        var values = requirement.Values ?? [];
        switch (requirement.OperatorProperty)
        {
            case "In" or "NotIn":
                if (values.Count == 0)
                {
                    errors.Add(FieldError.Required(field + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
                }
                break;
            case "Exists" or "DoesNotExist":
                if (values.Count > 0)
                {
                    errors.Add(FieldError.Forbidden(field + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
                }
                break;
            default:
                errors.Add(FieldError.Invalid(field + ".operator", requirement.OperatorProperty ?? "", "not a valid selector operator"));
                break;
        }
        foreach (var msg in NameValidation.IsQualifiedName(requirement.Key ?? ""))
        {
            errors.Add(FieldError.Invalid(field + ".key", requirement.Key ?? "", msg));
        }
        if (!allowInvalidLabelValue)
        {
            for (var i = 0; i < values.Count; i++)
            {
                foreach (var msg in NameValidation.IsValidLabelValue(values[i]))
                {
                    errors.Add(FieldError.Invalid($"{field}.values[{i}]", values[i], msg));
                }
            }
        }
    }
}
