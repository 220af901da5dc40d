using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>
/// The PodSpec fields networking depends on, with v1.33's rules (pkg/apis/core/validation): container ports and
/// host ports, hostNetwork, dnsPolicy, dnsConfig, hostname, subdomain and readiness gates. The rest of PodSpec
/// validation is not implemented here.
/// </summary>
public static class PodNetworkValidation
{
    public const int MaxDnsNameservers = 3;
    public const int MaxDnsSearchPaths = 32;
    public const int MaxDnsSearchListChars = 2048;

    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];
    private static readonly string[] DnsPolicies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

    /// <summary>Validates a pod's spec (after defaulting); <paramref name="isPod"/> false for pod templates.</summary>
    public static List<FieldError> Validate(V1PodSpec? spec, string path = "spec", bool isPod = true)
    {
        var errors = new List<FieldError>();
        if (spec is null)
        {
            return errors;
        }
        ValidateContainers(spec.Containers, path + ".containers", perContainerConflicts: false, errors);
        ValidateContainers(spec.InitContainers, path + ".initContainers", perContainerConflicts: true, errors);
        ValidateHostNetworkDeps(spec, path, isPod, errors);
        ValidateDnsPolicy(spec.DnsPolicy, path + ".dnsPolicy", errors);
        ValidateDnsConfig(spec.DnsConfig, spec.DnsPolicy, path + ".dnsConfig", errors);
        var gates = spec.ReadinessGates ?? [];
        for (var i = 0; i < gates.Count; i++)
        {
            var conditionType = gates[i].ConditionType ?? "";
            foreach (var msg in NameValidation.IsQualifiedName(conditionType))
            {
                errors.Add(FieldError.Invalid($"{path}.readinessGates[{i}].conditionType", conditionType, msg));
            }
        }
        if (spec.Hostname is { Length: > 0 } hostname)
        {
            foreach (var msg in NameValidation.IsDns1123Label(hostname))
            {
                errors.Add(FieldError.Invalid(path + ".hostname", hostname, msg));
            }
        }
        if (spec.Subdomain is { Length: > 0 } subdomain)
        {
            foreach (var msg in NameValidation.IsDns1123Label(subdomain))
            {
                errors.Add(FieldError.Invalid(path + ".subdomain", subdomain, msg));
            }
        }
        return errors;
    }

    /// <summary>Upstream validateContainerPorts: names unique within the container, port ranges, protocol.</summary>
    public static void ValidateContainerPorts(IList<V1ContainerPort>? ports, string path, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (ports is null)
        {
            return;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            var field = $"{path}[{i}]";
            if (port.Name is { Length: > 0 } name)
            {
                var messages = NameValidation.IsValidPortName(name);
                if (messages.Count > 0)
                {
                    foreach (var msg in messages)
                    {
                        errors.Add(FieldError.Invalid(field + ".name", name, msg));
                    }
                }
                else if (!names.Add(name))
                {
                    errors.Add(FieldError.Duplicate(field + ".name", name));
                }
            }
            if (port.ContainerPort == 0)
            {
                errors.Add(FieldError.Required(field + ".containerPort"));
            }
            else
            {
                foreach (var msg in NameValidation.IsValidPortNum(port.ContainerPort))
                {
                    errors.Add(FieldError.InvalidNumber(field + ".containerPort", port.ContainerPort, msg));
                }
            }
            if (port.HostPort is { } hostPort and not 0)
            {
                foreach (var msg in NameValidation.IsValidPortNum(hostPort))
                {
                    errors.Add(FieldError.InvalidNumber(field + ".hostPort", hostPort, msg));
                }
            }
            if (string.IsNullOrEmpty(port.Protocol))
            {
                errors.Add(FieldError.Required(field + ".protocol"));
            }
            else if (!Protocols.Contains(port.Protocol))
            {
                errors.Add(FieldError.NotSupported(field + ".protocol", port.Protocol, Protocols));
            }
        }
    }

    private static void ValidateContainers(IList<V1Container>? containers, string path, bool perContainerConflicts, List<FieldError> errors)
    {
        if (containers is null)
        {
            return;
        }
        for (var i = 0; i < containers.Count; i++)
        {
            ValidateContainerPorts(containers[i].Ports, $"{path}[{i}].ports", errors);
            if (perContainerConflicts)
            {
                // Init containers run one at a time, so host ports only conflict within one of them. Upstream checks
                // each as a one-element list under the list's path, so the index it reports is always [0].
                CheckHostPortConflicts([containers[i]], path, errors);
            }
        }
        if (!perContainerConflicts)
        {
            CheckHostPortConflicts(containers, path, errors);
        }
    }

    /// <summary>Upstream AccumulateUniqueHostPorts: one protocol/hostIP/hostPort per list of containers.</summary>
    private static void CheckHostPortConflicts(IList<V1Container> containers, string path, List<FieldError> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var c = 0; c < containers.Count; c++)
        {
            var ports = containers[c].Ports ?? [];
            for (var p = 0; p < ports.Count; p++)
            {
                if (ports[p].HostPort is not { } hostPort || hostPort == 0)
                {
                    continue;
                }
                var key = $"{ports[p].Protocol}/{ports[p].HostIP}/{hostPort}";
                if (!seen.Add(key))
                {
                    errors.Add(FieldError.Duplicate($"{path}[{c}].ports[{p}].hostPort", key));
                }
            }
        }
    }

    /// <summary>
    /// Upstream validatePodHostNetworkDeps: with hostNetwork, hostPort must equal containerPort (a pod template may
    /// leave it 0, which pod defaulting fills in).
    /// </summary>
    private static void ValidateHostNetworkDeps(V1PodSpec spec, string path, bool isPod, List<FieldError> errors)
    {
        if (spec.HostNetwork != true)
        {
            return;
        }
        var containers = spec.Containers ?? [];
        for (var c = 0; c < containers.Count; c++)
        {
            var ports = containers[c].Ports ?? [];
            for (var p = 0; p < ports.Count; p++)
            {
                var hostPort = ports[p].HostPort ?? 0;
                if ((isPod || hostPort != 0) && hostPort != ports[p].ContainerPort)
                {
                    errors.Add(FieldError.InvalidNumber($"{path}.containers[{c}].ports[{p}].hostPort", hostPort, "must match `containerPort` when `hostNetwork` is true"));
                }
            }
        }
    }

    private static void ValidateDnsPolicy(string? policy, string path, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(policy))
        {
            errors.Add(FieldError.Required(path));
        }
        else if (!DnsPolicies.Contains(policy))
        {
            errors.Add(FieldError.NotSupported(path, policy, DnsPolicies));
        }
    }

    /// <summary>
    /// Upstream validatePodDNSConfig, with RelaxedDNSSearchValidation on (beta, default on in v1.33): search
    /// domains may contain '_' and a lone "." is allowed.
    /// </summary>
    private static void ValidateDnsConfig(V1PodDNSConfig? config, string? policy, string path, List<FieldError> errors)
    {
        if (policy == "None")
        {
            if (config is null)
            {
                errors.Add(FieldError.Required(path, "must provide `dnsConfig` when `dnsPolicy` is None"));
                return;
            }
            if (config.Nameservers is not { Count: > 0 })
            {
                errors.Add(FieldError.Required(path + ".nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"));
                return;
            }
        }
        if (config is null)
        {
            return;
        }
        var nameservers = config.Nameservers ?? [];
        if (nameservers.Count > MaxDnsNameservers)
        {
            errors.Add(FieldError.InvalidRaw(path + ".nameservers", GoText.StringSlice([.. nameservers]), $"must not have more than {MaxDnsNameservers} nameservers"));
        }
        for (var i = 0; i < nameservers.Count; i++)
        {
            IPValidation.IsValidIPForLegacyField($"{path}.nameservers[{i}]", nameservers[i], null, errors);
        }
        var searches = config.Searches ?? [];
        if (searches.Count > MaxDnsSearchPaths)
        {
            errors.Add(FieldError.InvalidRaw(path + ".searches", GoText.StringSlice([.. searches]), $"must not have more than {MaxDnsSearchPaths} search paths"));
        }
        // Counted with the separating spaces, as resolv.conf will hold them.
        if (GoText.ByteLength(string.Join(' ', searches)) > MaxDnsSearchListChars)
        {
            errors.Add(FieldError.InvalidRaw(path + ".searches", GoText.StringSlice([.. searches]), $"must not have more than {MaxDnsSearchListChars} characters (including spaces) in the search list"));
        }
        for (var i = 0; i < searches.Count; i++)
        {
            if (searches[i] == ".")
            {
                continue;
            }
            var search = searches[i].EndsWith('.') ? searches[i][..^1] : searches[i];
            foreach (var msg in NameValidation.IsDns1123SubdomainWithUnderscore(search))
            {
                errors.Add(FieldError.Invalid($"{path}.searches[{i}]", search, msg));
            }
        }
        var options = config.Options ?? [];
        for (var i = 0; i < options.Count; i++)
        {
            if (string.IsNullOrEmpty(options[i].Name))
            {
                errors.Add(FieldError.Required($"{path}.options[{i}]", "must not be empty"));
            }
        }
    }
}
