using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Kubernetes;

/// <summary>`--pods`: how &lt;a-b-c-d&gt;.&lt;ns&gt;.pod.&lt;zone&gt; is answered (S16, CoreDNS's `pods` option).</summary>
public enum PodsMode
{
    /// <summary>No pod records: NXDOMAIN (CoreDNS's default).</summary>
    Disabled,

    /// <summary>Answer any IP-shaped name in an existing namespace (kube-dns compatible).</summary>
    Insecure,

    /// <summary>Answer only when a Pod with that IP exists in that namespace (watches Pods).</summary>
    Verified,
}

/// <summary>What the cluster zone did with a query.</summary>
internal enum ZoneStatus
{
    /// <summary>Not the cluster domain nor a reverse zone: the next handler's.</summary>
    NotInZone,

    /// <summary>The response is complete in the writer (answer, authority, additional); see rcode.</summary>
    Answered,

    /// <summary>A reverse name we hold no record for, with an upstream to ask (CoreDNS's `fallthrough in-addr.arpa ip6.arpa`).</summary>
    Fallthrough,

    /// <summary>A CNAME to a name outside the zone is written (S13); its target's records must come from upstream.</summary>
    Chase,
}

/// <summary>
/// The authoritative cluster zone (the CoreDNS kubernetes plugin's role): answers &lt;zone&gt; and the reverse
/// zones from the current <see cref="ZoneSnapshot"/>, writing records straight into the response. Row IDs
/// (S1–S18, N1–N13) refer to reference/dns.md. Allocation-free: names stay in wire form and lookups use
/// span-keyed alternate lookups.
/// </summary>
internal sealed class ClusterZone
{
    private const int MaxChase = 8;
    private const uint VersionTtl = 28800;

    private static readonly System.Buffers.SearchValues<byte> DigitsAndDash = System.Buffers.SearchValues.Create("0123456789-"u8);
    private static ReadOnlySpan<byte> InAddrArpa => "\u0007in-addr\u0004arpa\0"u8;

    private static ReadOnlySpan<byte> Ip6Arpa => "\u0003ip6\u0004arpa\0"u8;

    private readonly ZoneIndex _index;
    private readonly byte[] _zone;
    private readonly byte[] _nsName;
    private readonly byte[] _hostmaster;
    private readonly uint _ttl;
    private readonly PodsMode _pods;
    private readonly bool _reverseFallthrough;

    public ClusterZone(ZoneIndex index, uint ttl, PodsMode pods, bool reverseFallthrough)
    {
        _index = index;
        _zone = DnsName.Encode(index.ZoneName);
        _nsName = DnsName.Encode("ns.dns." + index.ZoneName);
        _hostmaster = DnsName.Encode("hostmaster." + index.ZoneName);
        _ttl = ttl;
        _pods = pods;
        _reverseFallthrough = reverseFallthrough;
    }

    public ZoneIndex Index => _index;

    /// <summary>Lower-case wire form of the cluster domain.</summary>
    public ReadOnlySpan<byte> Zone => _zone;

    private enum Kind
    {
        NotInZone,
        Positive,
        NoData,
        NxDomain,
        Fallthrough,
        Chase,
    }

    private enum Soa
    {
        Cluster,
        InAddr,
        Ip6,
    }

    /// <summary>True for names this handler owns (the cluster domain and both reverse trees).</summary>
    public bool InZone(ReadOnlySpan<byte> lowerName) =>
        DnsName.EndsWith(lowerName, _zone, out _) || DnsName.EndsWith(lowerName, InAddrArpa, out _) || DnsName.EndsWith(lowerName, Ip6Arpa, out _);

    /// <summary>True if <paramref name="lowerName"/> is in the cluster domain (not the reverse trees).</summary>
    public bool InClusterDomain(ReadOnlySpan<byte> lowerName) => DnsName.EndsWith(lowerName, _zone, out _);

