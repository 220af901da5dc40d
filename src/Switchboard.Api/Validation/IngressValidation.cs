using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>
/// networking.k8s.io/v1 Ingress rules of v1.33 (pkg/apis/networking/validation): rules, hosts, paths per pathType,
/// backends, TLS, ingressClassName and the load-balancer status. Metadata is checked by <see cref="MetadataValidation"/>.
/// </summary>
public static class IngressValidation
{
    /// <summary>The legacy class annotation; when set with ingressClassName they must agree on create.</summary>
    public const string ClassAnnotation = "kubernetes.io/ingress.class";

    private static readonly string[] PathTypes = ["Exact", "ImplementationSpecific", "Prefix"];
    private static readonly string[] InvalidPathSequences = ["//", "/./", "/../", "%2f", "%2F"];
    private static readonly string[] InvalidPathSuffixes = ["/..", "/."];

    /// <summary>Ratcheting switches upstream derives from the old object on update.</summary>
    private readonly record struct Options(bool AllowInvalidSecretName, bool AllowInvalidWildcardHostRule);

    public static List<FieldError> ValidateCreate(V1Ingress ingress)
    {
        ArgumentNullException.ThrowIfNull(ingress);
        var errors = new List<FieldError>();
        ValidateSpec(ingress.Spec, new Options(false, false), errors);
        if (ingress.Metadata?.Annotations is { } annotations && annotations.TryGetValue(ClassAnnotation, out var annotation)
            && ingress.Spec?.IngressClassName is { } className && annotation != className)
        {
            errors.Add(FieldError.Invalid("annotations." + ClassAnnotation, annotation, "must match `ingressClassName` when both are specified"));
        }
        return errors;
    }

    public static List<FieldError> ValidateUpdate(V1Ingress ingress, V1Ingress old)
    {
        ArgumentNullException.ThrowIfNull(ingress);
        ArgumentNullException.ThrowIfNull(old);
        var errors = new List<FieldError>();
        ValidateSpec(ingress.Spec, new Options(AllowInvalidSecretName(old), AllowInvalidWildcardHostRule(old)), errors);
        return errors;
    }

    /// <summary>The status subresource: load-balancer ingress points (IPs the old status had are not re-checked).</summary>
    public static List<FieldError> ValidateStatusUpdate(V1Ingress ingress, V1Ingress old)
    {
        ArgumentNullException.ThrowIfNull(ingress);
        ArgumentNullException.ThrowIfNull(old);
        var errors = new List<FieldError>();
        var oldIPs = (old.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).Where(ip => !string.IsNullOrEmpty(ip)).ToList();
        var points = ingress.Status?.LoadBalancer?.Ingress ?? [];
        for (var i = 0; i < points.Count; i++)
        {
            var path = $"status.loadBalancer.ingress[{i}]";
            if (!string.IsNullOrEmpty(points[i].Ip))
            {
                IPValidation.IsValidIPForLegacyField(path + ".ip", points[i].Ip, oldIPs!, errors);
            }
            if (points[i].Hostname is { Length: > 0 } hostname)
            {
                foreach (var msg in NameValidation.IsDns1123Subdomain(hostname))
                {
                    errors.Add(FieldError.Invalid(path + ".hostname", hostname, msg));
                }
                if (IPValidation.IsIP(hostname))
                {
                    errors.Add(FieldError.Invalid(path + ".hostname", hostname, "must be a DNS name, not an IP address"));
                }
            }
        }
        return errors;
    }

    private static void ValidateSpec(V1IngressSpec? spec, Options options, List<FieldError> errors)
    {
        var rules = spec?.Rules;
        if ((rules is null || rules.Count == 0) && spec?.DefaultBackend is null)
        {
            // Upstream prints the Go value of spec.rules with %#v.
            var rendered = rules is null ? "[]networking.IngressRule(nil)" : "[]networking.IngressRule{}";
            errors.Add(FieldError.InvalidRaw("spec", rendered, "either `defaultBackend` or `rules` must be specified"));
        }
        if (spec is null)
        {
            return;
        }
        if (spec.DefaultBackend is not null)
        {
            ValidateBackend(spec.DefaultBackend, "spec.defaultBackend", errors);
        }
        if (rules is { Count: > 0 })
        {
            ValidateRules(rules, options, errors);
        }
        if (spec.Tls is { Count: > 0 } tls)
        {
            ValidateTls(tls, options, errors);
        }
        if (spec.IngressClassName is { } className)
        {
            foreach (var msg in NameValidation.IsDns1123Subdomain(className))
            {
                errors.Add(FieldError.Invalid("spec.ingressClassName", className, msg));
            }
        }
    }

