using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Tracking;

namespace Switchboard.Proxy.Conntrack;

/// <summary>
/// Deletes UDP conntrack entries a sync made stale (kube-proxy's pkg/proxy/conntrack CleanStaleEntries, the
/// change-driven form): a UDP ClusterIP that went away; a UDP Service that went from no endpoints to some (its
/// clients may hold entries that cached the REJECT); a UDP endpoint that stopped serving (entries DNATed to it from
/// every service IP and the NodePort). TCP needs nothing: a dead endpoint resets the connection.
/// Runs after a successful sync; failures are logged and never fail the sync.
/// </summary>
internal sealed partial class ConntrackCleaner(IConntrack conntrack, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public async Task CleanAsync(IReadOnlyDictionary<ServicePortName, ServicePortInfo> services, ServiceUpdateResult serviceResult,
        EndpointsUpdateResult endpointResult, IpFamily family, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(serviceResult);
        ArgumentNullException.ThrowIfNull(endpointResult);
        var serviceIps = new HashSet<string>(serviceResult.DeletedUdpClusterIps, StringComparer.Ordinal);
        var nodePorts = new HashSet<int>();
        foreach (var spn in endpointResult.NewlyActiveUdpServices)
        {
            if (!services.TryGetValue(spn, out var svc))
            {
                continue;
            }

            serviceIps.Add(svc.ClusterIP.ToString());
            foreach (var ip in svc.ExternalIPs)
            {
                serviceIps.Add(ip.ToString());
            }

            foreach (var ip in svc.LoadBalancerVIPs)
            {
                serviceIps.Add(ip.ToString());
            }

            if (svc.NodePort != 0)
            {
                nodePorts.Add(svc.NodePort);
            }
        }

        foreach (var ip in serviceIps)
        {
            await RunAsync(() => conntrack.ClearEntriesForIPAsync(IPAddress.Parse(ip), "udp", ct), "service IP " + ip).ConfigureAwait(false);
        }

        var addressFamily = family == IpFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        foreach (var port in nodePorts)
        {
            await RunAsync(() => conntrack.ClearEntriesForPortAsync(port, addressFamily, "udp", ct), "node port " + port).ConfigureAwait(false);
        }

        foreach (var stale in endpointResult.DeletedUdpEndpoints)
        {
            if (!services.TryGetValue(stale.ServicePort, out var svc))
            {
                // The Service itself is gone: its ClusterIP entries were cleared above.
                continue;
            }

            var endpointIp = IPAddress.Parse(HostPart(stale.Endpoint));
            if (svc.NodePort != 0)
            {
                await RunAsync(() => conntrack.ClearEntriesForPortNatAsync(endpointIp, svc.NodePort, "udp", ct), "node port " + svc.NodePort + " to " + endpointIp).ConfigureAwait(false);
            }

            await RunAsync(() => conntrack.ClearEntriesForNatAsync(svc.ClusterIP, endpointIp, "udp", ct), svc.ClusterIP + " to " + endpointIp).ConfigureAwait(false);
            foreach (var ip in svc.ExternalIPs)
            {
                await RunAsync(() => conntrack.ClearEntriesForNatAsync(ip, endpointIp, "udp", ct), ip + " to " + endpointIp).ConfigureAwait(false);
            }

            foreach (var ip in svc.LoadBalancerVIPs)
            {
                await RunAsync(() => conntrack.ClearEntriesForNatAsync(ip, endpointIp, "udp", ct), ip + " to " + endpointIp).ConfigureAwait(false);
            }
        }
    }

    private static string HostPart(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = endpoint[..colon];
        return host.StartsWith('[') ? host[1..^1] : host;
    }

    private async Task RunAsync(Func<Task<int>> delete, string what)
    {
        try
        {
            await delete().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(_logger, ex, what);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Could not delete stale UDP conntrack entries for {What}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string what);
}