    /// <summary>
    /// Answers a query whose question is already written. <paramref name="chaseOffset"/> is set for
    /// <see cref="ZoneStatus.Chase"/>: where the out-of-zone CNAME target sits in the message.
    /// </summary>
    public ZoneStatus Serve(scoped ReadOnlySpan<byte> lowerName, ushort qtype, ref DnsMessageWriter w, out int rcode, out int chaseOffset)
    {
        rcode = DnsRcode.NoError;
        chaseOffset = 0;
        if (!InZone(lowerName))
        {
            return ZoneStatus.NotInZone;
        }
        var s = _index.Current;
        if (!s.Synced)
        {
            rcode = DnsRcode.ServFail; // N9: do not deny names we have not seen yet
            return ZoneStatus.Answered;
        }
        var outcome = Resolve(s, lowerName, qtype, DnsLimits.HeaderLength, ref w, 0, out var soa, out chaseOffset);
        return Finish(s, outcome, soa, ref w, out rcode);
    }

    /// <summary>
    /// Answers <paramref name="lowerName"/> into the answer section with the given owner (autopath writes a CNAME
    /// first and answers under its target). Returns the rcode, or -1 when the name is not in the zone or must
    /// fall through or be chased upstream.
    /// </summary>
    public ZoneStatus ServeAs(scoped ReadOnlySpan<byte> lowerName, ushort qtype, int ownerPointer, ref DnsMessageWriter w, out int rcode, out int chaseOffset)
    {
        rcode = DnsRcode.NoError;
        chaseOffset = 0;
        var s = _index.Current;
        if (!s.Synced)
        {
            rcode = DnsRcode.ServFail;
            return ZoneStatus.Answered;
        }
        var outcome = Resolve(s, lowerName, qtype, ownerPointer, ref w, 0, out var soa, out chaseOffset);
        return Finish(s, outcome, soa, ref w, out rcode);
    }

    private ZoneStatus Finish(ZoneSnapshot s, Kind outcome, Soa soa, ref DnsMessageWriter w, out int rcode)
    {
        rcode = DnsRcode.NoError;
        switch (outcome)
        {
            case Kind.NotInZone:
                return ZoneStatus.NotInZone;
            case Kind.Fallthrough:
                return ZoneStatus.Fallthrough;
            case Kind.Chase:
                return ZoneStatus.Chase;
            case Kind.NxDomain or Kind.NoData:
                rcode = outcome == Kind.NxDomain ? DnsRcode.NXDomain : DnsRcode.NoError;
                // N1/N2: negative answers carry the zone's SOA so resolvers can cache them for `minimum` seconds.
                if (!w.Truncated && !WriteSoa(s, DnsSection.Authority, new NameRef(SoaOwner(soa)), ref w))
                {
                    w.Truncated = true;
                }
                return ZoneStatus.Answered;
            default:
                return ZoneStatus.Answered;
        }
    }

    private Kind Resolve(ZoneSnapshot s, scoped ReadOnlySpan<byte> name, ushort qtype, int owner, ref DnsMessageWriter w, int depth, out Soa soa, out int chaseOffset)
    {
        soa = Soa.Cluster;
        chaseOffset = 0;
        if (DnsName.EndsWith(name, _zone, out var zoneStart))
        {
            return ResolveCluster(s, name, zoneStart, qtype, owner, ref w, depth, out soa, out chaseOffset);
        }
        if (DnsName.EndsWith(name, InAddrArpa, out var v4Start))
        {
            soa = Soa.InAddr;
            return ResolveReverse(s, name[..v4Start], ipv6: false, qtype, owner, ref w);
        }
        if (DnsName.EndsWith(name, Ip6Arpa, out var v6Start))
        {
            soa = Soa.Ip6;
            return ResolveReverse(s, name[..v6Start], ipv6: true, qtype, owner, ref w);
        }
        return Kind.NotInZone;
    }

