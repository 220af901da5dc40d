using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>
/// discovery.k8s.io/v1 EndpointSlice rules of v1.33 (pkg/apis/discovery/validation), after defaulting (port name "",
/// protocol TCP). Metadata is checked by <see cref="MetadataValidation"/>; these cover the rest.
/// </summary>
public static class EndpointSliceValidation
{
    public const int MaxEndpoints = 1000;
    public const int MaxAddresses = 100;

    /// <summary>v1.33's limit; the API reference text still says 100, the validation has allowed 20000 since v1.22.</summary>
    public const int MaxPorts = 20000;
    public const int MaxZoneHints = 8;
    public const int MaxNodeHints = 8;
    public const int MaxTopologyLabels = 16;

    private static readonly string[] AddressTypes = ["FQDN", "IPv4", "IPv6"];
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];

    public static List<FieldError> Validate(V1EndpointSlice slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        var errors = new List<FieldError>();
        ValidateAddressType(slice.AddressType, errors);
        ValidateEndpoints(slice.Endpoints, slice.AddressType, errors);
        ValidatePorts(slice.Ports, errors);
        return errors;
    }

    public static List<FieldError> ValidateUpdate(V1EndpointSlice slice, V1EndpointSlice old)
    {
        ArgumentNullException.ThrowIfNull(old);
        var errors = Validate(slice);
        if (!string.Equals(slice.AddressType ?? "", old.AddressType ?? "", StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid("addressType", slice.AddressType ?? "", "field is immutable"));
        }
        return errors;
    }

    private static void ValidateAddressType(string? addressType, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(addressType))
        {
            errors.Add(FieldError.Required("addressType"));
        }
        else if (!AddressTypes.Contains(addressType))
        {
            errors.Add(FieldError.NotSupported("addressType", addressType, AddressTypes));
        }
    }

    private static void ValidateEndpoints(IList<V1Endpoint>? endpoints, string? addressType, List<FieldError> errors)
    {
        if (endpoints is null)
        {
            return;
        }
        if (endpoints.Count > MaxEndpoints)
        {
            errors.Add(FieldError.TooMany("endpoints", endpoints.Count, MaxEndpoints));
            return;
        }
        for (var i = 0; i < endpoints.Count; i++)
        {
            var endpoint = endpoints[i];
            var path = $"endpoints[{i}]";
            var addresses = endpoint.Addresses ?? [];
            if (addresses.Count == 0)
            {
                errors.Add(FieldError.Required(path + ".addresses", "must contain at least 1 address"));
            }
            else if (addresses.Count > MaxAddresses)
            {
                errors.Add(FieldError.TooMany(path + ".addresses", addresses.Count, MaxAddresses));
            }
            for (var j = 0; j < addresses.Count; j++)
            {
                var field = $"{path}.addresses[{j}]";
                // Unknown address types fall through unvalidated, as upstream.
                switch (addressType)
                {
                    case "IPv4":
                        IPValidation.IsValidIPv4Address(field, addresses[j], errors);
                        IPValidation.ValidateEndpointIP(field, addresses[j], errors);
                        break;
                    case "IPv6":
                        IPValidation.IsValidIPv6Address(field, addresses[j], errors);
                        IPValidation.ValidateEndpointIP(field, addresses[j], errors);
                        break;
                    case "FQDN":
                        NameValidation.IsFullyQualifiedDomainName(field, addresses[j], errors);
                        break;
                    default:
                        break;
                }
            }
            if (endpoint.NodeName is { } nodeName)
            {
                foreach (var msg in NameValidation.IsDns1123Subdomain(nodeName))
                {
                    errors.Add(FieldError.Invalid(path + ".nodeName", nodeName, msg));
                }
            }
            if (endpoint.DeprecatedTopology is { } topology)
            {
                if (topology.Count > MaxTopologyLabels)
                {
                    errors.Add(FieldError.TooMany(path + ".deprecatedTopology", topology.Count, MaxTopologyLabels));
                }
                MetadataValidation.ValidateLabels(topology, path + ".deprecatedTopology", errors);
            }
            if (endpoint.Hostname is { } hostname)
            {
                foreach (var msg in NameValidation.IsDns1123Label(hostname))
                {
                    errors.Add(FieldError.Invalid(path + ".hostname", hostname, msg));
                }
            }
            if (endpoint.Hints is { } hints)
            {
                ValidateHints(hints, path + ".hints", errors);
            }
        }
    }

    private static void ValidateHints(V1EndpointHints hints, string path, List<FieldError> errors)
    {
        var zones = hints.ForZones ?? [];
        if (zones.Count > MaxZoneHints)
        {
            // Upstream returns here, so forNodes is not looked at either.
            errors.Add(FieldError.TooMany(path + ".forZones", zones.Count, MaxZoneHints));
            return;
        }
        var seenZones = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < zones.Count; i++)
        {
            var field = $"{path}.forZones[{i}].name";
            var name = zones[i].Name ?? "";
            if (!seenZones.Add(name))
            {
                errors.Add(FieldError.Duplicate(field, name));
            }
            foreach (var msg in NameValidation.IsValidLabelValue(name))
            {
                errors.Add(FieldError.Invalid(field, name, msg));
            }
        }

        var nodes = hints.ForNodes ?? [];
        if (nodes.Count > MaxNodeHints)
        {
            errors.Add(FieldError.TooMany(path + ".forNodes", nodes.Count, MaxNodeHints));
            return;
        }
        var seenNodes = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            var field = $"{path}.forNodes[{i}].name";
            var name = nodes[i].Name ?? "";
            if (!seenNodes.Add(name))
            {
                errors.Add(FieldError.Duplicate(field, name));
            }
            foreach (var msg in NameValidation.IsDns1123Subdomain(name))
            {
                errors.Add(FieldError.Invalid(field, name, msg));
            }
        }
    }

    private static void ValidatePorts(IList<Discoveryv1EndpointPort>? ports, List<FieldError> errors)
    {
        if (ports is null)
        {
            return;
        }
        if (ports.Count > MaxPorts)
        {
            errors.Add(FieldError.TooMany("ports", ports.Count, MaxPorts));
            return;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            var path = $"ports[{i}]";
            var name = port.Name ?? "";
            if (name.Length > 0)
            {
                foreach (var msg in NameValidation.IsDns1123Label(name))
                {
                    errors.Add(FieldError.Invalid(path + ".name", name, msg));
                }
            }
            if (!names.Add(name))
            {
                errors.Add(FieldError.Duplicate(path + ".name", name));
            }
            if (port.Protocol is null)
            {
                errors.Add(FieldError.Required(path + ".protocol"));
            }
            else if (!Protocols.Contains(port.Protocol))
            {
                errors.Add(FieldError.NotSupported(path + ".protocol", port.Protocol, Protocols));
            }
            if (port.AppProtocol is { } appProtocol)
            {
                foreach (var msg in NameValidation.IsQualifiedName(appProtocol))
                {
                    errors.Add(FieldError.Invalid(path + ".appProtocol", appProtocol, msg));
                }
            }
        }
    }
}
