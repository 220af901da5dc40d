using System.Globalization;
using System.Net;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Hosting;

/// <summary>One UDP Service port and the IPs of its serving endpoints (any node, any policy).</summary>
internal sealed record UdpServicePort(ServicePortInfo Info, IReadOnlySet<string> ServingEndpointIps);

/// <summary>
/// kube-proxy v1.33's UDP conntrack clean-up after a successful sync (pkg/proxy/conntrack/cleanup.go
/// CleanStaleEntries): list the family's UDP entries and delete those whose original destination is a Service
/// frontend (ClusterIP, LoadBalancer VIP or externalIP, on the Service port) or any address on its NodePort, and
/// whose reply source is not one of that port's serving endpoint IPs. Traffic policy, topology and terminating
/// state are ignored on purpose (so UDP behaves like TCP); Service ports without serving endpoints are skipped.
/// </summary>
internal static class ConntrackReconciler
{
    /// <summary>The filters that delete the stale entries among <paramref name="entries"/>, de-duplicated.</summary>
    public static List<ConntrackFilter> StaleFilters(IEnumerable<UdpServicePort> ports, IReadOnlyList<ConntrackFlow> entries)
    {
        var byFrontend = new Dictionary<(IPAddress, int), IReadOnlySet<string>>();
        var byNodePort = new Dictionary<int, IReadOnlySet<string>>();
        foreach (var (info, serving) in ports)
        {
            if (info.Protocol != "UDP" || serving.Count == 0)
            {
                continue;
            }

            byFrontend[(info.ClusterIP, info.Port)] = serving;
            foreach (var vip in info.LoadBalancerVIPs)
            {
                byFrontend[(vip, info.Port)] = serving;
            }

            foreach (var eip in info.ExternalIPs)
            {
                byFrontend[(eip, info.Port)] = serving;
            }

            if (info.NodePort != 0)
            {
                byNodePort[info.NodePort] = serving;
            }
        }

        var filters = new List<ConntrackFilter>();
        var seen = new HashSet<ConntrackFilter>();
        if (byFrontend.Count == 0 && byNodePort.Count == 0)
        {
            return filters;
        }

        foreach (var e in entries)
        {
            if (!string.Equals(e.Protocol, "udp", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var replySrc = e.ReplySrc.ToString();
            if (byFrontend.TryGetValue((e.OrigDst, e.OrigDstPort), out var eps) && !eps.Contains(replySrc))
            {
                Add(new ConntrackFilter { Protocol = "udp", Family = e.OrigDst.AddressFamily, OrigDst = e.OrigDst, OrigDstPort = e.OrigDstPort, ReplySrc = e.ReplySrc });
            }

            if (byNodePort.TryGetValue(e.OrigDstPort, out eps) && !eps.Contains(replySrc))
            {
                Add(new ConntrackFilter { Protocol = "udp", Family = e.OrigDst.AddressFamily, OrigDstPort = e.OrigDstPort, ReplySrc = e.ReplySrc });
            }
        }

        return filters;

        void Add(ConntrackFilter f)
        {
            if (seen.Add(f))
            {
                filters.Add(f);
            }
        }
    }

    /// <summary>Lists, computes and deletes; returns how many entries were deleted.</summary>
    public static async Task<int> ReconcileAsync(IConntrack conntrack, IpFamily family, IReadOnlyList<UdpServicePort> ports, CancellationToken ct)
    {
        if (!ports.Any(p => p.ServingEndpointIps.Count > 0))
        {
            // Nothing could be stale: skip listing the table (it costs a process per sync on the real tool).
            return 0;
        }

        var entries = await conntrack.ListAsync(family.ToAddressFamily(), "udp", ct).ConfigureAwait(false);
        var deleted = 0;
        foreach (var filter in StaleFilters(ports, entries))
        {
            deleted += await conntrack.DeleteAsync(filter, ct).ConfigureAwait(false);
        }

        return deleted;
    }

    internal static string Describe(ConntrackFilter f) =>
        string.Create(CultureInfo.InvariantCulture, $"udp orig-dst={f.OrigDst?.ToString() ?? "*"}:{f.OrigDstPort} reply-src={f.ReplySrc}");
}
