using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// The range model behind ClusterIP allocation, as upstream v1.33's MetaAllocator keeps it
/// (pkg/registry/core/service/ipallocator/cidrallocator.go): one range per distinct CIDR of the stored ServiceCIDR
/// objects, for the configured families only; a range is ready when at least one ServiceCIDR naming it is ready (no
/// Ready condition counts as ready, as upstream assumes when the controller has not run yet) and not being deleted.
/// </summary>
internal sealed partial class ServiceAllocations
{
    private readonly HashSet<string> _reportedUnusable = new(StringComparer.Ordinal);

    /// <summary>
    /// Rebuilds the range model from the ServiceCIDR objects. Ranges that stay keep their reservations; a new range is
    /// seeded from the IPAddress objects it contains before it is published (ServiceCIDRs may overlap, as in the
    /// documentation's example of a /24 added around a full /28). One caller at a time (the ServiceCIDR controller).
    /// </summary>
    public async Task ApplyServiceCidrsAsync(IReadOnlyList<V1ServiceCIDR> serviceCidrs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serviceCidrs);
        var current = _ranges.ToDictionary(r => r.Cidr.Text, StringComparer.Ordinal);
        var ready = new Dictionary<string, bool>(StringComparer.Ordinal);
        var ordered = new List<ClusterIpRange>();
        var fresh = new List<ClusterIpRange>();
        // Upstream tries the allocators in map order; creation order is a stable equivalent that fills the oldest first.
        foreach (var serviceCidr in serviceCidrs
            .OrderBy(c => c.Metadata?.CreationTimestamp ?? DateTime.MinValue)
            .ThenBy(c => c.Metadata?.Name, StringComparer.Ordinal))
        {
            var usable = IsReady(serviceCidr) && serviceCidr.Metadata?.DeletionTimestamp is null;
            foreach (var text in serviceCidr.Spec?.Cidrs ?? [])
            {
                if (ParseUsable(text, serviceCidr.Metadata?.Name) is not { } cidr)
                {
                    continue;
                }
                if (ready.TryGetValue(cidr.Text, out var already))
                {
                    ready[cidr.Text] = already || usable;
                    continue;
                }
                ready[cidr.Text] = usable;
                if (!current.TryGetValue(cidr.Text, out var range))
                {
                    range = new ClusterIpRange(cidr, new Random(_seed.Next()));
                    fresh.Add(range);
                }
                ordered.Add(range);
            }
        }

        if (fresh.Count > 0 && _objects is not null)
        {
            foreach (var address in await _objects.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                // An address whose release is under way elsewhere is about to be free; if the delete fails, the
                // IPAddress create collides and the address stays taken then.
                if (IpText.Parse(address.Name) is { } ip && !IsReleasing(ip))
                {
                    foreach (var range in fresh)
                    {
                        range.MarkTaken(ip);
                    }
                }
            }
        }

        // Readiness first: a range that stops being ready refuses reservations from here on, whichever model a
        // request still reads.
        foreach (var range in ordered)
        {
            range.Ready = ready[range.Cidr.Text];
        }
        var kept = ordered.ToHashSet();
        foreach (var dropped in current.Values.Where(r => !kept.Contains(r)))
        {
            dropped.Ready = false;
        }
        _ranges = [.. ordered];
        foreach (var range in fresh)
        {
            Log.RangeAdded(_logger, range.Cidr.Text, range.Ready);
        }
    }

    /// <summary>Upstream isReady: the Ready condition, or true when there is none yet.</summary>
    public static bool IsReady(V1ServiceCIDR serviceCidr)
    {
        ArgumentNullException.ThrowIfNull(serviceCidr);
        var condition = serviceCidr.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        return condition is null || condition.Status == "True";
    }

    /// <summary>A CIDR the allocator can use: valid, of a configured family, and (IPv6) no shorter than /64 as NewIPAllocator demands.</summary>
    private ServiceCidr? ParseUsable(string text, string? owner)
    {
        ServiceCidr cidr;
        try
        {
            cidr = ServiceCidr.Parse(text);
        }
        catch (ArgumentException e)
        {
            // Every pass sees it again: say so once.
            if (_reportedUnusable.Add(text))
            {
                Log.RangeUnusable(_logger, text, owner, e.Message);
            }
            return null;
        }
        return _families.Contains(cidr.FamilyName) ? cidr : null;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "ClusterIP range {Cidr} added (ready: {Ready})")]
        public static partial void RangeAdded(ILogger logger, string cidr, bool ready);

        [LoggerMessage(Level = LogLevel.Warning, Message = "ServiceCIDR {Owner}: {Cidr} cannot be used for ClusterIPs: {Reason}")]
        public static partial void RangeUnusable(ILogger logger, string cidr, string? owner, string reason);
    }
}
