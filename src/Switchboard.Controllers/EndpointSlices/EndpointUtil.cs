using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s.Models;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// The pod and service rules both endpoint controllers share (upstream k8s.io/endpointslice/util and
/// pkg/api/v1/pod): which pods are endpoints, readiness, named-port lookup, hostnames, what counts as a change.
/// </summary>
internal static class EndpointUtil
{
    public const string LabelServiceName = "kubernetes.io/service-name";
    public const string LabelManagedBy = "endpointslice.kubernetes.io/managed-by";
    public const string LabelHeadless = "service.kubernetes.io/headless";
    public const string LabelTopologyZone = "topology.kubernetes.io/zone";
    public const string AnnotationTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";
    public const string AddressTypeIPv4 = "IPv4";
    public const string AddressTypeIPv6 = "IPv6";

    /// <summary>Pod has condition Ready=True.</summary>
    public static bool IsPodReady(V1Pod pod) => ReadyCondition(pod)?.Status == "True";

    public static V1PodCondition? ReadyCondition(V1Pod pod)
    {
        if (pod.Status?.Conditions is { } conditions)
        {
            foreach (var c in conditions)
            {
                if (c.Type == "Ready")
                {
                    return c;
                }
            }
        }
        return null;
    }

    /// <summary>Succeeded or Failed: the pod's containers have all stopped for good.</summary>
    public static bool IsPodTerminal(V1Pod pod) => pod.Status?.Phase is "Succeeded" or "Failed";

    /// <summary>
    /// Upstream ShouldPodBeInEndpoints: not terminal, has an IP, and — unless <paramref name="includeTerminating"/> —
    /// not being deleted. Slices always include terminating pods (with conditions); core/v1 Endpoints only with
    /// publishNotReadyAddresses.
    /// </summary>
    public static bool ShouldPodBeInEndpoints(V1Pod pod, bool includeTerminating)
    {
        if (IsPodTerminal(pod))
        {
            return false;
        }
        if (string.IsNullOrEmpty(pod.Status?.PodIP) && pod.Status?.PodIPs is not { Count: > 0 })
        {
            return false;
        }
        return includeTerminating || pod.Metadata.DeletionTimestamp is null;
    }

    /// <summary>Hostname is published when the pod names a hostname and its subdomain is this Service, in the same namespace.</summary>
    public static bool ShouldSetHostname(V1Pod pod, V1Service service) =>
        !string.IsNullOrEmpty(pod.Spec?.Hostname)
        && string.Equals(pod.Spec.Subdomain, service.Metadata.Name, StringComparison.Ordinal)
        && string.Equals(service.Metadata.NamespaceProperty, pod.Metadata.NamespaceProperty, StringComparison.Ordinal);

    /// <summary>ClusterIP set and not "None".</summary>
    public static bool IsServiceIPSet(V1Service service) => service.Spec?.ClusterIP is { Length: > 0 } ip && ip != "None";

    /// <summary>
    /// Upstream FindPort: a numeric targetPort is used as is; a named one is the first container port with that
    /// name and protocol in the containers, then in restartable (sidecar) init containers.
    /// </summary>
    public static bool TryFindPort(V1Pod pod, V1ServicePort servicePort, out int port)
    {
        var target = servicePort.TargetPort?.Value;
        if (string.IsNullOrEmpty(target))
        {
            // The API server defaults targetPort to port; an undefaulted object means the same.
            port = servicePort.Port;
            return true;
        }
        if (int.TryParse(target, NumberStyles.None, CultureInfo.InvariantCulture, out port))
        {
            return true;
        }
        var protocol = servicePort.Protocol ?? "TCP";
        if (pod.Spec?.Containers is { } containers)
        {
            foreach (var c in containers)
            {
                if (Match(c.Ports, target, protocol, out port))
                {
                    return true;
                }
            }
        }
        if (pod.Spec?.InitContainers is { } inits)
        {
            foreach (var c in inits)
            {
                if (c.RestartPolicy == "Always" && Match(c.Ports, target, protocol, out port))
                {
                    return true;
                }
            }
        }
        port = 0;
        return false;

        static bool Match(IList<V1ContainerPort>? ports, string name, string protocol, out int number)
        {
            if (ports is not null)
            {
                foreach (var p in ports)
                {
                    if (p.Name == name && (p.Protocol ?? "TCP") == protocol)
                    {
                        number = p.ContainerPort;
                        return true;
                    }
                }
            }
            number = 0;
            return false;
        }
    }

