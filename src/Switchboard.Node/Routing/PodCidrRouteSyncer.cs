using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Routing;

/// <summary>
/// Keeps the kernel's Pod-CIDR routes equal to <see cref="PodCidrRoutes.Desired"/> in one namespace (the agent's
/// own, or a named one through `ip -n` for the underlay). Routes carry protocol <see cref="RouteProtocol"/> so
/// the first sync removes what an earlier run left behind without touching any other route. Not thread-safe:
/// one caller at a time.
/// </summary>
internal sealed partial class PodCidrRouteSyncer(ICommandRunner runner, string? netns, string? selfNode, ILogger logger)
{
    /// <summary>rtnetlink protocol number marking our routes (unassigned in /etc/iproute2/rt_protos).</summary>
    public const string RouteProtocol = "76";

    private Dictionary<string, PodCidrRoute> _programmed = new(StringComparer.Ordinal);
    private bool _swept;

    public IReadOnlyCollection<PodCidrRoute> Programmed => _programmed.Values;

    /// <summary>Brings the routes in line with <paramref name="nodes"/>; returns false if a command failed (retry later).</summary>
    public async Task<bool> SyncAsync(IEnumerable<V1Node> nodes, CancellationToken ct)
    {
        var ok = true;
        // What an earlier run left is listed first but removed last, and only where it is no longer wanted: a
        // restarted agent replaces its routes in place, so Pod traffic never finds a gap.
        var leftovers = _swept ? null : await ListLeftoversAsync(ct).ConfigureAwait(false);
        ok &= _swept || leftovers is not null;
        var desired = PodCidrRoutes.Desired(selfNode, nodes).ToDictionary(r => r.Cidr, StringComparer.Ordinal);
        var next = new Dictionary<string, PodCidrRoute>(_programmed, StringComparer.Ordinal);
        foreach (var (cidr, route) in _programmed)
        {
            if (!desired.ContainsKey(cidr))
            {
                var r = await IpAsync(route.IsIpv6, ["route", "del", cidr, "proto", RouteProtocol], ct).ConfigureAwait(false);
                // A route that is already gone (its link went away) is as good as deleted.
                if (r.Ok || r.Stderr.Contains("No such process", StringComparison.Ordinal))
                {
                    next.Remove(cidr);
                    Log.Removed(logger, cidr, route.Node);
                }
                else
                {
                    ok = false;
                    Log.Failed(logger, "del " + cidr, r.Stderr);
                }
            }
        }
        foreach (var (cidr, route) in desired)
        {
            if (_programmed.TryGetValue(cidr, out var have) && have == route)
            {
                continue;
            }
            var r = await IpAsync(route.IsIpv6, ["route", "replace", cidr, "via", route.Via, "proto", RouteProtocol], ct).ConfigureAwait(false);
            if (r.Ok)
            {
                next[cidr] = route;
                Log.Added(logger, cidr, route.Via, route.Node);
            }
            else
            {
                ok = false;
                Log.Failed(logger, "replace " + cidr + " via " + route.Via, r.Stderr);
            }
        }
        _programmed = next;
        if (leftovers is not null)
        {
            var swept = true;
            foreach (var (v6, dst) in leftovers.Where(l => !desired.ContainsKey(l.Dst)))
            {
                var r = await IpAsync(v6, ["route", "del", dst, "proto", RouteProtocol], ct).ConfigureAwait(false);
                swept &= r.Ok || r.Stderr.Contains("No such process", StringComparison.Ordinal);
            }
            _swept = swept;
            ok &= swept;
        }
        return ok;
    }

    /// <summary>Every route with our protocol (what a crashed or older run left); null when listing failed.</summary>
    private async Task<List<(bool V6, string Dst)>?> ListLeftoversAsync(CancellationToken ct)
    {
        var found = new List<(bool V6, string Dst)>();
        foreach (var v6 in (bool[])[false, true])
        {
            var list = await IpOutputAsync(v6, ["-j", "route", "show", "proto", RouteProtocol], ct).ConfigureAwait(false);
            if (list is null)
            {
                return null;
            }
            found.AddRange(ParseDestinations(list).Select(d => (v6, d)));
        }
        return found;
    }

    /// <summary>The "dst" of each route in `ip -j route show` output.</summary>
    internal static IReadOnlyList<string> ParseDestinations(string json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray()
            .Select(e => e.TryGetProperty("dst", out var d) ? d.GetString() : null)
            .OfType<string>()];
    }

    private Task<CommandResult> IpAsync(bool v6, IReadOnlyList<string> args, CancellationToken ct) => runner.RunAsync("ip", Args(v6, args), ct);

    private async Task<string?> IpOutputAsync(bool v6, IReadOnlyList<string> args, CancellationToken ct)
    {
        var r = await runner.RunAsync("ip", Args(v6, args), ct).ConfigureAwait(false);
        if (!r.Ok)
        {
            Log.Failed(logger, "list routes", r.Stderr);
            return null;
        }
        return r.Stdout;
    }

    private List<string> Args(bool v6, IReadOnlyList<string> args)
    {
        var all = new List<string>(args.Count + 3);
        if (netns is not null)
        {
            all.Add("-n");
            all.Add(netns);
        }
        if (v6)
        {
            all.Add("-6");
        }
        all.AddRange(args);
        return all;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "route {Cidr} via {Via} (node {Node})")]
        public static partial void Added(ILogger logger, string cidr, string via, string node);

        [LoggerMessage(Level = LogLevel.Information, Message = "removed route {Cidr} (node {Node})")]
        public static partial void Removed(ILogger logger, string cidr, string node);

        [LoggerMessage(Level = LogLevel.Warning, Message = "ip route {What} failed: {Error}")]
        public static partial void Failed(ILogger logger, string what, string error);
    }
}
