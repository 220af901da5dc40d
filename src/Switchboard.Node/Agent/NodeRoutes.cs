using System.Net;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Informers;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Agent;

/// <summary>
/// Host-gw routing (ARCHITECTURE.md §2 "Node addressing"): in the agent's network namespace, one route per other
/// Node's Pod CIDR via that Node's InternalIP of the same family. Routes carry protocol <see cref="Protocol"/>, so the
/// agent finds and removes its own stale routes (Nodes deleted while it was down) and never touches others.
/// Must only run in a node namespace (or on a real node): it routes cluster CIDRs.
/// </summary>
internal sealed partial class NodeRoutes(ICommandRunner runner, string nodeName, string? netns, ILogger logger)
{
    /// <summary>The rtnetlink protocol number that marks Switchboard's routes.</summary>
    public const int Protocol = 150;

    /// <summary>Pod CIDR → gateway for every other Node with CIDRs and an InternalIP of that family. Pure.</summary>
    public static IReadOnlyDictionary<string, string> Desired(IEnumerable<V1Node> nodes, string self)
    {
        var routes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes.Where(n => n.Metadata.Name != self))
        {
            var ips = (node.Status?.Addresses ?? []).Where(a => a.Type == "InternalIP").Select(a => IPAddress.TryParse(a.Address, out var ip) ? ip : null).OfType<IPAddress>().ToList();
            foreach (var cidr in node.Spec?.PodCIDRs ?? [])
            {
                var slash = cidr.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var network))
                {
                    continue;
                }
                var via = ips.FirstOrDefault(ip => ip.AddressFamily == network.AddressFamily);
                if (via is not null)
                {
                    routes[cidr] = via.ToString();
                }
            }
        }
        return routes;
    }

    /// <summary>Makes the namespace's protocol-<see cref="Protocol"/> routes equal <paramref name="desired"/>.</summary>
    public async Task SyncAsync(IReadOnlyDictionary<string, string> desired, CancellationToken ct)
    {
        // The routes this process installed (FlushAsync removed an earlier run's before the first sync).
        var current = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (cidr, via) in _installed)
        {
            current[cidr] = via;
        }
        foreach (var (cidr, via) in desired)
        {
            if (current.GetValueOrDefault(cidr) == via)
            {
                continue;
            }
            var r = await runner.RunAsync("ip", [.. Ns(), "route", "replace", cidr, "via", via, "proto", Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct).ConfigureAwait(false);
            if (r.Ok)
            {
                _installed[cidr] = via;
                Log.RouteSet(logger, cidr, via);
            }
            else
            {
                Log.RouteFailed(logger, cidr, r.Stderr);
            }
        }
        foreach (var cidr in current.Keys.Where(c => !desired.ContainsKey(c)).ToList())
        {
            await runner.RunAsync("ip", [.. Ns(), "route", "del", cidr, "proto", Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct).ConfigureAwait(false);
            _installed.Remove(cidr);
        }
    }

    /// <summary>Removes every protocol-<see cref="Protocol"/> route of both families (an earlier run's, before the first sync).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        foreach (var family in new[] { "-4", "-6" })
        {
            await runner.RunAsync("ip", [.. Ns(), family, "route", "flush", "proto", Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct).ConfigureAwait(false);
        }
        _installed.Clear();
    }

    /// <summary>Watches all Nodes and keeps the routes in step until cancelled.</summary>
    public async Task RunAsync(Kubernetes client, ILoggerFactory loggers, TimeProvider time, CancellationToken ct)
    {
        using var informers = new SharedInformerFactory(client, loggers, time);
        var nodes = informers.Informer<V1Node>();
        var changed = new SemaphoreSlim(0);
        using var registration = nodes.AddEventHandler(new ResourceEventHandler<V1Node>(_ => changed.Release(), (_, _) => changed.Release(), _ => changed.Release()));
        var run = informers.RunAsync(ct);
        try
        {
            await nodes.WaitForSyncAsync(ct).ConfigureAwait(false);
            await FlushAsync(ct).ConfigureAwait(false);
            IReadOnlyDictionary<string, string>? last = null;
            while (!ct.IsCancellationRequested)
            {
                var desired = Desired(nodes.Lister.List(), nodeName);
                if (last is null || !desired.SequenceEqual(last))
                {
                    await SyncAsync(desired, ct).ConfigureAwait(false);
                    last = desired;
                }
                await changed.WaitAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            changed.Dispose();
        }
        await run.ConfigureAwait(false);
    }

    private readonly Dictionary<string, string> _installed = new(StringComparer.Ordinal);

    private string[] Ns() => netns is null ? [] : ["-n", netns];

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "route {Cidr} via {Via}")]
        public static partial void RouteSet(ILogger logger, string cidr, string via);

        [LoggerMessage(Level = LogLevel.Warning, Message = "route {Cidr} failed: {Error}")]
        public static partial void RouteFailed(ILogger logger, string cidr, string error);
    }
}
