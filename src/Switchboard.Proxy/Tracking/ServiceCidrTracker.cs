using System.Net;
using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tracking;

/// <summary>
/// The union of <c>spec.cidrs</c> of every ServiceCIDR object (networking.k8s.io/v1), as kube-proxy v1.33's
/// ServiceCIDRConfig keeps it. The nftables backend drops traffic to unallocated IPs of these ranges.
/// Thread-safe; <see cref="Snapshot"/> returns an immutable copy.
/// </summary>
internal sealed class ServiceCidrTracker
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string[]> _byObject = new(StringComparer.Ordinal);

    /// <summary>Add/update (current non-null) or delete (current null). True when the union changed.</summary>
    public bool Update(V1ServiceCIDR? previous, V1ServiceCIDR? current)
    {
        var name = (current ?? previous)?.Metadata?.Name;
        if (name is null)
        {
            return false;
        }

        lock (_lock)
        {
            var before = Union();
            if (current is null)
            {
                _byObject.Remove(name);
            }
            else
            {
                _byObject[name] = [.. current.Spec?.Cidrs ?? []];
            }

            return !before.SequenceEqual(Union());
        }
    }

    /// <summary>The CIDRs of one family, canonical, sorted, de-duplicated.</summary>
    public IReadOnlyList<IPNetwork> Snapshot(IpFamily family)
    {
        lock (_lock)
        {
            var result = new List<IPNetwork>();
            foreach (var text in Union())
            {
                if (IpFamilyExtensions.ParseCidr(text) is { } net && family.Matches(net.BaseAddress) && !result.Contains(net))
                {
                    result.Add(net);
                }
            }

            return result;
        }
    }

    private List<string> Union()
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var cidrs in _byObject.Values)
        {
            set.UnionWith(cidrs);
        }

        return [.. set];
    }
}