    private Kind ResolveCluster(ZoneSnapshot s, scoped ReadOnlySpan<byte> name, int zoneStart, ushort qtype, int owner, ref DnsMessageWriter w, int depth, out Soa soa, out int chaseOffset)
    {
        soa = Soa.Cluster;
        chaseOffset = 0;
        Span<byte> starts = stackalloc byte[DnsLimits.MaxLabels];
        var n = DnsName.LabelStarts(name[..zoneStart], starts);
        var rel = name[..zoneStart];
        Span<char> key = stackalloc char[DnsLimits.MaxNameLength];

        switch (n)
        {
            case 0:
                return Apex(s, qtype, owner, ref w);
            case 1:
                if (Is(Label(rel, starts, 0), "dns-version"u8))
                {
                    // S1: the schema version this server implements.
                    if (qtype is DnsType.TXT or DnsType.ANY)
                    {
                        return Add(w.TryAddTxt(DnsSection.Answer, new NameRef(owner), VersionTtl, "1.1.0"u8), ref w);
                    }
                    return Kind.NoData;
                }
                // N3: empty non-terminals.
                return Is(Label(rel, starts, 0), "svc"u8) || Is(Label(rel, starts, 0), "pod"u8) || Is(Label(rel, starts, 0), "dns"u8) ? Kind.NoData : Kind.NxDomain;
            case 2:
            {
                var top = Label(rel, starts, 1);
                if (Is(top, "svc"u8) || Is(top, "pod"u8))
                {
                    // N3: <ns>.svc exists when the namespace does.
                    return s.NamespaceLookup.Contains(Chars(Label(rel, starts, 0), key)) ? Kind.NoData : Kind.NxDomain;
                }
                if (Is(top, "dns"u8) && Is(Label(rel, starts, 0), "ns"u8))
                {
                    return Glue(s, qtype, owner, ref w);
                }
                return Kind.NxDomain;
            }
        }

        var last = Label(rel, starts, n - 1);
        if (Is(last, "pod"u8))
        {
            return n == 3 ? Pod(s, Label(rel, starts, 0), Label(rel, starts, 1), qtype, owner, ref w, key) : Kind.NxDomain;
        }
        if (!Is(last, "svc"u8) || n > 5)
        {
            return Kind.NxDomain;
        }

        // <svc>.<ns>.svc is the last two labels before "svc".
        var svcKey = ServiceKey(Label(rel, starts, n - 3), Label(rel, starts, n - 2), key);
        if (!s.ServiceLookup.TryGetValue(svcKey, out var entry) || !entry.Exists)
        {
            return Kind.NxDomain; // N1, S9
        }
        switch (n)
        {
            case 3:
                return ServiceName(s, entry, qtype, owner, ref w, depth, out soa, out chaseOffset);
            case 4:
            {
                var first = Label(rel, starts, 0);
                if (entry.Kind == ServiceKind.ExternalName)
                {
                    return Kind.NxDomain; // N6
                }
                if (first.Length > 1 && first[0] == (byte)'_')
                {
                    // _<proto>.<svc>: an empty non-terminal above the SRV names.
                    foreach (var e in entry.Srv)
                    {
                        if (e.PortName.Length > 0 && Matches(e.Protocol, first[1..]))
                        {
                            return Kind.NoData;
                        }
                    }
                    return Kind.NxDomain;
                }
                // S10: <hostname>.<svc>; N6 when no such endpoint.
                if (!entry.TryGetHost(Chars(first, key), out var host))
                {
                    return Kind.NxDomain;
                }
                return Addresses(host, qtype, owner, ref w);
            }
            default:
            {
                var port = Label(rel, starts, 0);
                var proto = Label(rel, starts, 1);
                if (entry.Kind == ServiceKind.ExternalName || port.Length < 2 || proto.Length < 2 || port[0] != (byte)'_' || proto[0] != (byte)'_')
                {
                    return Kind.NxDomain;
                }
                return Srv(entry, port[1..], proto[1..], qtype, owner, ref w);
            }
        }
    }

    private Kind Apex(ZoneSnapshot s, ushort qtype, int owner, ref DnsMessageWriter w)
    {
        // N4: SOA and NS at the apex, everything else NODATA.
        var wrote = false;
        if (qtype is DnsType.SOA or DnsType.ANY)
        {
            if (!WriteSoa(s, DnsSection.Answer, new NameRef(owner), ref w))
            {
                w.Truncated = true;
                return Kind.Positive;
            }
            wrote = true;
        }
        if (qtype is DnsType.NS or DnsType.ANY)
        {
            if (!w.TryAddName(DnsSection.Answer, new NameRef(owner), DnsType.NS, _ttl, _nsName, out var target))
            {
                w.Truncated = true;
                return Kind.Positive;
            }
            foreach (var address in s.NameserverAddresses)
            {
                if (!w.TryAddAddress(DnsSection.Additional, new NameRef(target), _ttl, address))
                {
                    break;
                }
            }
            wrote = true;
        }
        return wrote ? Kind.Positive : Kind.NoData;
    }

