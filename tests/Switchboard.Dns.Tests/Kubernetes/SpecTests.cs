using Switchboard.Dns.Tests.Fixtures;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>
/// One expected exchange. Answer/Additional entries are "TYPE data" compared as sets (dig's rendering);
/// Authority entries are "SOA owner minimum". Ordered checks the answer in order (CNAME before its target).
/// </summary>
public sealed record SpecCase(string Id, string Name, string Type, string Status, string[] Answer, string[]? Authority = null, string[]? Additional = null, bool Ordered = false, int? Ttl = null);

/// <summary>
/// Every row of reference/dns.md §1 (S1–S18), the CoreDNS behaviours N1–N13 and the twelve query→answer
/// examples, asked with the real dig against a server fed by list+watch from the in-process API server.
/// Rows needing an IPv6 or dual-stack Service (S3, S4, S8, example 6), other `--pods` modes (S16) or an unsynced
/// zone (N9) are in their own suites beside this one.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SpecTests(ClusterFixture fixture)
{
    private const string Soa = "SOA cluster.local. 5";
    private const string Z = ".cluster.local.";

    public static readonly SpecCase[] All =
    [
        // reference/dns.md §1 examples 1–12 (6 is in DualStackTests).
        new("ex1-S1", "dns-version.cluster.local", "TXT", "NOERROR", ["TXT \"1.1.0\""], Ttl: 28800),
        new("ex2-S2", "kubernetes.default.svc.cluster.local", "A", "NOERROR", ["A 10.96.0.1"], Ttl: 5),
        new("ex3-S5-N2", "kubernetes.default.svc.cluster.local", "AAAA", "NOERROR", [], [Soa]),
        new("ex4-S6-N10", "_https._tcp.kubernetes.default.svc.cluster.local", "SRV", "NOERROR", ["SRV 0 100 443 kubernetes.default" + ".svc" + Z], Additional: ["A 10.96.0.1"]),
        new("ex5-S7", "1.0.96.10.in-addr.arpa", "PTR", "NOERROR", ["PTR kubernetes.default.svc" + Z]),
        new("ex7-S9-S17", "db.prod.svc.cluster.local", "A", "NOERROR", ["A 10.244.1.5", "A 10.244.2.7"]),
        new("ex8-S11-N10", "_pg._tcp.db.prod.svc.cluster.local", "SRV", "NOERROR", ["SRV 0 50 5432 db-0.db.prod.svc" + Z, "SRV 0 50 5432 db-1.db.prod.svc" + Z], Additional: ["A 10.244.1.5", "A 10.244.2.7"]),
        new("ex9a-S10", "db-1.db.prod.svc.cluster.local", "A", "NOERROR", ["A 10.244.2.7"]),
        new("ex9b-S12", "7.2.244.10.in-addr.arpa", "PTR", "NOERROR", ["PTR db-1.db.prod.svc" + Z]),
        new("ex9c-N6", "db-2.db.prod.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("ex10-S13", "ext.default.svc.cluster.local", "A", "NOERROR", ["CNAME www.example.com.", "A 192.0.2.53"], Ordered: true),
        new("ex11-N1", "nosuch.default.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("ex12-S9", "down.prod.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),

        // S rows beyond the examples.
        new("S5-txt", "svc1.testns.svc.cluster.local", "TXT", "NOERROR", [], [Soa]),
        new("S6-named", "_http._tcp.svc1.testns.svc.cluster.local", "SRV", "NOERROR", ["SRV 0 100 80 svc1.testns.svc" + Z], Additional: ["A 10.96.0.11"]),
        new("S6-wrong-proto", "_http._udp.svc1.testns.svc.cluster.local", "SRV", "NXDOMAIN", [], [Soa]),
        new("S9-v4", "hdls1.testns.svc.cluster.local", "A", "NOERROR", ["A 172.0.0.2", "A 172.0.0.3", "A 172.0.0.4", "A 172.0.0.5"]),
        new("S9-v6", "hdls1.testns.svc.cluster.local", "AAAA", "NOERROR", ["AAAA 5678:abcd::1", "AAAA 5678:abcd::2"]),
        new("S9-portless", "hdlsprtls.testns.svc.cluster.local", "A", "NOERROR", ["A 172.0.0.20"]),
        new("S10-dup", "dup-name.hdls1.testns.svc.cluster.local", "A", "NOERROR", ["A 172.0.0.4", "A 172.0.0.5"]),
        new("S11-headless", "_http._tcp.hdls1.testns.svc.cluster.local", "SRV", "NOERROR",
            ["SRV 0 20 80 172-0-0-2.hdls1.testns.svc" + Z, "SRV 0 20 80 172-0-0-3.hdls1.testns.svc" + Z, "SRV 0 20 80 dup-name.hdls1.testns.svc" + Z,
             "SRV 0 20 80 5678-abcd--1.hdls1.testns.svc" + Z, "SRV 0 20 80 5678-abcd--2.hdls1.testns.svc" + Z],
            Additional: ["A 172.0.0.2", "A 172.0.0.3", "A 172.0.0.4", "A 172.0.0.5", "AAAA 5678:abcd::1", "AAAA 5678:abcd::2"]),
        new("S12-dashed", "2.0.0.172.in-addr.arpa", "PTR", "NOERROR", ["PTR 172-0-0-2.hdls1.testns.svc" + Z]),
        new("S12-v6", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa", "PTR", "NOERROR", ["PTR 5678-abcd--1.hdls1.testns.svc" + Z]),
        new("S12-unready", "9.3.244.10.in-addr.arpa", "PTR", "NXDOMAIN", [], ["SOA example. 30"]),
        new("S13-external", "external.testns.svc.cluster.local", "A", "NOERROR", ["CNAME ext.interwebs.test.", "A 192.0.2.80"], Ordered: true),
        new("S13-cname", "external.testns.svc.cluster.local", "CNAME", "NOERROR", ["CNAME ext.interwebs.test."]),
        new("S14-v4", "172-0-0-2.hdls1.testns.svc.cluster.local", "A", "NOERROR", ["A 172.0.0.2"]),
        new("S14-v6", "5678-abcd--1.hdls1.testns.svc.cluster.local", "AAAA", "NOERROR", ["AAAA 5678:abcd::1"]),
        new("S14-clusterip-endpoint", "10-244-0-1.svc1.testns.svc.cluster.local", "A", "NOERROR", ["A 10.244.0.1"]),
        new("S15-hostname", "foo.bar.pods.svc.cluster.local", "A", "NOERROR", ["A 10.244.9.9"]),
        new("S15-subdomain", "bar.pods.svc.cluster.local", "A", "NOERROR", ["A 10.244.9.9", "A 10.244.9.10"]),
        new("S16-insecure", "10-244-9-9.pods.pod.cluster.local", "A", "NOERROR", ["A 10.244.9.9"]),
        new("S16-insecure-v6", "fd00--1.pods.pod.cluster.local", "AAAA", "NOERROR", ["AAAA fd00::1"]),
        new("S16-no-namespace", "10-244-9-9.nons.pod.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("S17-publish-not-ready", "db-all.prod.svc.cluster.local", "A", "NOERROR", ["A 10.244.1.15", "A 10.244.3.19"]),
        new("S17-unready-host", "db-2.db-all.prod.svc.cluster.local", "A", "NOERROR", ["A 10.244.3.19"]),

        // N rows.
        new("N1-no-namespace", "svc0.svc-nons.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("N1-other-zone-name", "a.b.c.d.e.f.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("N2-aaaa", "svc1.testns.svc.cluster.local", "AAAA", "NOERROR", [], [Soa]),
        new("N3-svc", "svc.cluster.local", "A", "NOERROR", [], [Soa]),
        new("N3-pod", "pod.cluster.local", "A", "NOERROR", [], [Soa]),
        new("N3-namespace", "testns.svc.cluster.local", "A", "NOERROR", [], [Soa]),
        new("N3-empty-namespace", "emptyns.svc.cluster.local", "A", "NOERROR", [], [Soa]),
        new("N3-no-namespace", "nons.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("N3-srv-proto", "_tcp.svc1.testns.svc.cluster.local", "SRV", "NOERROR", [], [Soa]),
        new("N4-soa", "cluster.local", "SOA", "NOERROR", ["SOA ns.dns.cluster.local. hostmaster.cluster.local. * 7200 1800 86400 5"]),
        new("N4-ns", "cluster.local", "NS", "NOERROR", ["NS ns.dns.cluster.local."], Additional: ["A 127.0.0.1"]),
        new("N4-other", "cluster.local", "A", "NOERROR", [], [Soa]),
        new("N4-glue", "ns.dns.cluster.local", "A", "NOERROR", ["A 127.0.0.1"]),
        new("N5-empty-service", "svcempty.testns.svc.cluster.local", "A", "NOERROR", ["A 10.96.0.13"]),
        new("N6-bogus-endpoint", "bogusendpoint.hdls1.testns.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("N6-externalname-endpoint", "endpoint.external.testns.svc.cluster.local", "A", "NXDOMAIN", [], [Soa]),
        new("N7-fallthrough-hit", "99.0.0.10.in-addr.arpa", "PTR", "NOERROR", ["PTR fallthrough.example."]),
        new("N7-fallthrough-miss", "101.0.0.10.in-addr.arpa", "PTR", "NXDOMAIN", [], ["SOA example. 30"]),
        new("N8-two-services", "1.0.244.10.in-addr.arpa", "PTR", "NOERROR", ["PTR 10-244-0-1.svc1.testns.svc" + Z, "PTR 10-244-0-1.svctwin.testns.svc" + Z]),
        new("N8-clusterip", "11.0.96.10.in-addr.arpa", "PTR", "NOERROR", ["PTR svc1.testns.svc" + Z]),
        new("N11-bare-srv", "svc2.testns.svc.cluster.local", "SRV", "NOERROR", ["SRV 0 50 80 svc2.testns.svc" + Z, "SRV 0 50 53 svc2.testns.svc" + Z], Additional: ["A 10.96.0.14"]),
        new("N11-named-udp", "_dns._udp.svc2.testns.svc.cluster.local", "SRV", "NOERROR", ["SRV 0 100 53 svc2.testns.svc" + Z]),
        new("N12-cname-in-zone", "external-to-service.testns.svc.cluster.local", "A", "NOERROR", ["CNAME svc1.testns.svc" + Z, "A 10.96.0.11"], Ordered: true),
        new("N12-cname-in-zone-nodata", "external-to-service.testns.svc.cluster.local", "AAAA", "NOERROR", ["CNAME svc1.testns.svc" + Z]),
        new("N13-ttl", "svc1.testns.svc.cluster.local", "A", "NOERROR", ["A 10.96.0.11"], Ttl: 5),

        // Protocol extras: ANY, unknown types, class.
        new("any-service", "hdls1.testns.svc.cluster.local", "ANY", "NOERROR", ["A 172.0.0.2", "A 172.0.0.3", "A 172.0.0.4", "A 172.0.0.5", "AAAA 5678:abcd::1", "AAAA 5678:abcd::2"]),
        new("unknown-type-existing", "svc1.testns.svc.cluster.local", "TYPE65400", "NOERROR", [], [Soa]),
        new("unknown-type-missing", "nosuch.testns.svc.cluster.local", "TYPE65400", "NXDOMAIN", [], [Soa]),
        new("forwarded", "example.org", "A", "NOERROR", ["A 192.0.2.1"]),
    ];

    public static TheoryData<string> Ids => [.. All.Select(c => c.Id)];

    [Theory]
    [MemberData(nameof(Ids))]
    public async Task Dig_AnswersAsSpecified(string id)
    {
        var c = All.Single(x => x.Id == id);
        var r = await Dig.QueryAsync(fixture.Port, c.Name, c.Type);
        Assert.True(c.Status == r.Status, $"{id}: status {r.Status}, expected {c.Status}\n{r.Raw}");
        var answer = r.Answer.Select(Render).ToList();
        if (c.Ordered)
        {
            Assert.Equal(c.Answer, answer);
        }
        else
        {
            AssertSet(c.Answer, answer, id + " answer", r.Raw);
        }
        if (c.Authority is not null)
        {
            AssertSet(c.Authority, r.Authority.Select(a => a.Type == "SOA" ? $"SOA {a.Name} {a.Data.Split(' ')[^1]}" : a.ToString()).ToList(), id + " authority", r.Raw);
        }
        if (c.Additional is not null)
        {
            AssertSet(c.Additional, r.Additional.Select(Render).ToList(), id + " additional", r.Raw);
        }
        if (c.Ttl is { } ttl)
        {
            Assert.All(r.Answer, a => Assert.Equal(ttl, a.Ttl));
        }
        Assert.True(r.Has("qr"));
        if (c.Id != "forwarded" && !c.Id.StartsWith("N7", StringComparison.Ordinal) && c.Id != "S12-unready")
        {
            Assert.True(r.Has("aa"), $"{id}: cluster answers are authoritative\n{r.Raw}");
        }
    }

    [Fact]
    public async Task Dig_MixedCaseQuestion_AnswersWithTheAskersCase()
    {
        // S18: names compare case-insensitively; the owner name echoes the question (CoreDNS handler_case_test).
        var r = await Dig.QueryAsync(fixture.Port, "SvC1.TeStNs.SvC.cLuStEr.LoCaL.", "A");
        Assert.Equal("NOERROR", r.Status);
        var a = Assert.Single(r.Answer);
        Assert.Equal("SvC1.TeStNs.SvC.cLuStEr.LoCaL.", a.Name);
        Assert.Equal("10.96.0.11", a.Data);
    }

    [Fact]
    public async Task Dig_NegativeAnswer_SoaMinimumIsTheTtl()
    {
        // N13: minimum = ttl, so resolvers cache NXDOMAIN as long as positive answers.
        var r = await Dig.QueryAsync(fixture.Port, "nosuch.default.svc.cluster.local", "A");
        var soa = Assert.Single(r.Authority);
        Assert.Equal("cluster.local.", soa.Name);
        Assert.Equal(5, soa.Ttl);
        Assert.EndsWith(" 7200 1800 86400 5", soa.Data, StringComparison.Ordinal);
    }

    private static string Render(Rr r) => $"{r.Type} {r.Data}";

    private static void AssertSet(string[] expected, List<string> actual, string what, string raw)
    {
        var unmatched = actual.ToList();
        foreach (var e in expected)
        {
            var hit = unmatched.FindIndex(a => Matches(e, a));
            Assert.True(hit >= 0, $"{what}: missing '{e}' in [{string.Join(" | ", actual)}]\n{raw}");
            unmatched.RemoveAt(hit);
        }
        Assert.True(unmatched.Count == 0, $"{what}: unexpected [{string.Join(" | ", unmatched)}]\n{raw}");
    }

    private static bool Matches(string pattern, string value)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return pattern == value;
        }
        var parts = pattern.Split('*');
        return value.StartsWith(parts[0], StringComparison.Ordinal) && value.EndsWith(parts[1], StringComparison.Ordinal);
    }
}
