namespace Switchboard.Api.Validation;

/// <summary>
/// IP and CIDR field rules of v1.33 (k8s.io/apimachinery/pkg/util/validation/ip.go and pkg/apis/core/validation's
/// ValidateEndpointIP), with upstream's messages. The StrictIPCIDRValidation gate is off in v1.33, so legacy fields
/// accept what Go's sloppy parser accepts (leading zeros, IPv4-mapped IPv6).
/// </summary>
public static class IPValidation
{
    public const string InvalidIPMessage = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    public const string InvalidCidrMessage = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

    public static bool IsIP(string value) => GoNet.ParseIP(value) is not null;

    public static bool IsCidr(string value) => GoNet.ParseCidr(value) is not null;

    /// <summary>True when the text is an IPv4 address (Go's To4() != nil, so IPv4-mapped IPv6 counts too).</summary>
    public static bool IsIPv4(string value) => GoNet.ParseIP(value) is { } ip && GoNet.To4(ip) is not null;

    /// <summary>Upstream IsValidIPForLegacyField: a value the old object already had is not re-checked.</summary>
    public static void IsValidIPForLegacyField(string field, string value, IReadOnlyCollection<string>? validOld, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (validOld is not null && validOld.Contains(value))
        {
            return;
        }
        if (!IsIP(value))
        {
            errors.Add(FieldError.Invalid(field, value, InvalidIPMessage));
        }
    }

    /// <summary>Upstream IsValidCIDRForLegacyField: a value the old object already had is not re-checked.</summary>
    public static void IsValidCidrForLegacyField(string field, string value, IReadOnlyCollection<string>? validOld, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (validOld is not null && validOld.Contains(value))
        {
            return;
        }
        if (!IsCidr(value))
        {
            errors.Add(FieldError.Invalid(field, value, InvalidCidrMessage));
        }
    }

    public static void IsValidIPv4Address(string field, string value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (GoNet.ParseIP(value) is not { } ip || GoNet.To4(ip) is null)
        {
            errors.Add(FieldError.Invalid(field, value, "must be a valid IPv4 address"));
        }
    }

    public static void IsValidIPv6Address(string field, string value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (GoNet.ParseIP(value) is not { } ip || GoNet.To4(ip) is not null)
        {
            errors.Add(FieldError.Invalid(field, value, "must be a valid IPv6 address"));
        }
    }

    /// <summary>
    /// Upstream ValidateEndpointIP (EndpointSlice and Endpoints addresses): no unspecified, loopback, link-local or
    /// link-local multicast addresses.
    /// </summary>
    public static void ValidateEndpointIP(string field, string value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (GoNet.ParseIP(value) is not { } ip)
        {
            errors.Add(FieldError.Invalid(field, value, "must be a valid IP address"));
            return;
        }
        if (GoNet.IsUnspecified(ip))
        {
            errors.Add(FieldError.Invalid(field, value, $"may not be unspecified ({value})"));
        }
        if (GoNet.IsLoopback(ip))
        {
            errors.Add(FieldError.Invalid(field, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
        }
        if (GoNet.IsLinkLocalUnicast(ip))
        {
            errors.Add(FieldError.Invalid(field, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
        }
        if (GoNet.IsLinkLocalMulticast(ip))
        {
            errors.Add(FieldError.Invalid(field, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
        }
    }

    /// <summary>
    /// k8s.io/utils/net IsDualStackCIDRStrings: true when the list holds both families. On an unparsable entry
    /// returns false with upstream's error text.
    /// </summary>
    public static bool IsDualStackCidrs(IReadOnlyList<string> cidrs, out string? error)
    {
        ArgumentNullException.ThrowIfNull(cidrs);
        error = null;
        bool v4 = false, v6 = false;
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (GoNet.ParseCidr(cidrs[i]) is not { } net)
            {
                error = $"invalid CIDR[{i}]: <nil> (invalid CIDR address: {cidrs[i]})";
                return false;
            }
            if (net.IsIPv4)
            {
                v4 = true;
            }
            else
            {
                v6 = true;
            }
        }
        return v4 && v6;
    }
}