    private Kind Glue(ZoneSnapshot s, ushort qtype, int owner, ref DnsMessageWriter w)
    {
        var written = 0;
        foreach (var address in s.NameserverAddresses)
        {
            if (WantsAddress(qtype, address.Length))
            {
                if (!w.TryAddAddress(DnsSection.Answer, new NameRef(owner), _ttl, address))
                {
                    w.Truncated = true;
                    break;
                }
                written++;
            }
        }
        return written > 0 || w.Truncated ? Kind.Positive : Kind.NoData;
    }

    private Kind ServiceName(ZoneSnapshot s, ServiceEntry entry, ushort qtype, int owner, ref DnsMessageWriter w, int depth, out Soa soa, out int chaseOffset)
    {
        soa = Soa.Cluster;
        chaseOffset = 0;
        if (entry.Kind == ServiceKind.ExternalName)
        {
            if (entry.ExternalName is null)
            {
                return Kind.NoData;
            }
            // S13: the name is an alias; every type is answered with the CNAME, then the target's records (N12).
            if (!w.TryAddName(DnsSection.Answer, new NameRef(owner), DnsType.CNAME, _ttl, entry.ExternalName, out var target))
            {
                w.Truncated = true;
                return Kind.Positive;
            }
            if (qtype is DnsType.CNAME or DnsType.ANY || depth >= MaxChase)
            {
                return Kind.Positive;
            }
            var chased = Resolve(s, entry.ExternalName, qtype, target, ref w, depth + 1, out soa, out chaseOffset);
            switch (chased)
            {
                case Kind.NotInZone or Kind.Fallthrough:
                    chaseOffset = target;
                    return Kind.Chase;
                case Kind.NoData:
                    return Kind.Positive; // the CNAME is the answer; the target just has no such type
                default:
                    return chased;
            }
        }
        if (qtype == DnsType.SRV)
        {
            return Srv(entry, default, default, qtype, owner, ref w); // N11: every port
        }
        return Addresses(entry.Self, qtype, owner, ref w);
    }

    private Kind Addresses(AddressOwner o, ushort qtype, int owner, ref DnsMessageWriter w)
    {
        var written = 0;
        for (var i = 0; i < o.Count; i++)
        {
            var address = o.Address(i);
            if (WantsAddress(qtype, address.Length))
            {
                if (!w.TryAddAddress(DnsSection.Answer, new NameRef(owner), _ttl, address))
                {
                    w.Truncated = true;
                    return Kind.Positive;
                }
                written++;
            }
        }
        return written > 0 ? Kind.Positive : Kind.NoData; // S5/N2: the name exists, the type does not
    }

    /// <summary>
    /// S6/S11: SRV for one named port (or every port for a bare Service name, N11). Priority 0 and weight
    /// floor(100/N), at least 1, as CoreDNS (N10); the targets' addresses go to the additional section.
    /// </summary>
    private Kind Srv(ServiceEntry entry, scoped ReadOnlySpan<byte> port, scoped ReadOnlySpan<byte> proto, ushort qtype, int owner, ref DnsMessageWriter w)
    {
        var all = port.IsEmpty;
        var count = 0;
        foreach (var e in entry.Srv)
        {
            if (all || (e.PortName.Length > 0 && Matches(e.PortName, port) && Matches(e.Protocol, proto)))
            {
                count++;
            }
        }
        if (count == 0)
        {
            return all ? Kind.NoData : Kind.NxDomain;
        }
        if (qtype is not (DnsType.SRV or DnsType.ANY))
        {
            return Kind.NoData;
        }
        var weight = (ushort)Math.Max(1, 100 / count);
        foreach (var e in entry.Srv)
        {
            if (all || (e.PortName.Length > 0 && Matches(e.PortName, port) && Matches(e.Protocol, proto)))
            {
                if (!w.TryAddSrv(DnsSection.Answer, new NameRef(owner), _ttl, 0, weight, e.Port, e.Target.Fqdn, out _))
                {
                    w.Truncated = true;
                    return Kind.Positive;
                }
            }
        }
        // Additional: each distinct target's addresses once; dropped quietly when they do not fit (RFC 2181 §9).
        for (var i = 0; i < entry.Srv.Length; i++)
        {
            var e = entry.Srv[i];
            if (!(all || (e.PortName.Length > 0 && Matches(e.PortName, port) && Matches(e.Protocol, proto))) || SeenTarget(entry.Srv, i, e.Target, all, port, proto))
            {
                continue;
            }
            for (var a = 0; a < e.Target.Count; a++)
            {
                if (!w.TryAddAddress(DnsSection.Additional, new NameRef(e.Target.Fqdn), _ttl, e.Target.Address(a)))
                {
                    return Kind.Positive;
                }
            }
        }
        return Kind.Positive;
    }

