namespace Switchboard.Dns.Kubernetes;

/// <summary>
/// A name under a Service that has addresses: an endpoint hostname (S10) or the Service itself. Addresses are
/// packed into one array (IPv4 first), which is both what the answer path copies and the smallest way to hold them.
/// </summary>
internal sealed class AddressOwner
{
    private readonly byte[] _packed;

    public AddressOwner(byte[] fqdn, IEnumerable<byte[]> addresses, string hostname = "")
    {
        Fqdn = fqdn;
        Hostname = hostname;
        var all = addresses.ToList();
        var v4 = all.Where(a => a.Length == 4).ToList();
        var v6 = all.Where(a => a.Length == 16).ToList();
        V4Count = v4.Count;
        Count = v4.Count + v6.Count;
        _packed = [.. v4.SelectMany(a => a), .. v6.SelectMany(a => a)];
    }

    /// <summary>Lower-case wire name, e.g. db-0.db.prod.svc.cluster.local.</summary>
    public byte[] Fqdn { get; }

    /// <summary>The endpoint's first label (db-0), or "" for the Service itself.</summary>
    public string Hostname { get; }

    /// <summary>Number of addresses; the first <see cref="V4Count"/> are IPv4.</summary>
    public int Count { get; }

    public int V4Count { get; }

    /// <summary>The i-th address: 4 bytes, or 16 for IPv6.</summary>
    public ReadOnlySpan<byte> Address(int i) => i < V4Count ? _packed.AsSpan(i * 4, 4) : _packed.AsSpan((V4Count * 4) + ((i - V4Count) * 16), 16);

    /// <summary>Every address as its own array (index building only).</summary>
    public IEnumerable<byte[]> All() => Enumerable.Range(0, Count).Select(i => Address(i).ToArray());
}

/// <summary>One PTR target and the Service that publishes it (so one Service's change can remove just its own).</summary>
internal readonly record struct ReverseName(string Service, byte[] Name);

/// <summary>One SRV record a Service publishes: port name, protocol and number, and the name that serves it.</summary>
internal readonly record struct SrvEntry(string PortName, string Protocol, ushort Port, AddressOwner Target);

/// <summary>Everything DNS answers about one Service, precomputed at index time so a query only copies bytes.</summary>
internal sealed class ServiceEntry
{
    public required ServiceKind Kind { get; init; }

    /// <summary>The Service name and its addresses: ClusterIPs, or the ready endpoint IPs of a headless Service.</summary>
    public required AddressOwner Self { get; init; }

    /// <summary>
    /// Ready endpoints by hostname (or dashed IP), for &lt;hostname&gt;.&lt;svc&gt; (S10, S14, S15), sorted by name
    /// for binary search: an array costs a fraction of a dictionary per Service, and Services have few hostnames.
    /// </summary>
    public required AddressOwner[] Hosts { get; init; }

    /// <summary>SRV records, one per (port, target), deduplicated.</summary>
    public required SrvEntry[] Srv { get; init; }

    /// <summary>Lower-case wire target of an ExternalName Service.</summary>
    public byte[]? ExternalName { get; init; }

    /// <summary>A headless Service without a ready endpoint does not exist in DNS (S9).</summary>
    public bool Exists => Kind != ServiceKind.Headless || Self.Count > 0;

    public bool TryGetHost(ReadOnlySpan<char> hostname, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AddressOwner? host)
    {
        int lo = 0, hi = Hosts.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = hostname.CompareTo(Hosts[mid].Hostname, StringComparison.Ordinal);
            if (c == 0)
            {
                host = Hosts[mid];
                return true;
            }
            if (c < 0)
            {
                hi = mid - 1;
            }
            else
            {
                lo = mid + 1;
            }
        }
        host = null;
        return false;
    }
}

/// <summary>
/// An immutable view of the cluster zone. A new one is built on every change and swapped in atomically, so the
/// packet path reads it without locks; it never changes after publication.
/// </summary>
internal sealed class ZoneSnapshot
{
    /// <summary>The empty, unsynced snapshot a new index starts from (answers SERVFAIL).</summary>
    public static ZoneSnapshot NotSynced() => new()
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
    public required Dictionary<UInt128, ReverseName[]> Reverse { get; init; }

    /// <summary>Namespaces of the Pods holding each IP (host-network Pods excluded), for `--pods verified` and autopath.</summary>
    public required Dictionary<UInt128, string[]> PodNamespaces { get; init; }

    /// <summary>Addresses of ns.dns.&lt;zone&gt; (the kube-dns Service), for the apex NS glue (N4).</summary>
    public required byte[][] NameserverAddresses { get; init; }

    /// <summary>SOA serial: the time of the last change, in Unix seconds (as CoreDNS).</summary>
    public required uint Serial { get; init; }

    public Dictionary<string, ServiceEntry>.AlternateLookup<ReadOnlySpan<char>> ServiceLookup => Services.GetAlternateLookup<ReadOnlySpan<char>>();

    public HashSet<string>.AlternateLookup<ReadOnlySpan<char>> NamespaceLookup => Namespaces.GetAlternateLookup<ReadOnlySpan<char>>();
}
