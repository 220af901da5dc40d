using System.Net;
using System.Net.Sockets;

namespace Switchboard.Netfilter.Conntrack;

/// <summary>One conntrack entry: the original direction (client → service IP) and the reply direction (endpoint → client).</summary>
internal sealed record ConntrackFlow
{
    public required string Protocol { get; init; }

    public required IPAddress OrigSrc { get; init; }

    public required IPAddress OrigDst { get; init; }

    public int OrigSrcPort { get; init; }

    public int OrigDstPort { get; init; }

    public required IPAddress ReplySrc { get; init; }

    public required IPAddress ReplyDst { get; init; }

    public int ReplySrcPort { get; init; }

    public int ReplyDstPort { get; init; }

    /// <summary>The flow was destination-NATed (the reply comes from another address than the original destination).</summary>
    public bool IsDstNat => !ReplySrc.Equals(OrigDst) || ReplySrcPort != OrigDstPort;
}

/// <summary>
/// Which entries to delete; null fields match anything. Mirrors the conntrack tool's filters: <c>-p</c>,
/// <c>--orig-dst</c>, <c>--dport</c> (original destination port), <c>--reply-src</c>, <c>--dst-nat</c>.
/// </summary>
internal sealed record ConntrackFilter
{
    /// <summary>udp (default), tcp or sctp.</summary>
    public string Protocol { get; init; } = "udp";

    /// <summary>IPv4 or IPv6 entries; taken from an address in the filter when one is set.</summary>
    public AddressFamily Family { get; init; } = AddressFamily.InterNetwork;

    public IPAddress? OrigDst { get; init; }

    public int? OrigDstPort { get; init; }

    public IPAddress? ReplySrc { get; init; }

    /// <summary>Only entries DNATed to this address (reply source is this address and differs from the original destination).</summary>
    public IPAddress? DstNat { get; init; }

    public bool Matches(ConntrackFlow flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        return flow.Protocol == Protocol
            && flow.OrigDst.AddressFamily == Family
            && (OrigDst is null || flow.OrigDst.Equals(OrigDst))
            && (OrigDstPort is null || flow.OrigDstPort == OrigDstPort)
            && (ReplySrc is null || flow.ReplySrc.Equals(ReplySrc))
            && (DstNat is null || (flow.IsDstNat && flow.ReplySrc.Equals(DstNat)));
    }
}

/// <summary>
/// Connection tracking clean-up for the service proxy (kube-proxy's pkg/proxy/conntrack): after a sync removed
/// a service IP or an endpoint, stale UDP entries would keep sending packets to the old destination.
/// </summary>
internal interface IConntrack
{
    /// <summary>Entries of a family (and protocol, if given). For start-up, clean-up and tests.</summary>
    Task<IReadOnlyList<ConntrackFlow>> ListAsync(AddressFamily family, string? protocol, CancellationToken ct);

    /// <summary>Deletes matching entries; returns how many were deleted (0 is not an error).</summary>
    Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct);
}

/// <summary>The clean-ups kube-proxy performs, on any <see cref="IConntrack"/>.</summary>
internal static class ConntrackCleanup
{
    /// <summary>Entries whose original destination is a service IP (all ports): ClearEntriesForIP.</summary>
    public static Task<int> ClearEntriesForIPAsync(this IConntrack conntrack, IPAddress serviceIp, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = serviceIp.AddressFamily, OrigDst = serviceIp }, ct);

    /// <summary>Entries to one service IP and port.</summary>
    public static Task<int> ClearEntriesForIPPortAsync(this IConntrack conntrack, IPAddress serviceIp, int port, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = serviceIp.AddressFamily, OrigDst = serviceIp, OrigDstPort = port }, ct);

    /// <summary>Entries to any address on a (node) port: ClearEntriesForPort.</summary>
    public static Task<int> ClearEntriesForPortAsync(this IConntrack conntrack, int port, AddressFamily family, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = family, OrigDstPort = port }, ct);

    /// <summary>Entries from a service IP DNATed to an endpoint that went away: ClearEntriesForNAT.</summary>
    public static Task<int> ClearEntriesForNatAsync(this IConntrack conntrack, IPAddress serviceIp, IPAddress endpointIp, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = serviceIp.AddressFamily, OrigDst = serviceIp, DstNat = endpointIp }, ct);

    /// <summary>Entries on a node port DNATed to an endpoint that went away: ClearEntriesForPortNAT.</summary>
    public static Task<int> ClearEntriesForPortNatAsync(this IConntrack conntrack, IPAddress endpointIp, int port, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = endpointIp.AddressFamily, OrigDstPort = port, DstNat = endpointIp }, ct);

    /// <summary>Entries whose reply comes from an endpoint (any service).</summary>
    public static Task<int> ClearEntriesFromEndpointAsync(this IConntrack conntrack, IPAddress endpointIp, string protocol, CancellationToken ct) =>
        conntrack.DeleteAsync(new ConntrackFilter { Protocol = protocol, Family = endpointIp.AddressFamily, ReplySrc = endpointIp }, ct);
}
