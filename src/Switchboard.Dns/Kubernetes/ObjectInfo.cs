using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Dns.Kubernetes;

/// <summary>How a Service is published in DNS (reference/dns.md S2–S13).</summary>
internal enum ServiceKind
{
    ClusterIP,
    Headless,
    ExternalName,
}

/// <summary>A Service or EndpointSlice port, cut down to what SRV records need.</summary>
internal sealed record PortInfo(string Name, string Protocol, int Port);

/// <summary>
/// A Service as DNS sees it, derived from the slim model while an index entry is built and then dropped: the index
/// keeps only the slim object (shared with the reflector's store) and the precomputed answers.
/// </summary>
internal sealed record ServiceInfo(string Namespace, string Name, ServiceKind Kind, IPAddress[] ClusterIPs, string? ExternalName, PortInfo[] Ports, bool PublishNotReady)
{
    public const string TolerateUnreadyAnnotation = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

    public string Key => Name + "." + Namespace;

    /// <summary>"name.namespace", the order the labels appear in a query.</summary>
    public static string KeyOf(ServiceObject service) => service.Metadata.Name + "." + service.Metadata.NamespaceProperty;

    public static ServiceInfo From(ServiceObject service)
    {
        var meta = service.Metadata;
        var spec = service.Spec ?? new ServiceSpecPart();
        var kind = spec.Type == "ExternalName" ? ServiceKind.ExternalName
            : spec.ClusterIP is null or "" or "None" ? ServiceKind.Headless
            : ServiceKind.ClusterIP;
        var ips = new List<IPAddress>();
        if (kind == ServiceKind.ClusterIP)
        {
            // clusterIPs holds both families of a dual-stack Service; clusterIP alone is the primary.
            foreach (var text in spec.ClusterIPs is { Length: > 0 } all ? all : [spec.ClusterIP!])
            {
                if (IPAddress.TryParse(text, out var ip) && !ips.Contains(ip))
                {
                    ips.Add(ip);
                }
            }
        }
        var ports = (spec.Ports ?? []).Where(p => p.Port is > 0).Select(p => new PortInfo(p.Name ?? "", Protocol(p.Protocol), p.Port!.Value)).ToArray();
        var tolerate = meta.Annotations?.TryGetValue(TolerateUnreadyAnnotation, out var t) == true && string.Equals(t, "true", StringComparison.OrdinalIgnoreCase);
        return new ServiceInfo(
            meta.NamespaceProperty ?? "",
            meta.Name,
            kind,
            [.. ips],
            kind == ServiceKind.ExternalName ? spec.ExternalName : null,
            ports,
            spec.PublishNotReadyAddresses == true || tolerate);
    }

    internal static string Protocol(string? protocol) => protocol switch
    {
        null or "TCP" => "tcp",
        "UDP" => "udp",
        "SCTP" => "sctp",
        _ => protocol.ToLowerInvariant(),
    };
}

/// <summary>One endpoint of a slice: its addresses, hostname (if set) and readiness.</summary>
internal sealed record EndpointInfo(IPAddress[] Addresses, string? Hostname, bool Ready);

/// <summary>The fields of an EndpointSlice that DNS needs.</summary>
internal sealed record SliceInfo(string Namespace, string Name, string ServiceName, PortInfo[] Ports, EndpointInfo[] Endpoints, DateTimeOffset? TriggerTime)
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

    public string ServiceKey => ServiceName + "." + Namespace;

    /// <summary>The Service key of a slim slice ("name.namespace"), or null when DNS ignores the slice.</summary>
    public static string? ServiceKeyOf(EndpointSliceObject slice) =>
        slice.Metadata.Labels?.TryGetValue(ServiceNameLabel, out var service) == true && !string.IsNullOrEmpty(service) && slice.AddressType is "IPv4" or "IPv6"
            ? service + "." + slice.Metadata.NamespaceProperty
            : null;

    /// <summary>Null for slices DNS ignores: no owning Service, or FQDN address type.</summary>
    public static SliceInfo? From(EndpointSliceObject slice)
    {
        var meta = slice.Metadata;
        if (meta.Labels?.TryGetValue(ServiceNameLabel, out var service) != true || string.IsNullOrEmpty(service)
            || slice.AddressType is not ("IPv4" or "IPv6"))
        {
            return null;
        }
        var endpoints = new List<EndpointInfo>();
        foreach (var e in slice.Endpoints ?? [])
        {
            var addresses = (e.Addresses ?? []).Select(a => IPAddress.TryParse(a, out var ip) ? ip : null).OfType<IPAddress>().ToArray();
            if (addresses.Length > 0)
            {
                // client-go and CoreDNS: a nil ready condition means ready.
                endpoints.Add(new EndpointInfo(addresses, string.IsNullOrEmpty(e.Hostname) ? null : e.Hostname.ToLowerInvariant(), e.Conditions?.Ready != false));
            }
        }
        var ports = (slice.Ports ?? []).Where(p => p.Port is > 0).Select(p => new PortInfo(p.Name ?? "", ServiceInfo.Protocol(p.Protocol), p.Port!.Value)).ToArray();
        DateTimeOffset? trigger = null;
        if (meta.Annotations?.TryGetValue(TriggerTimeAnnotation, out var text) == true
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            trigger = parsed;
        }
        return new SliceInfo(meta.NamespaceProperty ?? "", meta.Name, service, ports, [.. endpoints], trigger);
    }
}

/// <summary>The fields of a Pod that `--pods verified` and autopath need: where it lives and its IPs.</summary>
internal sealed record PodInfo(string Namespace, string Name, IPAddress[] IPs, bool HostNetwork)
{
    public static PodInfo From(PodObject pod)
    {
        var ips = new List<IPAddress>();
        foreach (var text in pod.Status?.PodIPs?.Select(p => p.Ip) ?? [pod.Status?.PodIP])
        {
            if (IPAddress.TryParse(text, out var ip) && !ips.Contains(ip))
            {
                ips.Add(ip);
            }
        }
        return new PodInfo(pod.Metadata.NamespaceProperty ?? "", pod.Metadata.Name, [.. ips], pod.Spec?.HostNetwork == true);
    }
}

/// <summary>IP addresses as one 128-bit key (IPv4 mapped into ::ffff:0:0/96), so maps need no IPAddress objects.</summary>
internal static class IpKey
{
    public static UInt128 From(IPAddress ip) => From(ip.AddressFamily == AddressFamily.InterNetwork ? ip.MapToIPv6().GetAddressBytes() : ip.GetAddressBytes());

    public static UInt128 From(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 4)
        {
            return new UInt128(0, 0xFFFF_0000_0000UL | System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>"10-0-0-1" or "fd00--1": how CoreDNS names endpoints without a hostname (S14).</summary>
    public static string Dashed(IPAddress ip) =>
        ip.AddressFamily == AddressFamily.InterNetwork ? ip.ToString().Replace('.', '-') : ip.ToString().Replace(':', '-');
}
