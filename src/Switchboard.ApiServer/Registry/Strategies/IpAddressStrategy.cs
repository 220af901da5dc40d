using k8s.Models;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Allocation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// networking.k8s.io/v1 IPAddress (upstream pkg/registry/networking/ipaddress and ValidateIPAddress): the name is an IP
/// in canonical form, spec.parentRef is required and immutable. The ClusterIP allocator creates and deletes these
/// objects; anyone else deleting one makes the repair pass look at it soon (it recreates a Service's address).
/// </summary>
internal sealed class IpAddressStrategy(ServiceAllocations allocations, AllocationRepair repair, ServiceCidrController serviceCidrs) : ResourceStrategy<V1IPAddress>
{
    /// <summary>IPv6 names have colons: only the path-segment rule applies; the IP rule is checked below.</summary>
    public override NameRule NameRule => NameRule.PathSegment;

    protected override IEnumerable<FieldError> Validate(V1IPAddress obj)
    {
        var errors = new List<FieldError>();
        var name = obj.Metadata?.Name ?? "";
        if (name.Length > 0)
        {
            if (IpText.Parse(name) is not { } ip)
            {
                errors.Add(FieldError.Invalid("metadata.name", name, ServiceValidation.InvalidIpMessage));
            }
            else if (IpText.Format(ip) != name)
            {
                errors.Add(FieldError.Invalid("metadata.name", name, $"must be in canonical form ({ServiceValidation.GoQuote(IpText.Format(ip))})"));
            }
        }
        var parent = obj.Spec?.ParentRef;
        if (parent is null)
        {
            errors.Add(FieldError.Required("spec.parentRef"));
            return errors;
        }
        if (!string.IsNullOrEmpty(parent.Group))
        {
            foreach (var msg in NameValidation.IsDns1123Subdomain(parent.Group))
            {
                errors.Add(FieldError.Invalid("spec.parentRef.group", parent.Group, msg));
            }
        }
        PathSegment(parent.Resource, "spec.parentRef.resource", required: true, errors);
        PathSegment(parent.Name, "spec.parentRef.name", required: true, errors);
        PathSegment(parent.NamespaceProperty, "spec.parentRef.namespace", required: false, errors);
        return errors;
    }

    protected override IEnumerable<FieldError> ValidateUpdate(V1IPAddress obj, V1IPAddress old)
    {
        var now = obj.Spec?.ParentRef;
        var before = old.Spec?.ParentRef;
        if (Render(now) != Render(before))
        {
            return [ServiceValidation.Raw("spec.parentRef", Render(now), "field is immutable")];
        }
        return [];
    }

    protected override void AfterDelete(V1IPAddress obj)
    {
        // The allocator's own releases are expected; any other delete may have taken a Service's address away.
        if (IpText.Parse(obj.Metadata?.Name) is { } ip && !allocations.IsReleasing(ip))
        {
            repair.Trigger();
        }
        // It may have been the last address keeping a terminating ServiceCIDR.
        serviceCidrs.TriggerIfTerminating();
    }

    /// <summary>Go's %#v of *networking.ParentReference as field errors print it (the pointer is dereferenced).</summary>
    private static string Render(V1ParentReference? p) => p is null
        ? "null"
        : $"networking.ParentReference{{Group:{ServiceValidation.GoQuote(p.Group ?? "")}, Resource:{ServiceValidation.GoQuote(p.Resource ?? "")}, Namespace:{ServiceValidation.GoQuote(p.NamespaceProperty ?? "")}, Name:{ServiceValidation.GoQuote(p.Name ?? "")}}}";

    private static void PathSegment(string? value, string path, bool required, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                errors.Add(FieldError.Required(path));
            }
            return;
        }
        foreach (var msg in NameValidation.IsPathSegmentName(value))
        {
            errors.Add(FieldError.Invalid(path, value, msg));
        }
    }
}

/// <summary>
/// networking.k8s.io/v1 ServiceCIDR (upstream pkg/registry/networking/servicecidr and ValidateServiceCIDR with its update
/// rules): one or two CIDRs of different families; the CIDRs are immutable except that a single-stack ServiceCIDR may
/// gain the other family (which is how the default `kubernetes` ServiceCIDR follows a cluster turned dual-stack).
/// Status is written through /status; as upstream, a create keeps the status it was given (the controller owns the
/// Ready condition from then on). Every write wakes the <see cref="ServiceCidrController"/>.
/// </summary>
internal sealed class ServiceCidrStrategy(ServiceCidrController controller) : ResourceStrategy<V1ServiceCIDR>
{
    protected override void AfterCreate(V1ServiceCIDR obj) => controller.Trigger();

    protected override void AfterUpdate(V1ServiceCIDR obj, V1ServiceCIDR old) => controller.Trigger();

    protected override void AfterDelete(V1ServiceCIDR obj) => controller.Trigger();

    protected override IEnumerable<FieldError> Validate(V1ServiceCIDR obj)
    {
        var errors = new List<FieldError>();
        var cidrs = obj.Spec?.Cidrs;
        const string path = "spec.cidrs";
        if (cidrs is null or { Count: 0 })
        {
            errors.Add(FieldError.Required(path, "at least one CIDR required"));
            return errors;
        }
        if (cidrs.Count > 2)
        {
            errors.Add(ServiceValidation.Raw(path, RenderSpec(cidrs), "may only hold up to 2 values"));
            return errors;
        }
        if (cidrs.Count == 2)
        {
            var a = IpText.ParseCidr(cidrs[0]);
            var b = IpText.ParseCidr(cidrs[1]);
            if (a is null || b is null || a.Value.Network.AddressFamily == b.Value.Network.AddressFamily)
            {
                errors.Add(ServiceValidation.Raw(path, RenderSpec(cidrs), "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"));
                return errors;
            }
        }
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (IpText.ParseCidr(cidrs[i]) is null)
            {
                errors.Add(FieldError.Invalid($"{path}[{i}]", cidrs[i], ServiceValidation.InvalidCidrMessage));
            }
        }
        return errors;
    }

    protected override IEnumerable<FieldError> ValidateUpdate(V1ServiceCIDR obj, V1ServiceCIDR old)
    {
        if (ReferenceEquals(obj.Spec, old.Spec))
        {
            // A status write: upstream checks only metadata there.
            return [];
        }
        var errors = new List<FieldError>();
        var now = obj.Spec?.Cidrs ?? [];
        var before = old.Spec?.Cidrs ?? [];
        const string immutable = "field is immutable";
        if (now.Count == before.Count)
        {
            for (var i = 0; i < before.Count; i++)
            {
                if (before[i] != now[i])
                {
                    errors.Add(FieldError.Invalid($"spec.cidrs[{i}]", now[i], immutable));
                }
            }
        }
        else if (before.Count == 1 && now.Count == 2)
        {
            // Turning dual-stack: the existing CIDR stays, the new one must be of the other family.
            if (now[0] != before[0])
            {
                errors.Add(FieldError.Invalid("spec.cidrs[0]", now[0], immutable));
            }
            errors.AddRange(Validate(obj));
        }
        else
        {
            errors.Add(ServiceValidation.Raw("spec.cidrs", ServiceValidation.StringSlice(obj.Spec?.Cidrs), immutable));
        }
        return errors;
    }

    private static string RenderSpec(IList<string> cidrs) => "networking.ServiceCIDRSpec{CIDRs:" + ServiceValidation.StringSlice(cidrs) + "}";
}
