using System.Globalization;
using k8s.Models;

namespace Switchboard.Api.Validation;

/// <summary>
/// networking.k8s.io/v1 NetworkPolicy rules of v1.33 (pkg/apis/networking/validation ValidateNetworkPolicySpec,
/// ValidateNetworkPolicyPort/Peer, ValidateIPBlock), after defaulting (protocol TCP, policyTypes).
/// </summary>
public static class NetworkPolicyValidation
{
    private static readonly string[] Protocols = ["TCP", "UDP", "SCTP"];
    private static readonly string[] PolicyTypes = ["Ingress", "Egress"];

    /// <summary>Ratcheting inputs upstream derives from the old object on update.</summary>
    private sealed record Options(bool AllowInvalidLabelValueInSelector, IReadOnlyCollection<string>? AllowedCidrs);

    public static List<FieldError> Validate(V1NetworkPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var errors = new List<FieldError>();
        ValidateSpec(policy.Spec, new Options(false, null), errors);
        return errors;
    }

    public static List<FieldError> ValidateUpdate(V1NetworkPolicy policy, V1NetworkPolicy old)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(old);
        // CIDRs the old policy had stay allowed even if they no longer validate (StrictIPCIDRValidation ratcheting).
        var existing = new List<string>();
        foreach (var peer in (old.Spec?.Ingress ?? []).SelectMany(r => r.FromProperty ?? []).Concat((old.Spec?.Egress ?? []).SelectMany(r => r.To ?? [])))
        {
            if (peer.IpBlock is { } block)
            {
                existing.Add(block.Cidr ?? "");
                existing.AddRange(block.Except ?? []);
            }
        }
        var errors = new List<FieldError>();
        ValidateSpec(policy.Spec, new Options(LabelSelectorValidation.HasErrors(old.Spec?.PodSelector), existing), errors);
        return errors;
    }

    /// <summary>Upstream ValidateNetworkPolicyPort.</summary>
    public static void ValidatePort(V1NetworkPolicyPort port, string path, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(port);
        ArgumentNullException.ThrowIfNull(errors);
        if (port.Protocol is { } protocol && !Protocols.Contains(protocol))
        {
            errors.Add(FieldError.NotSupported(path + ".protocol", protocol, Protocols));
        }
        if (port.Port is { } value)
        {
            if (IntOrStringValue.TryGetInt(value, out var number))
            {
                foreach (var msg in NameValidation.IsValidPortNum(number))
                {
                    errors.Add(FieldError.InvalidNumber(path + ".port", number, msg));
                }
                if (port.EndPort is { } end)
                {
                    if (end < number)
                    {
                        // Upstream reports the port (not endPort) as the bad value here.
                        errors.Add(FieldError.InvalidNumber(path + ".endPort", number, "must be greater than or equal to `port`"));
                    }
                    foreach (var msg in NameValidation.IsValidPortNum(end))
                    {
                        errors.Add(FieldError.InvalidNumber(path + ".endPort", end, msg));
                    }
                }
            }
            else
            {
                if (port.EndPort is { } end)
                {
                    errors.Add(FieldError.InvalidNumber(path + ".endPort", end, "may not be specified when `port` is non-numeric"));
                }
                var name = value.Value ?? "";
                foreach (var msg in NameValidation.IsValidPortName(name))
                {
                    errors.Add(FieldError.Invalid(path + ".port", name, msg));
                }
            }
        }
        else if (port.EndPort is { } end)
        {
            errors.Add(FieldError.InvalidNumber(path + ".endPort", end, "may not be specified when `port` is not specified"));
        }
    }

    private static void ValidateSpec(V1NetworkPolicySpec? spec, Options options, List<FieldError> errors)
    {
        LabelSelectorValidation.Validate(spec?.PodSelector, options.AllowInvalidLabelValueInSelector, "spec.podSelector", errors);
        if (spec is null)
        {
            return;
        }
        var ingress = spec.Ingress ?? [];
        for (var i = 0; i < ingress.Count; i++)
        {
            var path = $"spec.ingress[{i}]";
            var ports = ingress[i].Ports ?? [];
            for (var p = 0; p < ports.Count; p++)
            {
                ValidatePort(ports[p], $"{path}.ports[{p}]", errors);
            }
            var from = ingress[i].FromProperty ?? [];
            for (var p = 0; p < from.Count; p++)
            {
                ValidatePeer(from[p], options, $"{path}.from[{p}]", errors);
            }
        }
        var egress = spec.Egress ?? [];
        for (var i = 0; i < egress.Count; i++)
        {
            var path = $"spec.egress[{i}]";
            var ports = egress[i].Ports ?? [];
            for (var p = 0; p < ports.Count; p++)
            {
                ValidatePort(ports[p], $"{path}.ports[{p}]", errors);
            }
            var to = egress[i].To ?? [];
            for (var p = 0; p < to.Count; p++)
            {
                ValidatePeer(to[p], options, $"{path}.to[{p}]", errors);
            }
        }
        var types = spec.PolicyTypes ?? [];
        if (types.Count > PolicyTypes.Length)
        {
            // Upstream passes &spec.PolicyTypes; field errors dereference pointers before printing with %#v.
            var rendered = GoText.Slice("[]networking.PolicyType", [.. types], GoText.Quote);
            errors.Add(FieldError.InvalidRaw("spec.policyTypes", rendered, "may not specify more than two policyTypes"));
            return;
        }
        for (var i = 0; i < types.Count; i++)
        {
            if (!PolicyTypes.Contains(types[i]))
            {
                errors.Add(FieldError.NotSupported($"spec.policyTypes[{i}]", types[i], PolicyTypes));
            }
        }
    }

    private static void ValidatePeer(V1NetworkPolicyPeer peer, Options options, string path, List<FieldError> errors)
    {
        var peers = 0;
        if (peer.PodSelector is not null)
        {
            peers++;
            LabelSelectorValidation.Validate(peer.PodSelector, options.AllowInvalidLabelValueInSelector, path + ".podSelector", errors);
        }
        if (peer.NamespaceSelector is not null)
        {
            peers++;
            LabelSelectorValidation.Validate(peer.NamespaceSelector, options.AllowInvalidLabelValueInSelector, path + ".namespaceSelector", errors);
        }
        if (peer.IpBlock is not null)
        {
            peers++;
            ValidateIPBlock(peer.IpBlock, path + ".ipBlock", options.AllowedCidrs, errors);
        }
        if (peers == 0)
        {
            errors.Add(FieldError.Required(path, "must specify a peer"));
        }
        else if (peers > 1 && peer.IpBlock is not null)
        {
            errors.Add(FieldError.Forbidden(path, "may not specify both ipBlock and another peer"));
        }
    }

    /// <summary>Upstream ValidateIPBlock: a valid cidr, each except valid and a strict subset of it.</summary>
    public static void ValidateIPBlock(V1IPBlock block, string path, IReadOnlyCollection<string>? allowedCidrs, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(block.Cidr))
        {
            errors.Add(FieldError.Required(path + ".cidr"));
            return;
        }
        IPValidation.IsValidCidrForLegacyField(path + ".cidr", block.Cidr, allowedCidrs, errors);
        if (GoNet.ParseCidr(block.Cidr) is not { } cidr)
        {
            return;
        }
        var except = block.Except ?? [];
        for (var i = 0; i < except.Count; i++)
        {
            var field = $"{path}.except[{i}]";
            IPValidation.IsValidCidrForLegacyField(field, except[i], allowedCidrs, errors);
            if (GoNet.ParseCidr(except[i]) is not { } inner)
            {
                continue;
            }
            if (!cidr.Contains(inner.Network) || cidr.PrefixLength >= inner.PrefixLength)
            {
                errors.Add(FieldError.Invalid(field, except[i], "must be a strict subset of `cidr`"));
            }
        }
    }
}

/// <summary>
/// Reads a KubernetesClient IntOrString. The model keeps only the text, and its JSON converter writes any text that
/// parses as an int as a number, so "80" and 80 both read as the number 80 (upstream would treat "80" as a name).
/// </summary>
public static class IntOrStringValue
{
    public static bool TryGetInt(IntOrString value, out int number)
    {
        ArgumentNullException.ThrowIfNull(value);
        return int.TryParse(value.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number);
    }
}