    /// <summary>The pod's IPs of one family, re-stringified canonically (upstream parses sloppily and prints back).</summary>
    public static List<string> PodAddresses(V1Pod pod, string addressType)
    {
        var result = new List<string>(1);
        var wantV6 = addressType == AddressTypeIPv6;
        if (pod.Status?.PodIPs is { Count: > 0 } ips)
        {
            foreach (var ip in ips)
            {
                Add(ip.Ip, wantV6, result);
            }
        }
        else if (pod.Status?.PodIP is { Length: > 0 } single)
        {
            // Upstream reads podIPs only; the API server keeps podIP and podIPs in step, so this only helps a
            // server that does not.
            Add(single, wantV6, result);
        }
        return result;

        static void Add(string? text, bool wantV6, List<string> result)
        {
            if (!TryParseIp(text, out var ip))
            {
                return;
            }
            if ((ip.AddressFamily == AddressFamily.InterNetworkV6) == wantV6)
            {
                result.Add(ip.ToString());
            }
        }
    }

    /// <summary>Parses an IP; an IPv4-mapped IPv6 address counts as IPv4, as in Go.</summary>
    public static bool TryParseIp(string? text, out IPAddress ip)
    {
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed))
        {
            ip = IPAddress.None;
            return false;
        }
        ip = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
        return true;
    }

    public static bool IsIPv6(string? text) => TryParseIp(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>
    /// Upstream podEndpointsChanged: (does the pod's endpoint change, does its Service membership change). Labels,
    /// hostname or subdomain move membership; deletion, readiness or IPs move the endpoint.
    /// </summary>
    public static (bool PodChanged, bool LabelsChanged) PodEndpointsChanged(V1Pod oldPod, V1Pod newPod)
    {
        var labelsChanged = !SameLabels(oldPod.Metadata.Labels, newPod.Metadata.Labels)
            || oldPod.Spec?.Hostname != newPod.Spec?.Hostname
            || oldPod.Spec?.Subdomain != newPod.Spec?.Subdomain;
        if (oldPod.Metadata.DeletionTimestamp != newPod.Metadata.DeletionTimestamp || IsPodReady(oldPod) != IsPodReady(newPod))
        {
            return (true, labelsChanged);
        }
        var a = oldPod.Status?.PodIPs;
        var b = newPod.Status?.PodIPs;
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return (true, labelsChanged);
        }
        for (var i = 0; i < (a?.Count ?? 0); i++)
        {
            if (a![i].Ip != b![i].Ip)
            {
                return (true, labelsChanged);
            }
        }
        // Phase to Succeeded/Failed removes the endpoint, and a podIP-only server needs podIP; upstream relies on
        // the other checks catching these (the kubelet flips readiness first), we check them directly.
        if (IsPodTerminal(oldPod) != IsPodTerminal(newPod) || oldPod.Status?.PodIP != newPod.Status?.PodIP)
        {
            return (true, labelsChanged);
        }
        return (false, labelsChanged);
    }

    /// <summary>Map equality with null equal to empty (apimachinery's semantic equality).</summary>
    public static bool SameLabels(IDictionary<string, string>? a, IDictionary<string, string>? b)
    {
        var ca = a?.Count ?? 0;
        if (ca != (b?.Count ?? 0))
        {
            return false;
        }
        if (ca == 0)
        {
            return true;
        }
        foreach (var (k, v) in a!)
        {
            if (!b!.TryGetValue(k, out var other) || !string.Equals(v, other, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Node condition Ready=True.</summary>
    public static bool IsNodeReady(V1Node node)
    {
        if (node.Status?.Conditions is { } conditions)
        {
            foreach (var c in conditions)
            {
                if (c.Type == "Ready")
                {
                    return c.Status == "True";
                }
            }
        }
        return false;
    }

    /// <summary>Go's RFC3339Nano in UTC: fractional seconds without trailing zeros, none at all when whole.</summary>
    public static string FormatRfc3339Nano(DateTime time)
    {
        var utc = time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time.ToUniversalTime();
        var text = utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture);
        return text.TrimEnd('.') + "Z";
    }

    /// <summary>namespace/name, client-go's MetaNamespaceKeyFunc.</summary>
    public static string Key(string? @namespace, string name) => string.IsNullOrEmpty(@namespace) ? name : @namespace + "/" + name;

    public static (string Namespace, string Name) SplitKey(string key)
    {
        var i = key.IndexOf('/', StringComparison.Ordinal);
        return i < 0 ? ("", key) : (key[..i], key[(i + 1)..]);
    }
}
