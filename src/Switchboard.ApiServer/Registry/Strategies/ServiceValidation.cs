using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using k8s.Models;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Allocation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// Service validation as upstream v1.33 pkg/apis/core/validation (ValidateService, validateServicePort,
/// ValidateServiceClusterIPsRelatedFields, validateUpgradeDowngrade*, ValidateLoadBalancerStatus): same rules, same
/// order, same field paths and messages, bad values rendered as Go's field errors print them (numbers bare, strings
/// quoted, slices and structs in %#v form). Metadata is checked by the generic storage.
/// </summary>
internal static partial class ServiceValidation
{
    public const string TopologyAwareHintsAnnotation = "service.kubernetes.io/topology-aware-hints";
    public const string TopologyModeAnnotation = "service.kubernetes.io/topology-mode";
    public const string LoadBalancerSourceRangesAnnotation = "service.beta.kubernetes.io/load-balancer-source-ranges";
    public const int MaxClientIpAffinitySeconds = 86400;

    private static readonly string[] ServiceTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    private static readonly string[] Affinities = ["ClientIP", "None"];
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];
    private static readonly string[] TrafficPolicies = ["Cluster", "Local"];
    private static readonly string[] IpFamilies = ["IPv4", "IPv6"];
    private static readonly string[] IpFamilyPolicies = ["PreferDualStack", "RequireDualStack", "SingleStack"];
    private static readonly string[] IpModes = ["Proxy", "VIP"];

    /// <summary>
    /// v1.33 accepts PreferClose; ARCHITECTURE.md asks for the later PreferSameZone/PreferSameNode gates to be on,
    /// which is v1.34's list in v1.34's order.
    /// </summary>
    private static readonly string[] TrafficDistributions = ["PreferClose", "PreferSameZone", "PreferSameNode"];

    public static bool IsHeadless(V1Service s) => s.Spec?.ClusterIPs is [ "None" ];

    /// <summary>apiservice.ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with externalIPs.</summary>
    public static bool ExternallyAccessible(V1Service s) =>
        s.Spec?.Type is "LoadBalancer" or "NodePort" || (s.Spec?.Type == "ClusterIP" && s.Spec.ExternalIPs is { Count: > 0 });

    /// <summary>apiservice.NeedsHealthCheck: only LoadBalancers with externalTrafficPolicy Local (not NodePort).</summary>
    public static bool NeedsHealthCheck(V1Service s) => s.Spec?.Type == "LoadBalancer" && s.Spec.ExternalTrafficPolicy == "Local";

    public static List<FieldError> ValidateService(V1Service service)
    {
        var errors = new List<FieldError>();
        var spec = service.Spec ?? new V1ServiceSpec();
        var annotations = service.Metadata?.Annotations;

        if (annotations is not null
            && annotations.TryGetValue(TopologyAwareHintsAnnotation, out var hints)
            && annotations.TryGetValue(TopologyModeAnnotation, out var mode)
            && hints != mode)
        {
            errors.Add(FieldError.Invalid($"metadata.annotations[{TopologyModeAnnotation}]", mode,
                $"must match annotations[{TopologyAwareHintsAnnotation}] when both are specified"));
        }

        var headless = IsHeadless(service);
        if ((spec.Ports is null || spec.Ports.Count == 0) && !headless && spec.Type != "ExternalName")
        {
            errors.Add(FieldError.Required("spec.ports"));
        }

        switch (spec.Type)
        {
            case "LoadBalancer" when headless:
                errors.Add(FieldError.Invalid("spec.clusterIPs[0]", spec.ClusterIPs![0], "may not be set to 'None' for LoadBalancer services"));
                break;
            case "NodePort" when headless:
                errors.Add(FieldError.Invalid("spec.clusterIPs[0]", spec.ClusterIPs![0], "may not be set to 'None' for NodePort services"));
                break;
            case "ExternalName":
                if (spec.ClusterIPs is { Count: > 0 })
                {
                    errors.Add(FieldError.Forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
                }
                if (spec.IpFamilies is { Count: > 0 })
                {
                    errors.Add(FieldError.Forbidden("spec.ipFamilies", "may not be set for ExternalName services"));
                }
                if (spec.IpFamilyPolicy is not null)
                {
                    errors.Add(FieldError.Forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"));
                }
                // A CNAME may end in a dot to say it is fully qualified.
                var cname = (spec.ExternalName ?? "").EndsWith('.') ? spec.ExternalName![..^1] : spec.ExternalName ?? "";
                if (cname.Length > 0)
                {
                    foreach (var msg in NameValidation.IsDns1123Subdomain(cname))
                    {
                        errors.Add(FieldError.Invalid("spec.externalName", cname, msg));
                    }
                }
                else
                {
                    errors.Add(FieldError.Required("spec.externalName"));
                }
                break;
            default:
                break;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var ports = spec.Ports ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            ValidatePort(ports[i], ports.Count > 1, names, Index("spec.ports", i), errors);
        }

        if (spec.Selector is not null)
        {
            MetadataValidation.ValidateLabels(spec.Selector, "spec.selector", errors);
        }

        if (string.IsNullOrEmpty(spec.SessionAffinity))
        {
            errors.Add(FieldError.Required("spec.sessionAffinity"));
        }
        else if (!Affinities.Contains(spec.SessionAffinity))
        {
            errors.Add(FieldError.NotSupported("spec.sessionAffinity", spec.SessionAffinity, Affinities));
        }
        if (spec.SessionAffinity == "ClientIP")
        {
            ValidateClientIpAffinity(spec.SessionAffinityConfig, errors);
        }
        else if (spec.SessionAffinity == "None" && spec.SessionAffinityConfig is not null)
        {
            errors.Add(FieldError.Forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"));
        }

        errors.AddRange(ValidateClusterIpsRelatedFields(service));

        var externalIps = spec.ExternalIPs ?? [];
        for (var i = 0; i < externalIps.Count; i++)
        {
            var path = Index("spec.externalIPs", i);
            if (IpText.Parse(externalIps[i]) is null)
            {
                errors.Add(FieldError.Invalid(path, externalIps[i], InvalidIpMessage));
            }
            else
            {
                ValidateNonSpecialIp(externalIps[i], path, errors);
            }
        }

        if (string.IsNullOrEmpty(spec.Type))
        {
            errors.Add(FieldError.Required("spec.type"));
        }
        else if (!ServiceTypes.Contains(spec.Type))
        {
            errors.Add(FieldError.NotSupported("spec.type", spec.Type, ServiceTypes));
        }

        if (spec.Type == "ClusterIP")
        {
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i].NodePort is { } np && np != 0)
                {
                    errors.Add(FieldError.Forbidden(Index("spec.ports", i) + ".nodePort", "may not be used when `type` is 'ClusterIP'"));
                }
            }
        }

        var nodePorts = new HashSet<(string?, int)>();
        for (var i = 0; i < ports.Count; i++)
        {
            var np = ports[i].NodePort ?? 0;
            if (np == 0)
            {
                continue;
            }
            if (!nodePorts.Add((ports[i].Protocol, np)))
            {
                errors.Add(new FieldError(FieldErrorType.Duplicate, Index("spec.ports", i) + ".nodePort", np.ToString(CultureInfo.InvariantCulture), "") { RawValue = true });
            }
        }

        var seen = new HashSet<(string?, int)>();
        for (var i = 0; i < ports.Count; i++)
        {
            var key = (ports[i].Protocol, ports[i].Port);
            if (!seen.Add(key))
            {
                // Upstream reports the map key, a core.ServicePort with only protocol and port set, in %#v form.
                var text = string.Create(CultureInfo.InvariantCulture,
                    $"core.ServicePort{{Name:\"\", Protocol:{GoQuote(ports[i].Protocol ?? "")}, AppProtocol:(*string)(nil), Port:{ports[i].Port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}");
                errors.Add(new FieldError(FieldErrorType.Duplicate, Index("spec.ports", i), text, "") { RawValue = true });
            }
        }

        if (spec.LoadBalancerSourceRanges is { Count: > 0 } ranges)
        {
            // Upstream's path really is capitalised here.
            const string path = "spec.LoadBalancerSourceRanges";
            if (spec.Type != "LoadBalancer")
            {
                errors.Add(FieldError.Forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
            }
            for (var i = 0; i < ranges.Count; i++)
            {
                // Space padding is tolerated for historical reasons (the annotation allowed it).
                var value = ranges[i].Trim();
                if (IpText.ParseCidr(value) is null)
                {
                    errors.Add(FieldError.Invalid(Index(path, i), value, InvalidCidrMessage));
                }
            }
        }
        else if (annotations is not null && annotations.TryGetValue(LoadBalancerSourceRangesAnnotation, out var annotation))
        {
            var path = $"metadata.annotations[{LoadBalancerSourceRangesAnnotation}]";
            if (spec.Type != "LoadBalancer")
            {
                errors.Add(FieldError.Forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
            }
            var value = annotation.Trim();
            if (value.Length > 0)
            {
                foreach (var cidr in value.Split(','))
                {
                    var trimmed = cidr.Trim();
                    if (IpText.ParseCidr(trimmed) is null)
                    {
                        errors.Add(FieldError.Invalid(path, trimmed, InvalidCidrMessage));
                    }
                }
            }
        }

        if (spec.AllocateLoadBalancerNodePorts is not null && spec.Type != "LoadBalancer")
        {
            errors.Add(FieldError.Forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"));
        }
        if (spec.Type == "LoadBalancer" && spec.AllocateLoadBalancerNodePorts is null)
        {
            // Upstream's path lacks the "spec." prefix.
            errors.Add(FieldError.Required("allocateLoadBalancerNodePorts"));
        }

        ValidateLoadBalancerClass(null, service, errors);
        ValidateExternalTrafficPolicy(service, errors);

        if (spec.InternalTrafficPolicy is null)
        {
            // Not required for ExternalName: stored objects of that type may lack it.
            if (spec.Type is "NodePort" or "LoadBalancer" or "ClusterIP")
            {
                errors.Add(FieldError.Required("spec.internalTrafficPolicy"));
            }
        }
        else if (!TrafficPolicies.Contains(spec.InternalTrafficPolicy))
        {
            errors.Add(FieldError.NotSupported("spec.internalTrafficPolicy", spec.InternalTrafficPolicy, TrafficPolicies));
        }

        if (spec.TrafficDistribution is { } distribution && !TrafficDistributions.Contains(distribution))
        {
            errors.Add(FieldError.NotSupported("spec.trafficDistribution", distribution, TrafficDistributions));
        }
        return errors;
    }

    public static List<FieldError> ValidateServiceUpdate(V1Service service, V1Service old)
    {
        var errors = new List<FieldError>();
        ValidateUpgradeDowngradeClusterIps(old, service, errors);
        ValidateUpgradeDowngradeIpFamilies(old, service, errors);
        ValidateLoadBalancerClass(old, service, errors);
        if (NeedsHealthCheck(old) && NeedsHealthCheck(service) && (service.Spec.HealthCheckNodePort ?? 0) != (old.Spec.HealthCheckNodePort ?? 0))
        {
            errors.Add(FieldError.Forbidden("spec.healthCheckNodePort", "field is immutable"));
        }
        errors.AddRange(ValidateService(service));
        return errors;
    }

    /// <summary>ValidateServiceStatusUpdate (metadata is checked by the storage).</summary>
    public static List<FieldError> ValidateStatus(V1Service service)
    {
        var errors = new List<FieldError>();
        var ingress = service.Status?.LoadBalancer?.Ingress ?? [];
        const string path = "status.loadBalancer.ingress";
        // AllowServiceLBStatusOnNonLB is off by default in v1.33.
        if (service.Spec?.Type != "LoadBalancer" && ingress.Count != 0)
        {
            errors.Add(FieldError.Forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'"));
            return errors;
        }
        for (var i = 0; i < ingress.Count; i++)
        {
            var item = ingress[i];
            var at = Index(path, i);
            if (!string.IsNullOrEmpty(item.Ip) && IpText.Parse(item.Ip) is null)
            {
                errors.Add(FieldError.Invalid(at + ".ip", item.Ip, InvalidIpMessage));
            }
            if (item.IpMode is null)
            {
                if (!string.IsNullOrEmpty(item.Ip))
                {
                    errors.Add(FieldError.Required(at + ".ipMode", "must be specified when `ip` is set"));
                }
            }
            else if (string.IsNullOrEmpty(item.Ip))
            {
                errors.Add(FieldError.Forbidden(at + ".ipMode", "may not be specified when `ip` is not set"));
            }
            else if (!IpModes.Contains(item.IpMode))
            {
                errors.Add(FieldError.NotSupported(at + ".ipMode", item.IpMode, IpModes));
            }
            if (!string.IsNullOrEmpty(item.Hostname))
            {
                foreach (var msg in NameValidation.IsDns1123Subdomain(item.Hostname))
                {
                    errors.Add(FieldError.Invalid(at + ".hostname", item.Hostname, msg));
                }
                if (IpText.Parse(item.Hostname) is not null)
                {
                    errors.Add(FieldError.Invalid(at + ".hostname", item.Hostname, "must be a DNS name, not an IP address"));
                }
            }
        }
        return errors;
    }

    /// <summary>
    /// ValidateServiceClusterIPsRelatedFields: clusterIP/clusterIPs in sync, families and policy values, IP syntax, at
    /// most one IP per family, IPs matching their families. The allocator runs it before allocating (as upstream).
    /// </summary>
    public static List<FieldError> ValidateClusterIpsRelatedFields(V1Service service)
    {
        var errors = new List<FieldError>();
        var spec = service.Spec ?? new V1ServiceSpec();
        if (spec.Type == "ExternalName")
        {
            return errors;
        }
        var clusterIps = spec.ClusterIPs;
        var count = clusterIps?.Count ?? 0;
        if (!string.IsNullOrEmpty(spec.ClusterIP))
        {
            if (count == 0)
            {
                errors.Add(FieldError.Required("spec.clusterIPs"));
            }
            else if (clusterIps![0] != spec.ClusterIP)
            {
                errors.Add(Raw("spec.clusterIPs", StringSlice(clusterIps), "first value must match `clusterIP`"));
            }
        }
        else if (count != 0)
        {
            errors.Add(Raw("spec.clusterIPs", StringSlice(clusterIps), "must be empty when `clusterIP` is not specified"));
        }

        var families = spec.IpFamilies ?? [];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < families.Count; i++)
        {
            if (!IpFamilies.Contains(families[i]))
            {
                errors.Add(FieldError.NotSupported(Index("spec.ipFamilies", i), families[i], IpFamilies));
            }
            if (!seen.Add(families[i]))
            {
                errors.Add(FieldError.Duplicate(Index("spec.ipFamilies", i), families[i]));
            }
        }

        if (spec.IpFamilyPolicy is { } policy && !IpFamilyPolicies.Contains(policy))
        {
            errors.Add(FieldError.NotSupported("spec.ipFamilyPolicy", policy, IpFamilyPolicies));
        }

        var invalid = false;
        for (var i = 0; i < count; i++)
        {
            var ip = clusterIps![i];
            if (i == 0 && ip == "None")
            {
                if (count > 1)
                {
                    invalid = true;
                    errors.Add(Raw("spec.clusterIPs", StringSlice(clusterIps), "'None' must be the first and only value"));
                }
                continue;
            }
            if (IpText.Parse(ip) is null)
            {
                invalid = true;
                errors.Add(FieldError.Invalid(Index("spec.clusterIPs", i), ip, InvalidIpMessage));
            }
        }
        if (count > 2)
        {
            errors.Add(Raw("spec.clusterIPs", StringSlice(clusterIps), "may only hold up to 2 values"));
        }
        // Bad IPs would skew the family checks below.
        if (invalid)
        {
            return errors;
        }
        if (count > 1 && !IsDualStack(clusterIps!))
        {
            errors.Add(Raw("spec.clusterIPs", StringSlice(clusterIps), "may specify no more than one IP for each IP family"));
        }
        if (!IsHeadless(service) && count > 0 && families.Count > 0)
        {
            for (var i = 0; i < count && i < families.Count; i++)
            {
                var isV6 = IpText.IsIPv6(clusterIps![i]);
                if (families[i] == "IPv4" && isV6)
                {
                    errors.Add(FieldError.Invalid(Index("spec.clusterIPs", i), clusterIps[i], $"expected an IPv4 value as indicated by `ipFamilies[{i}]`"));
                }
                if (families[i] == "IPv6" && !isV6)
                {
                    errors.Add(FieldError.Invalid(Index("spec.clusterIPs", i), clusterIps[i], $"expected an IPv6 value as indicated by `ipFamilies[{i}]`"));
                }
            }
        }
        return errors;
    }

    public const string InvalidIpMessage = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    public const string InvalidCidrMessage = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

    /// <summary>ValidateNonSpecialIP, used for externalIPs (and by upstream for endpoints).</summary>
    public static void ValidateNonSpecialIp(string value, string path, List<FieldError> errors)
    {
        var ip = IpText.Parse(value);
        if (ip is null)
        {
            errors.Add(FieldError.Invalid(path, value, "must be a valid IP address"));
            return;
        }
        var bytes = ip.GetAddressBytes();
        var v4 = ip.AddressFamily == AddressFamily.InterNetwork;
        if (ip.Equals(System.Net.IPAddress.Any) || ip.Equals(System.Net.IPAddress.IPv6Any))
        {
            errors.Add(FieldError.Invalid(path, value, $"may not be unspecified ({value})"));
        }
        if (v4 ? bytes[0] == 127 : ip.Equals(System.Net.IPAddress.IPv6Loopback))
        {
            errors.Add(FieldError.Invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
        }
        if (v4 ? bytes[0] == 169 && bytes[1] == 254 : bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
        {
            errors.Add(FieldError.Invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
        }
        // Go's IsLinkLocalMulticast: 224.0.0.0/24 and ff02::/16 (the message says /10, as upstream's does).
        if (v4 ? bytes[0] == 224 && bytes[1] == 0 && bytes[2] == 0 : bytes[0] == 0xff && (bytes[1] & 0x0f) == 0x02)
        {
            errors.Add(FieldError.Invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
        }
    }

    /// <summary>Go's %#v of a []string: []string{"a", "b"}, or []string(nil).</summary>
    public static string StringSlice(IList<string>? values) => Slice("[]string", values);

    /// <summary>Go's %#v of a []core.IPFamily.</summary>
    public static string FamilySlice(IList<string>? values) => Slice("[]core.IPFamily", values);

    /// <summary>An Invalid error whose bad value is already in Go syntax (printed without quotes).</summary>
    public static FieldError Raw(string field, string goValue, string detail) =>
        new(FieldErrorType.Invalid, field, goValue, detail) { RawValue = true };

    /// <summary>Go's %q: quotes and escapes like strconv.Quote (printable Unicode is kept).</summary>
    public static string GoQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var rune in s.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < 0x20 or 0x7f:
                    sb.Append("\\x").Append(rune.Value.ToString("x2", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(rune.ToString());
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static string Slice(string type, IList<string>? values) =>
        values is null ? type + "(nil)" : type + "{" + string.Join(", ", values.Select(GoQuote)) + "}";

    private static string Index(string path, int i) => path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]";

    private static bool IsDualStack(IList<string> ips)
    {
        var v4 = 0;
        var v6 = 0;
        foreach (var ip in ips)
        {
            if (IpText.IsIPv6(ip))
            {
                v6++;
            }
            else
            {
                v4++;
            }
        }
        return v4 > 0 && v6 > 0;
    }

    private static void ValidatePort(V1ServicePort port, bool requireName, HashSet<string> names, string path, List<FieldError> errors)
    {
        if (requireName && string.IsNullOrEmpty(port.Name))
        {
            errors.Add(FieldError.Required(path + ".name"));
        }
        else if (!string.IsNullOrEmpty(port.Name))
        {
            foreach (var msg in NameValidation.IsDns1123Label(port.Name))
            {
                errors.Add(FieldError.Invalid(path + ".name", port.Name, msg));
            }
            if (!names.Add(port.Name))
            {
                errors.Add(FieldError.Duplicate(path + ".name", port.Name));
            }
        }
        if (port.Port is < 1 or > 65535)
        {
            errors.Add(FieldError.InvalidNumber(path + ".port", port.Port, PortRangeMessage));
        }
        if (string.IsNullOrEmpty(port.Protocol))
        {
            errors.Add(FieldError.Required(path + ".protocol"));
        }
        else if (!Protocols.Contains(port.Protocol))
        {
            errors.Add(FieldError.NotSupported(path + ".protocol", port.Protocol, Protocols));
        }
        ValidatePortNumOrName(port.TargetPort?.Value, path + ".targetPort", errors);
        if (port.AppProtocol is { } appProtocol)
        {
            foreach (var msg in NameValidation.IsQualifiedName(appProtocol))
            {
                errors.Add(FieldError.Invalid(path + ".appProtocol", appProtocol, msg));
            }
        }
    }

    private const string PortRangeMessage = "must be between 1 and 65535, inclusive";

    /// <summary>
    /// ValidatePortNumOrName. The client model keeps IntOrString as text and cannot tell 8080 from "8080", so a
    /// numeric text is a number here (upstream would reject the string "8080" as a port name).
    /// </summary>
    public static void ValidatePortNumOrName(string? value, string path, List<FieldError> errors)
    {
        value ??= "";
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            if (number is < 1 or > 65535)
            {
                errors.Add(FieldError.InvalidNumber(path, number, PortRangeMessage));
            }
            return;
        }
        if (value.Length > 15)
        {
            errors.Add(FieldError.Invalid(path, value, "must be no more than 15 characters"));
        }
        if (!PortNameCharset().IsMatch(value))
        {
            errors.Add(FieldError.Invalid(path, value, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"));
        }
        if (!PortNameLetter().IsMatch(value))
        {
            errors.Add(FieldError.Invalid(path, value, "must contain at least one letter (a-z)"));
        }
        if (value.Contains("--", StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid(path, value, "must not contain consecutive hyphens"));
        }
        if (value.Length > 0 && (value[0] == '-' || value[^1] == '-'))
        {
            errors.Add(FieldError.Invalid(path, value, "must not begin or end with a hyphen"));
        }
    }

    [GeneratedRegex("^[-a-z0-9]+$")]
    private static partial Regex PortNameCharset();

    [GeneratedRegex("[a-z]")]
    private static partial Regex PortNameLetter();

    private static void ValidateClientIpAffinity(V1SessionAffinityConfig? config, List<FieldError> errors)
    {
        const string path = "spec.sessionAffinityConfig";
        const string when = "when session affinity type is ClientIP";
        if (config is null)
        {
            errors.Add(FieldError.Required(path, when));
            return;
        }
        if (config.ClientIP is null)
        {
            errors.Add(FieldError.Required(path + ".clientIP", when));
            return;
        }
        if (config.ClientIP.TimeoutSeconds is not { } timeout)
        {
            errors.Add(FieldError.Required(path + ".clientIP.timeoutSeconds", when));
            return;
        }
        if (timeout <= 0 || timeout > MaxClientIpAffinitySeconds)
        {
            errors.Add(FieldError.InvalidNumber(path + ".clientIP.timeoutSeconds", timeout,
                string.Create(CultureInfo.InvariantCulture, $"must be greater than 0 and less than {MaxClientIpAffinitySeconds}")));
        }
    }

    private static void ValidateLoadBalancerClass(V1Service? old, V1Service service, List<FieldError> errors)
    {
        var lbClass = service.Spec?.LoadBalancerClass;
        if (old is not null && old.Spec?.Type == "LoadBalancer" && service.Spec?.Type == "LoadBalancer" && old.Spec.LoadBalancerClass != lbClass)
        {
            errors.Add(new FieldError(FieldErrorType.Invalid, "spec.loadBalancerClass", lbClass, "may not change once set"));
        }
        if (service.Spec?.Type == "LoadBalancer")
        {
            if (lbClass is not null)
            {
                foreach (var msg in NameValidation.IsQualifiedName(lbClass))
                {
                    errors.Add(FieldError.Invalid("spec.loadBalancerClass", lbClass, msg));
                }
            }
        }
        else if (lbClass is not null)
        {
            errors.Add(FieldError.Forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"));
        }
    }

    private static void ValidateExternalTrafficPolicy(V1Service service, List<FieldError> errors)
    {
        var spec = service.Spec;
        if (!ExternallyAccessible(service))
        {
            if (!string.IsNullOrEmpty(spec.ExternalTrafficPolicy))
            {
                errors.Add(FieldError.Invalid("spec.externalTrafficPolicy", spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"));
            }
        }
        else if (string.IsNullOrEmpty(spec.ExternalTrafficPolicy))
        {
            errors.Add(FieldError.Required("spec.externalTrafficPolicy"));
        }
        else if (!TrafficPolicies.Contains(spec.ExternalTrafficPolicy))
        {
            errors.Add(FieldError.NotSupported("spec.externalTrafficPolicy", spec.ExternalTrafficPolicy, TrafficPolicies));
        }

        var hc = spec.HealthCheckNodePort ?? 0;
        if (!NeedsHealthCheck(service))
        {
            if (hc != 0)
            {
                errors.Add(FieldError.InvalidNumber("spec.healthCheckNodePort", hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
            }
        }
        else if (hc == 0)
        {
            errors.Add(FieldError.Required("spec.healthCheckNodePort"));
        }
        else if (hc is < 1 or > 65535)
        {
            errors.Add(FieldError.InvalidNumber("spec.healthCheckNodePort", hc, PortRangeMessage));
        }
    }

    private static void ValidateUpgradeDowngradeClusterIps(V1Service old, V1Service service, List<FieldError> errors)
    {
        if (service.Spec.Type == "ExternalName" || old.Spec.Type == "ExternalName")
        {
            return;
        }
        if (IsHeadless(old) && IsHeadless(service))
        {
            return;
        }
        var oldIps = old.Spec.ClusterIPs ?? [];
        var newIps = service.Spec.ClusterIPs;
        var newCount = newIps?.Count ?? 0;
        if (oldIps.Count == newCount)
        {
            for (var i = 0; i < oldIps.Count; i++)
            {
                if (oldIps[i] != newIps![i])
                {
                    errors.Add(Raw(Index("spec.clusterIPs", i), StringSlice(newIps), "may not change once set"));
                }
            }
        }
        else if (oldIps.Count > newCount)
        {
            if (newCount == 0)
            {
                errors.Add(Raw("spec.clusterIPs[0]", StringSlice(newIps), "primary clusterIP can not be unset"));
            }
            if (oldIps.Count > 0 && newCount > 0 && newIps![0] != oldIps[0])
            {
                errors.Add(Raw("spec.clusterIPs[0]", StringSlice(newIps), "may not change once set"));
            }
            if (newCount == 1 && service.Spec.IpFamilyPolicy != "SingleStack")
            {
                errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", service.Spec.IpFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
            }
        }
        else if (oldIps.Count > 0 && newIps![0] != oldIps[0])
        {
            errors.Add(Raw("spec.clusterIPs[0]", StringSlice(newIps), "may not change once set"));
        }
    }

    private static void ValidateUpgradeDowngradeIpFamilies(V1Service old, V1Service service, List<FieldError> errors)
    {
        if (service.Spec.Type == "ExternalName" || old.Spec.Type == "ExternalName")
        {
            return;
        }
        // Headless Services may change families, and so may a switch to or from headless.
        if (IsHeadless(old) || IsHeadless(service))
        {
            return;
        }
        var oldFamilies = old.Spec.IpFamilies ?? [];
        var newFamilies = service.Spec.IpFamilies;
        var newCount = newFamilies?.Count ?? 0;
        if (oldFamilies.Count == newCount)
        {
            for (var i = 0; i < oldFamilies.Count; i++)
            {
                if (oldFamilies[i] != newFamilies![i])
                {
                    // Upstream always names index 0 here.
                    errors.Add(Raw("spec.ipFamilies[0]", FamilySlice(newFamilies), "may not change once set"));
                }
            }
        }
        else if (oldFamilies.Count > newCount)
        {
            if (service.Spec.ClusterIPs is null or { Count: 0 })
            {
                errors.Add(Raw("spec.ipFamilies[0]", FamilySlice(newFamilies), "primary ipFamily can not be unset"));
            }
            if (newCount > 0 && newFamilies![0] != oldFamilies[0])
            {
                // Upstream prints clusterIPs as the bad value here.
                errors.Add(Raw("spec.ipFamilies[0]", StringSlice(service.Spec.ClusterIPs), "may not change once set"));
            }
            if (newCount == 1 && service.Spec.IpFamilyPolicy != "SingleStack")
            {
                errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", service.Spec.IpFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"));
            }
        }
        else if (oldFamilies.Count > 0 && newCount > 0 && newFamilies![0] != oldFamilies[0])
        {
            errors.Add(Raw("spec.ipFamilies[0]", StringSlice(service.Spec.ClusterIPs), "may not change once set"));
        }
    }
}
