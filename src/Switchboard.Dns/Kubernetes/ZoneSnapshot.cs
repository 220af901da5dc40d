namespace Switchboard.Dns.Kubernetes;

/// <summary>A name under a Service that has addresses: an endpoint hostname (S10) or the Service itself.</summary>
internal sealed class AddressOwner(byte[] fqdn, byte[][] addresses)
{
    /// <summary>Lower-case wire name, e.g. db-0.db.prod.svc.cluster.local.</summary>
    public byte[] Fqdn { get; } = fqdn;

    /// <summary>4- or 16-byte addresses, IPv4 first, no duplicates.</summary>
    public byte[][] Addresses { get; } = addresses;

    public bool HasFamily(int length)
    {
        foreach (var a in Addresses)
        {
            if (a.Length == length)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>One SRV record a Service publishes: port name, protocol and number, and the name that serves it.</summary>
internal readonly record struct SrvEntry(string PortName, string Protocol, ushort Port, AddressOwner Target);

/// <summary>Everything DNS answers about one Service, precomputed at index time so a query only copies bytes.</summary>
internal sealed class ServiceEntry
{
    public required ServiceKind Kind { get; init; }

    /// <summary>The Service name and its addresses: ClusterIPs, or the ready endpoint IPs of a headless Service.</summary>
    public required AddressOwner Self { get; init; }

    /// <summary>Ready endpoints by hostname (or dashed IP), for &lt;hostname&gt;.&lt;svc&gt; (S10, S14, S15).</summary>
    public required Dictionary<string, AddressOwner> Hosts { get; init; }

    /// <summary>SRV records, one per (port, target), deduplicated.</summary>
    public required SrvEntry[] Srv { get; init; }

    /// <summary>Lower-case wire target of an ExternalName Service.</summary>
    public byte[]? ExternalName { get; init; }

    /// <summary>A headless Service without a ready endpoint does not exist in DNS (S9).</summary>
    public bool Exists => Kind != ServiceKind.Headless || Self.Addresses.Length > 0;

    public Dictionary<string, AddressOwner>.AlternateLookup<ReadOnlySpan<char>> HostLookup => Hosts.GetAlternateLookup<ReadOnlySpan<char>>();
}

/// <summary>
/// An immutable view of the cluster zone. A new one is built on every change and swapped in atomically, so the
/// packet path reads it without locks; it never changes after publication.
/// </summary>
internal sealed class ZoneSnapshot
{
    public static readonly ZoneSnapshot NotSynced = new()
    {
        Synced = false,
        Services = new(StringComparer.Ordinal),
        Namespaces = new(StringComparer.Ordinal),
        Reverse = [],
        PodNamespaces = [],
        NameserverAddresses = [],
        Serial = 0,
    };

    /// <summary>False until every watched collection has been listed once (N9: SERVFAIL, not NXDOMAIN, before then).</summary>
    public required bool Synced { get; init; }

    /// <summary>Services keyed "name.namespace", the order the labels appear in a query.</summary>
    public required Dictionary<string, ServiceEntry> Services { get; init; }

    public required HashSet<string> Namespaces { get; init; }

    /// <summary>PTR targets by IP (S7, S8, S12); an IP behind two Services has two (N8).</summary>
    public required Dictionary<UInt128, byte[][]> Reverse { get; init; }

    /// <summary>Namespaces of the Pods holding each IP (host-network Pods excluded), for `--pods verified` and autopath.</summary>
    public required Dictionary<UInt128, string[]> PodNamespaces { get; init; }

    /// <summary>Addresses of ns.dns.&lt;zone&gt; (the kube-dns Service), for the apex NS glue (N4).</summary>
    public required byte[][] NameserverAddresses { get; init; }

    /// <summary>SOA serial: the time of the last change, in Unix seconds (as CoreDNS).</summary>
    public required uint Serial { get; init; }

    public Dictionary<string, ServiceEntry>.AlternateLookup<ReadOnlySpan<char>> ServiceLookup => Services.GetAlternateLookup<ReadOnlySpan<char>>();

    public HashSet<string>.AlternateLookup<ReadOnlySpan<char>> NamespaceLookup => Namespaces.GetAlternateLookup<ReadOnlySpan<char>>();
}