    private static bool SeenTarget(SrvEntry[] srv, int upTo, AddressOwner target, bool all, ReadOnlySpan<byte> port, ReadOnlySpan<byte> proto)
    {
        for (var j = 0; j < upTo; j++)
        {
            var e = srv[j];
            if (ReferenceEquals(e.Target, target) && (all || (e.PortName.Length > 0 && Matches(e.PortName, port) && Matches(e.Protocol, proto))))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>S16: &lt;a-b-c-d&gt;.&lt;ns&gt;.pod per `--pods`.</summary>
    private Kind Pod(ZoneSnapshot s, scoped ReadOnlySpan<byte> dashed, scoped ReadOnlySpan<byte> ns, ushort qtype, int owner, ref DnsMessageWriter w, scoped Span<char> key)
    {
        if (_pods == PodsMode.Disabled || !s.NamespaceLookup.Contains(Chars(ns, key)))
        {
            return Kind.NxDomain;
        }
        Span<byte> address = stackalloc byte[16];
        if (!TryParseDashed(dashed, address, out var length))
        {
            return Kind.NxDomain;
        }
        var ip = address[..length];
        if (_pods == PodsMode.Verified)
        {
            if (!s.PodNamespaces.TryGetValue(IpKey.From(ip), out var namespaces) || !ContainsNamespace(namespaces, ns))
            {
                return Kind.NxDomain;
            }
        }
        if (!WantsAddress(qtype, length))
        {
            return Kind.NoData;
        }
        return Add(w.TryAddAddress(DnsSection.Answer, new NameRef(owner), _ttl, ip), ref w);
    }

    private Kind ResolveReverse(ZoneSnapshot s, scoped ReadOnlySpan<byte> rel, bool ipv6, ushort qtype, int owner, ref DnsMessageWriter w)
    {
        Span<byte> address = stackalloc byte[16];
        var miss = _reverseFallthrough ? Kind.Fallthrough : Kind.NxDomain; // N7
        if (!(ipv6 ? TryParseIp6Arpa(rel, address) : TryParseInAddr(rel, address)))
        {
            return miss;
        }
        if (!s.Reverse.TryGetValue(IpKey.From(address[..(ipv6 ? 16 : 4)]), out var names))
        {
            return miss;
        }
        if (qtype is not (DnsType.PTR or DnsType.ANY))
        {
            return Kind.NoData;
        }
        foreach (var target in names)
        {
            // N8: one PTR per Service that selects the IP.
            if (!w.TryAddName(DnsSection.Answer, new NameRef(owner), DnsType.PTR, _ttl, target.Name, out _))
            {
                w.Truncated = true;
                break;
            }
        }
        return Kind.Positive;
    }

    private bool WriteSoa(ZoneSnapshot s, DnsSection section, scoped NameRef owner, ref DnsMessageWriter w) =>
        // N4/N13: minimum = ttl, so negative answers are cached exactly as long as positive ones.
        w.TryAddSoa(section, owner, _ttl, _nsName, _hostmaster, s.Serial, 7200, 1800, 86400, _ttl);

    private ReadOnlySpan<byte> SoaOwner(Soa soa) => soa switch
    {
        Soa.InAddr => InAddrArpa,
        Soa.Ip6 => Ip6Arpa,
        _ => _zone,
    };

    private static Kind Add(bool ok, ref DnsMessageWriter w)
    {
        if (!ok)
        {
            w.Truncated = true;
        }
        return Kind.Positive;
    }

    private static bool WantsAddress(ushort qtype, int length) =>
        qtype == DnsType.ANY || (qtype == DnsType.A && length == 4) || (qtype == DnsType.AAAA && length == 16);

    private static ReadOnlySpan<byte> Label(ReadOnlySpan<byte> rel, ReadOnlySpan<byte> starts, int i) => rel.Slice(starts[i] + 1, rel[starts[i]]);

    private static bool Is(ReadOnlySpan<byte> label, ReadOnlySpan<byte> literal) => label.SequenceEqual(literal);

    private static bool Matches(string value, ReadOnlySpan<byte> label)
    {
        if (value.Length != label.Length)
        {
            return false;
        }
        for (var i = 0; i < label.Length; i++)
        {
            if (value[i] != label[i])
            {
                return false;
            }
        }
        return true;
    }

    private static bool ContainsNamespace(string[] namespaces, ReadOnlySpan<byte> ns)
    {
        foreach (var n in namespaces)
        {
            if (Matches(n, ns))
            {
                return true;
            }
        }
        return false;
    }

    private static ReadOnlySpan<char> Chars(ReadOnlySpan<byte> label, Span<char> buffer)
    {
        for (var i = 0; i < label.Length; i++)
        {
            buffer[i] = (char)label[i];
        }
        return buffer[..label.Length];
    }

    private static ReadOnlySpan<char> ServiceKey(ReadOnlySpan<byte> service, ReadOnlySpan<byte> ns, Span<char> buffer)
    {
        var p = 0;
        foreach (var b in service)
        {
            buffer[p++] = (char)b;
        }
        buffer[p++] = '.';
        foreach (var b in ns)
        {
            buffer[p++] = (char)b;
        }
        return buffer[..p];
    }

    /// <summary>"10-244-1-5" → 10.244.1.5; "fd00--1" → fd00::1.</summary>
    internal static bool TryParseDashed(ReadOnlySpan<byte> label, Span<byte> address, out int length)
    {
        length = 0;
        Span<char> text = stackalloc char[64];
        if (label.Length is 0 or > 45)
        {
            return false;
        }
        var dashes = label.Count((byte)'-');
        var v4 = dashes == 3 && label.IndexOfAnyExcept(DigitsAndDash) < 0;
        for (var i = 0; i < label.Length; i++)
        {
            text[i] = label[i] == (byte)'-' ? (v4 ? '.' : ':') : (char)label[i];
        }
        if (v4)
        {
            length = 4;
            return TryParseDecimalQuad(text[..label.Length], address);
        }
        // IPv6 is rare enough here that System.Net's parser (which allocates) is fine.
        if (System.Net.IPAddress.TryParse(text[..label.Length], out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            length = 16;
            return ip.TryWriteBytes(address, out _);
        }
        return false;
    }

    private static bool TryParseDecimalQuad(ReadOnlySpan<char> text, Span<byte> address)
    {
        var part = 0;
        var value = -1;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (value < 0 || part >= 3)
                {
                    return false;
                }
                address[part++] = (byte)value;
                value = -1;
                continue;
            }
            value = value < 0 ? c - '0' : (value * 10) + (c - '0');
            if (value > 255)
            {
                return false;
            }
        }
        if (value < 0 || part != 3)
        {
            return false;
        }
        address[3] = (byte)value;
        return true;
    }

    /// <summary>d.c.b.a (the labels before in-addr.arpa, in wire form) → a.b.c.d; exactly four decimal labels.</summary>
    internal static bool TryParseInAddr(ReadOnlySpan<byte> rel, Span<byte> address)
    {
        var p = 0;
        for (var i = 3; i >= 0; i--)
        {
            if (p >= rel.Length)
            {
                return false;
            }
            int len = rel[p];
            if (len is 0 or > 3 || p + 1 + len > rel.Length)
            {
                return false;
            }
            var value = 0;
            for (var j = 1; j <= len; j++)
            {
                var c = rel[p + j];
                if (c is < (byte)'0' or > (byte)'9')
                {
                    return false;
                }
                value = (value * 10) + (c - '0');
            }
            if (value > 255)
            {
                return false;
            }
            address[i] = (byte)value;
            p += len + 1;
        }
        return p == rel.Length;
    }

    /// <summary>32 single-nibble labels (least significant first) before ip6.arpa → the IPv6 address.</summary>
    internal static bool TryParseIp6Arpa(ReadOnlySpan<byte> rel, Span<byte> address)
    {
        if (rel.Length != 64)
        {
            return false;
        }
        address[..16].Clear();
        for (var i = 0; i < 32; i++)
        {
            if (rel[i * 2] != 1)
            {
                return false;
            }
            var c = rel[(i * 2) + 1];
            int nibble = c switch
            {
                >= (byte)'0' and <= (byte)'9' => c - '0',
                >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
                _ => -1,
            };
            if (nibble < 0)
            {
                return false;
            }
            var index = 31 - i; // nibble index from the most significant end
            address[index / 2] |= (byte)(index % 2 == 0 ? nibble << 4 : nibble);
        }
        return true;
    }
}
