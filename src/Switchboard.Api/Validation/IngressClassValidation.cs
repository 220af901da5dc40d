using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>networking.k8s.io/v1 IngressClass rules of v1.33: controller (domain-prefixed path, immutable) and parameters.</summary>
public static class IngressClassValidation
{
    public const int MaxControllerLength = 250;

    private static readonly string[] Scopes = ["Cluster", "Namespace"];

    public static List<FieldError> Validate(V1IngressClass ingressClass)
    {
        ArgumentNullException.ThrowIfNull(ingressClass);
        var errors = new List<FieldError>();
        ValidateSpec(ingressClass.Spec, errors);
        return errors;
    }

    public static List<FieldError> ValidateUpdate(V1IngressClass ingressClass, V1IngressClass old)
    {
        ArgumentNullException.ThrowIfNull(ingressClass);
        ArgumentNullException.ThrowIfNull(old);
        var errors = new List<FieldError>();
        var controller = ingressClass.Spec?.Controller ?? "";
        if (!string.Equals(controller, old.Spec?.Controller ?? "", StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid("spec.controller", controller, "field is immutable"));
        }
        ValidateSpec(ingressClass.Spec, errors);
        return errors;
    }

    private static void ValidateSpec(V1IngressClassSpec? spec, List<FieldError> errors)
    {
        var controller = spec?.Controller ?? "";
        if (controller.Length == 0)
        {
            errors.Add(FieldError.Required("spec.controller"));
        }
        else
        {
            if (GoText.ByteLength(controller) > MaxControllerLength)
            {
                errors.Add(FieldError.TooLong("spec.controller", MaxControllerLength));
            }
            NameValidation.IsDomainPrefixedPath("spec.controller", controller, errors);
        }
        if (spec?.Parameters is { } parameters)
        {
            ValidateParameters(parameters, errors);
        }
    }

    private static void ValidateParameters(V1IngressClassParametersReference parameters, List<FieldError> errors)
    {
        const string path = "spec.parameters";
        if (parameters.ApiGroup is { } group)
        {
            foreach (var msg in NameValidation.IsDns1123Subdomain(group))
            {
                errors.Add(FieldError.Invalid(path + ".apiGroup", group, msg));
            }
        }
        IngressValidation.PathSegment(parameters.Kind, path + ".kind", errors);
        IngressValidation.PathSegment(parameters.Name, path + ".name", errors);
        if (parameters.Scope is not { } scope)
        {
            errors.Add(FieldError.Required(path + ".scope"));
            return;
        }
        if (!Scopes.Contains(scope))
        {
            errors.Add(FieldError.NotSupported(path + ".scope", scope, Scopes));
            return;
        }
        if (scope == "Namespace")
        {
            if (parameters.NamespaceProperty is not { } ns)
            {
                errors.Add(FieldError.Required(path + ".namespace", "`parameters.scope` is set to 'Namespace'"));
            }
            else
            {
                foreach (var msg in NameValidation.IsDns1123Label(ns))
                {
                    errors.Add(FieldError.Invalid(path + ".namespace", ns, msg));
                }
            }
        }
        if (scope == "Cluster" && parameters.NamespaceProperty is not null)
        {
            errors.Add(FieldError.Forbidden(path + ".namespace", "`parameters.scope` is set to 'Cluster'"));
        }
    }
}
