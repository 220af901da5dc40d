using System.Net;
using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tracking;

/// <summary>Cuts a V1Service down to the per-family <see cref="ServicePortInfo"/>s the proxy needs.</summary>
internal static class ServiceConversion
{
    /// <summary>
    /// Upstream ShouldSkipService plus the informer's label filter: headless (clusterIP None/empty), ExternalName,
    /// and Services that opted out with <c>service.kubernetes.io/service-proxy-name</c> are not proxied.
    /// </summary>
    public static bool ShouldSkip(V1Service service)
    {
        if (service.Metadata?.Labels?.ContainsKey(ProxyLabels.ServiceProxyName) == true)
        {
            return true;
        }

        var spec = service.Spec;
        if (spec is null || string.Equals(spec.Type, "ExternalName", StringComparison.Ordinal))
        {
            return true;
        }

        return string.IsNullOrEmpty(spec.ClusterIP) || string.Equals(spec.ClusterIP, "None", StringComparison.Ordinal);
    }

    /// <summary>Upstream GetClusterIPByFamily, tolerating objects written before dual-stack fields existed.</summary>
    public static string? ClusterIpForFamily(IpFamily family, V1ServiceSpec spec)
    {
        var wanted = family == IpFamily.IPv4 ? "IPv4" : "IPv6";
        if (spec.IpFamilies is null || spec.IpFamilies.Count == 0)
        {
            var ip = IpFamilyExtensions.ParseIp(spec.ClusterIP);
            return ip is not null && family.Matches(ip) ? spec.ClusterIP : null;
        }

        for (var i = 0; i < spec.IpFamilies.Count; i++)
        {
            if (string.Equals(spec.IpFamilies[i], wanted, StringComparison.Ordinal))
            {
                return spec.ClusterIPs is not null && i < spec.ClusterIPs.Count ? spec.ClusterIPs[i] : null;
            }
        }

        return null;
    }

    /// <summary>All ports of a Service for one family; empty when the Service is skipped or has no IP of it.</summary>
    public static Dictionary<ServicePortName, ServicePortInfo> ToServicePorts(V1Service? service, IpFamily family)
    {
        var result = new Dictionary<ServicePortName, ServicePortInfo>();
        if (service?.Spec is null || ShouldSkip(service))
        {
            return result;
        }

        var spec = service.Spec;
        var clusterIp = IpFamilyExtensions.ParseIp(ClusterIpForFamily(family, spec));
        if (clusterIp is null || !family.Matches(clusterIp))
        {
            return result;
        }

        var ns = service.Metadata?.NamespaceProperty ?? "default";
        var name = service.Metadata?.Name ?? "";
        var externalIps = FilterIps(spec.ExternalIPs, family);
        var lbVips = LoadBalancerVips(service, family);
        var sourceRanges = FilterCidrs(spec.LoadBalancerSourceRanges, family);
        var type = spec.Type ?? "ClusterIP";
        var externallyAccessibleType = type is "NodePort" or "LoadBalancer" || (type == "ClusterIP" && spec.ExternalIPs?.Count > 0);
        var externalPolicyLocal = externallyAccessibleType && spec.ExternalTrafficPolicy == "Local";
        var internalPolicyLocal = spec.InternalTrafficPolicy == "Local";
        var affinity = spec.SessionAffinity == "ClientIP";
        var timeout = affinity
            ? spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? ProxyLabels.DefaultClientIpTimeoutSeconds
            : 0;

        // Upstream NeedsHealthCheck: LoadBalancer with externalTrafficPolicy Local.
        var healthCheckNodePort = type == "LoadBalancer" && externalPolicyLocal ? spec.HealthCheckNodePort ?? 0 : 0;

        foreach (var port in spec.Ports ?? [])
        {
            var protocol = string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol;
            var spn = new ServicePortName(ns, name, port.Name ?? "", protocol);
            result[spn] = new ServicePortInfo
            {
                Name = spn,
                ClusterIP = clusterIp,
                Port = port.Port,
                Protocol = protocol,
                NodePort = port.NodePort ?? 0,
                ExternalIPs = externalIps,
                LoadBalancerVIPs = lbVips,
                LoadBalancerSourceRanges = sourceRanges,
                SessionAffinityClientIP = affinity,
                StickyMaxAgeSeconds = timeout,
                HealthCheckNodePort = healthCheckNodePort,
                ExternalPolicyLocal = externalPolicyLocal,
                InternalPolicyLocal = internalPolicyLocal,
            };
        }

        return result;
    }

    private static ValueArray<IPAddress> LoadBalancerVips(V1Service service, IpFamily family)
    {
        if (service.Spec?.Type != "LoadBalancer" || service.Status?.LoadBalancer?.Ingress is not { Count: > 0 } ingress)
        {
            return default;
        }

        var list = new List<IPAddress>(ingress.Count);
        foreach (var ing in ingress)
        {
            // ipMode Proxy: the load balancer delivers to the node itself, so the VIP is not captured (KEP-1860).
            if (ing.IpMode is not null && ing.IpMode != "VIP")
            {
                continue;
            }

            var ip = IpFamilyExtensions.ParseIp(ing.Ip);
            if (ip is not null && family.Matches(ip) && !list.Contains(ip))
            {
                list.Add(ip);
            }
        }

        return new ValueArray<IPAddress>([.. list]);
    }

    private static ValueArray<IPAddress> FilterIps(IList<string>? ips, IpFamily family)
    {
        if (ips is null || ips.Count == 0)
        {
            return default;
        }

        var list = new List<IPAddress>(ips.Count);
        foreach (var text in ips)
        {
            var ip = IpFamilyExtensions.ParseIp(text);
            if (ip is not null && family.Matches(ip) && !list.Contains(ip))
            {
                list.Add(ip);
            }
        }

        return new ValueArray<IPAddress>([.. list]);
    }

    private static ValueArray<IPNetwork> FilterCidrs(IList<string>? cidrs, IpFamily family)
    {
        if (cidrs is null || cidrs.Count == 0)
        {
            return default;
        }

        var list = new List<IPNetwork>(cidrs.Count);
        foreach (var text in cidrs)
        {
            var net = IpFamilyExtensions.ParseCidr(text);
            if (net is { } n && family.Matches(n.BaseAddress) && !list.Contains(n))
            {
                list.Add(n);
            }
        }

        return new ValueArray<IPNetwork>([.. list]);
    }
}