    private static void ValidateTls(IList<V1IngressTLS> tls, Options options, List<FieldError> errors)
    {
        for (var t = 0; t < tls.Count; t++)
        {
            var hosts = tls[t].Hosts ?? [];
            for (var i = 0; i < hosts.Count; i++)
            {
                var field = $"spec.tls[{t}].hosts[{i}]";
                var messages = hosts[i].Contains('*', StringComparison.Ordinal)
                    ? NameValidation.IsWildcardDns1123Subdomain(hosts[i])
                    : NameValidation.IsDns1123Subdomain(hosts[i]);
                foreach (var msg in messages)
                {
                    errors.Add(FieldError.Invalid(field, hosts[i], msg));
                }
            }
            if (!options.AllowInvalidSecretName)
            {
                foreach (var msg in SecretNameErrors(tls[t].SecretName))
                {
                    errors.Add(FieldError.Invalid($"spec.tls[{t}].secretName", tls[t].SecretName, msg));
                }
            }
        }
    }

    private static IReadOnlyList<string> SecretNameErrors(string? name) =>
        string.IsNullOrEmpty(name) ? [] : NameValidation.IsDns1123Subdomain(name);

    private static void ValidateRules(IList<V1IngressRule> rules, Options options, List<FieldError> errors)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var path = $"spec.rules[{i}]";
            var wildcard = false;
            if (rule.Host is { Length: > 0 } host)
            {
                if (IPValidation.IsIP(host))
                {
                    errors.Add(FieldError.Invalid(path + ".host", host, "must be a DNS name, not an IP address"));
                }
                if (host.Contains('*', StringComparison.Ordinal))
                {
                    foreach (var msg in NameValidation.IsWildcardDns1123Subdomain(host))
                    {
                        errors.Add(FieldError.Invalid(path + ".host", host, msg));
                    }
                    wildcard = true;
                }
                else
                {
                    foreach (var msg in NameValidation.IsDns1123Subdomain(host))
                    {
                        errors.Add(FieldError.Invalid(path + ".host", host, msg));
                    }
                }
            }
            if (!wildcard || !options.AllowInvalidWildcardHostRule)
            {
                ValidateRuleValue(rule.Http, path, errors);
            }
        }
    }

    private static void ValidateRuleValue(V1HTTPIngressRuleValue? http, string path, List<FieldError> errors)
    {
        if (http is null)
        {
            return;
        }
        var paths = http.Paths ?? [];
        if (paths.Count == 0)
        {
            errors.Add(FieldError.Required(path + ".http.paths"));
        }
        for (var i = 0; i < paths.Count; i++)
        {
            ValidatePath(paths[i], $"{path}.http.paths[{i}]", errors);
        }
    }

    private static void ValidatePath(V1HTTPIngressPath httpPath, string path, List<FieldError> errors)
    {
        if (httpPath.PathType is not { } pathType)
        {
            errors.Add(FieldError.Required(path + ".pathType", "pathType must be specified"));
            return;
        }
        var value = httpPath.Path ?? "";
        switch (pathType)
        {
            case "Exact" or "Prefix":
                if (!value.StartsWith('/'))
                {
                    errors.Add(FieldError.Invalid(path + ".path", value, "must be an absolute path"));
                }
                if (value.Length > 0)
                {
                    foreach (var sequence in InvalidPathSequences)
                    {
                        if (value.Contains(sequence, StringComparison.Ordinal))
                        {
                            errors.Add(FieldError.Invalid(path + ".path", value, $"must not contain '{sequence}'"));
                        }
                    }
                    foreach (var suffix in InvalidPathSuffixes)
                    {
                        if (value.EndsWith(suffix, StringComparison.Ordinal))
                        {
                            errors.Add(FieldError.Invalid(path + ".path", value, $"cannot end with '{suffix}'"));
                        }
                    }
                }
                break;
            case "ImplementationSpecific":
                if (value.Length > 0 && !value.StartsWith('/'))
                {
                    errors.Add(FieldError.Invalid(path + ".path", value, "must be an absolute path"));
                }
                break;
            default:
                errors.Add(FieldError.NotSupported(path + ".pathType", pathType, PathTypes));
                break;
        }
        ValidateBackend(httpPath.Backend, path + ".backend", errors);
    }

    /// <summary>Upstream validateIngressBackend: service XOR resource; port name XOR number.</summary>
    public static void ValidateBackend(V1IngressBackend? backend, string path, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var resource = backend?.Resource;
        var service = backend?.Service;
        if (resource is not null && service is not null)
        {
            errors.Add(FieldError.Invalid(path, "", "cannot set both resource and service backends"));
            return;
        }
        if (resource is not null)
        {
            ValidateTypedLocalObjectReference(resource, path + ".resource", errors);
            return;
        }
        if (service is null)
        {
            errors.Add(FieldError.Invalid(path, "", "resource or service backend is required"));
            return;
        }
        if (string.IsNullOrEmpty(service.Name))
        {
            errors.Add(FieldError.Required(path + ".service.name"));
        }
        else
        {
            // v1.33 validates backend Service names as Service names (DNS-1035 labels).
            foreach (var msg in NameValidation.IsDns1035Label(service.Name))
            {
                errors.Add(FieldError.Invalid(path + ".service.name", service.Name, msg));
            }
        }
        var portName = service.Port?.Name ?? "";
        var portNumber = service.Port?.Number ?? 0;
        if (portName.Length > 0 && portNumber != 0)
        {
            errors.Add(FieldError.Invalid(path, "", "cannot set both port name & port number"));
        }
        else if (portName.Length > 0)
        {
            foreach (var msg in NameValidation.IsValidPortName(portName))
            {
                errors.Add(FieldError.Invalid(path + ".service.port.name", portName, msg));
            }
        }
        else if (portNumber != 0)
        {
            foreach (var msg in NameValidation.IsValidPortNum(portNumber))
            {
                errors.Add(FieldError.InvalidNumber(path + ".service.port.number", portNumber, msg));
            }
        }
        else
        {
            errors.Add(FieldError.Required(path, "port name or number is required"));
        }
    }

    private static void ValidateTypedLocalObjectReference(V1TypedLocalObjectReference reference, string path, List<FieldError> errors)
    {
        if (reference.ApiGroup is { } group)
        {
            foreach (var msg in NameValidation.IsDns1123Subdomain(group))
            {
                errors.Add(FieldError.Invalid(path + ".apiGroup", group, msg));
            }
        }
        PathSegment(reference.Kind, path + ".kind", errors);
        PathSegment(reference.Name, path + ".name", errors);
    }

    internal static void PathSegment(string? value, string field, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            errors.Add(FieldError.Required(field));
            return;
        }
        foreach (var msg in NameValidation.IsPathSegmentName(value))
        {
            errors.Add(FieldError.Invalid(field, value, msg));
        }
    }

    private static bool AllowInvalidSecretName(V1Ingress old) =>
        (old.Spec?.Tls ?? []).Any(t => SecretNameErrors(t.SecretName).Count > 0);

    private static bool AllowInvalidWildcardHostRule(V1Ingress old)
    {
        foreach (var rule in old.Spec?.Rules ?? [])
        {
            if (rule.Host is { } host && host.Contains('*', StringComparison.Ordinal))
            {
                var probe = new List<FieldError>();
                ValidateRuleValue(rule.Http, "", probe);
                if (probe.Count > 0)
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>The name a request's default IngressClass must carry: "true" in this annotation.</summary>
    public const string IsDefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class";

    /// <summary>
    /// Upstream's DefaultIngressClass admission (v1.33): among IngressClasses annotated is-default-class "true",
    /// the newest (creationTimestamp) wins, ties broken by the smaller name; null when none is marked.
    /// </summary>
    public static V1IngressClass? PickDefaultClass(IEnumerable<V1IngressClass> classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        V1IngressClass? best = null;
        foreach (var c in classes)
        {
            if (c.Metadata?.Annotations is not { } a || !a.TryGetValue(IsDefaultClassAnnotation, out var v) || v != "true")
            {
                continue;
            }
            if (best is null)
            {
                best = c;
                continue;
            }
            var t = c.Metadata.CreationTimestamp ?? DateTime.MinValue;
            var bt = best.Metadata.CreationTimestamp ?? DateTime.MinValue;
            if (t > bt || (t == bt && string.CompareOrdinal(c.Metadata.Name, best.Metadata.Name) < 0))
            {
                best = c;
            }
        }
        return best;
    }

    /// <summary>Whether upstream's admission would default this new Ingress's class (no class field, no legacy annotation).</summary>
    public static bool WantsDefaultClass(V1Ingress ingress)
    {
        ArgumentNullException.ThrowIfNull(ingress);
        return ingress.Spec?.IngressClassName is null
            && !(ingress.Metadata?.Annotations?.ContainsKey(ClassAnnotation) ?? false);
    }
}
