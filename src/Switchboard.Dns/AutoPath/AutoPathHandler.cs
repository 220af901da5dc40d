using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Server;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.AutoPath;

/// <summary>What autopath did with a query.</summary>
internal enum AutoPathStatus
{
    /// <summary>Not a first-search-path query from a known Pod, or nothing better found: handle normally.</summary>
    NotApplicable,

    /// <summary>The response is in the writer.</summary>
    Answered,

    /// <summary>A candidate outside the zone must be fetched first.</summary>
    NeedsExternal,
}

/// <summary>
/// Server-side search-path walking (CoreDNS autopath @kubernetes). A Pod with ndots:5 asks for
/// "example.com.&lt;ns&gt;.svc.&lt;zone&gt;" first; when the asker's IP is a Pod in &lt;ns&gt;, this walks the rest of
/// that Pod's search list (svc.&lt;zone&gt;, &lt;zone&gt;, the host's search domains, then the bare name) here and answers
/// the first query with a CNAME to the first name that exists plus its records, so the lookup costs one round
/// trip instead of five. When every candidate is NXDOMAIN it steps aside and the query is answered as usual.
/// </summary>
internal sealed class AutoPathHandler
{
    private readonly ClusterZone _zone;
    private readonly byte[][] _search;
    private readonly DnsMetrics _metrics;
    private readonly uint _ttl;

    public AutoPathHandler(ClusterZone zone, IReadOnlyList<string> hostSearch, uint ttl, DnsMetrics metrics)
    {
        _zone = zone;
        _ttl = ttl;
        _metrics = metrics;
        var list = new List<byte[]> { DnsName.Encode("svc." + zone.Index.ZoneName), zone.Zone.ToArray() };
        Span<byte> buffer = stackalloc byte[DnsLimits.MaxNameLength + 1];
        foreach (var s in hostSearch)
        {
            if (DnsName.TryEncode(s, buffer, out var length))
            {
                list.Add(buffer[..length].ToArray());
            }
        }
        list.Add([0]); // the bare name last
        _search = [.. list];
    }

    public AutoPathStatus TryServe(scoped ReadOnlySpan<byte> lowerName, ushort qtype, UInt128 client, ref DnsMessageWriter w, scoped ExternalSource external, out int rcode, out bool authoritative, scoped Span<byte> needName, out int needLength)
    {
        rcode = DnsRcode.NoError;
        authoritative = true;
        needLength = 0;
        var s = _zone.Index.Current;
        if (!s.Synced || !s.PodNamespaces.TryGetValue(client, out var namespaces) || namespaces.Length != 1)
        {
            return AutoPathStatus.NotApplicable;
        }

        // The Pod's first search domain: <ns>.svc.<zone>. Only a query ending in it is a search-list walk.
        Span<byte> first = stackalloc byte[DnsLimits.MaxNameLength + 1];
        var ns = namespaces[0];
        var zone = _zone.Zone;
        if (ns.Length + 5 + zone.Length > DnsLimits.MaxNameLength)
        {
            return AutoPathStatus.NotApplicable;
        }
        first[0] = (byte)ns.Length;
        for (var i = 0; i < ns.Length; i++)
        {
            first[1 + i] = (byte)ns[i];
        }
        "\u0003svc"u8.CopyTo(first[(1 + ns.Length)..]);
        zone.CopyTo(first[(5 + ns.Length)..]);
        if (!DnsName.EndsWith(lowerName, first[..(5 + ns.Length + zone.Length)], out var baseLength) || baseLength == 0)
        {
            return AutoPathStatus.NotApplicable;
        }
        var baseName = lowerName[..baseLength];

        // The name as asked may exist (a Service in the Pod's namespace): then there is nothing to shorten.
        var start = w.Checkpoint();
        var status = _zone.ServeAs(lowerName, qtype, DnsLimits.HeaderLength, ref w, out rcode, out _);
        if (status == ZoneStatus.Answered && rcode != DnsRcode.NXDomain)
        {
            return AutoPathStatus.Answered;
        }
        w.Rollback(start);
        if (status != ZoneStatus.Answered)
        {
            return AutoPathStatus.NotApplicable;
        }

        Span<byte> candidate = stackalloc byte[DnsLimits.MaxNameLength + 1];
        foreach (var suffix in _search)
        {
            if (baseLength + suffix.Length > DnsLimits.MaxNameLength)
            {
                continue;
            }
            baseName.CopyTo(candidate);
            suffix.CopyTo(candidate[baseLength..]);
            var name = candidate[..(baseLength + suffix.Length)];

            if (_zone.InZone(name))
            {
                if (!w.TryAddName(DnsSection.Answer, NameRef.Question, DnsType.CNAME, _ttl, name, out var target))
                {
                    return AutoPathStatus.NotApplicable;
                }
                status = _zone.ServeAs(name, qtype, target, ref w, out rcode, out _);
                if (status == ZoneStatus.Answered && rcode != DnsRcode.NXDomain)
                {
                    _metrics.AutoPathSuccess();
                    return AutoPathStatus.Answered;
                }
                w.Rollback(start);
                if (status != ZoneStatus.Answered)
                {
                    return AutoPathStatus.NotApplicable; // an ExternalName or reverse fallthrough: leave it to the normal path
                }
                continue;
            }

            switch (external.Lookup(name, qtype, out var message, out var age, out _))
            {
                case ExternalState.Missing:
                    name.CopyTo(needName);
                    needLength = name.Length;
                    return AutoPathStatus.NeedsExternal;
                case ExternalState.Failed:
                    continue;
            }
            var upstreamRcode = message![3] & 0x0F;
            if (upstreamRcode == DnsRcode.NXDomain)
            {
                continue;
            }
            if (upstreamRcode != DnsRcode.NoError)
            {
                return AutoPathStatus.NotApplicable;
            }
            if (!w.TryAddName(DnsSection.Answer, NameRef.Question, DnsType.CNAME, _ttl, name, out _)
                || !MessageSplicer.TryCopy(message, age, answersOnly: true, ref w, out _))
            {
                w.Rollback(start);
                return AutoPathStatus.NotApplicable;
            }
            rcode = DnsRcode.NoError;
            authoritative = false;
            _metrics.AutoPathSuccess();
            return AutoPathStatus.Answered;
        }
        return AutoPathStatus.NotApplicable;
    }
}
