using System.Buffers.Binary;
using Switchboard.Dns.Cache;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Tests.Wire;

public sealed class CodecTests
{
    [Fact]
    public void Parse_QueryWithEdns_ReadsHeaderQuestionAndOpt()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, 512);
        w.TryWriteQuestion(DnsName.Encode("Web.Default.svc.cluster.local"), DnsType.AAAA, DnsClass.IN);
        w.TryAddOpt(4096, 0, dnssecOk: true);
        var n = w.Finish(0xBEEF, DnsFlags.RD, 0);
        // Encode lower-cases; restore an upper-case letter to see both forms kept.
        buffer[13] = (byte)'W';

        var q = default(DnsQuery);
        Assert.Equal(ParseStatus.Ok, DnsQueryParser.Parse(buffer.AsSpan(0, n), ref q));
        Assert.Equal(0xBEEF, q.Id);
        Assert.True(q.RecursionDesired);
        Assert.Equal(DnsType.AAAA, q.QType);
        Assert.Equal("Web.default.svc.cluster.local.", DnsName.ToText(q.NameWire));
        Assert.Equal("web.default.svc.cluster.local.", DnsName.ToText(q.LowerNameWire));
        Assert.True(q.HasEdns && q.DnssecOk);
        Assert.Equal(4096, q.EdnsPayload);
        Assert.Equal(1232, q.UdpLimit(1232));
        Assert.Equal(512, default(DnsQuery).UdpLimit(1232));
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x00 }, false)] // points at itself: not strictly backwards
    [InlineData(new byte[] { 0xC0, 0x05 }, false)] // forward pointer
    [InlineData(new byte[] { 0x41, 0x00 }, false)] // extended label type
    [InlineData(new byte[] { 0x03, (byte)'a', (byte)'b' }, false)] // runs off the end
    [InlineData(new byte[] { 0x01, (byte)'a', 0x00 }, true)]
    public void TryRead_MalformedNames_Rejected(byte[] name, bool valid)
    {
        var pos = 0;
        Assert.Equal(valid, DnsName.TryRead(name, ref pos, new byte[256], out _));
    }

    [Fact]
    public void TryRead_PointerChain_Decompresses()
    {
        // "b.example." at 0, "a" + pointer to 0 at 11, then a pointer to 11.
        byte[] m = [1, (byte)'b', 7, .. "example"u8, 0, 1, (byte)'a', 0xC0, 0, 0xC0, 11];
        var pos = 15;
        var name = new byte[256];
        Assert.True(DnsName.TryRead(m, ref pos, name, out var length));
        Assert.Equal("a.b.example.", DnsName.ToText(name.AsSpan(0, length)));
        Assert.Equal(17, pos);
    }

    [Fact]
    public void TryRead_NameLongerThan255_Rejected()
    {
        var m = new List<byte>();
        for (var i = 0; i < 5; i++)
        {
            m.Add(63);
            m.AddRange(Enumerable.Repeat((byte)'a', 63));
        }
        m.Add(0);
        var pos = 0;
        Assert.False(DnsName.TryRead(m.ToArray(), ref pos, new byte[256], out _));
    }

    [Theory]
    [InlineData("a.b.", true)]
    [InlineData("Cluster.Local", true)]
    [InlineData("a..b", false)]
    [InlineData("", true)]
    public void Encode_PresentationNames(string text, bool valid)
    {
        Assert.Equal(valid, DnsName.TryEncode(text, new byte[256], out _));
        Assert.False(DnsName.TryEncode(new string('x', 64) + ".example", new byte[256], out _));
    }

    [Fact]
    public void Writer_RepeatedNames_CompressedCaseInsensitively()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, 512);
        w.TryWriteQuestion(DnsName.Encode("_http._tcp.svc.ns.svc.cluster.local"), DnsType.SRV, DnsClass.IN);
        Assert.True(w.TryAddSrv(DnsSection.Answer, NameRef.Question, 5, 0, 100, 80, DnsName.Encode("svc.ns.svc.cluster.local"), out var target));
        var afterSrv = w.Length;
        Assert.True(w.TryAddAddress(DnsSection.Additional, new NameRef("\u0003SVC\u0002NS\u0003SVC\u0007CLUSTER\u0005LOCAL\0"u8), 5, [10, 0, 0, 1]));
        // SRV target uncompressed (RFC 2782) but the additional owner points at it.
        Assert.Equal(afterSrv + 2 + 10 + 4, w.Length);
        var n = w.Finish(1, DnsFlags.QR, 0);
        // The owner is one pointer, to the earliest copy of the name (here the question's suffix).
        Assert.Equal(0xC000 | (12 + 11), BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(afterSrv)));
        Assert.True(target > 12 + 11);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(10)));
        Assert.True(n < 120);
    }

    [Fact]
    public void Writer_RecordPastLimit_RolledBackWhole()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, 60);
        w.TryWriteQuestion(DnsName.Encode("a.example"), DnsType.A, DnsClass.IN);
        var added = 0;
        while (w.TryAddAddress(DnsSection.Answer, NameRef.Question, 5, [1, 2, 3, 4]))
        {
            added++;
        }
        Assert.Equal(2, added); // 12 + 15 + 2 × 16 = 59; a third does not fit
        Assert.Equal(59, w.Length);
        Assert.Equal(2, w.AnswerCount);
        Assert.Throws<InvalidOperationException>(() =>
        {
            var w2 = new DnsMessageWriter(buffer, 512);
            w2.TryAddAddress(DnsSection.Additional, NameRef.Question, 5, [1, 2, 3, 4]);
            w2.TryAddAddress(DnsSection.Answer, NameRef.Question, 5, [1, 2, 3, 4]);
        });
    }

    [Fact]
    public void RecordCopier_CompressedSource_RecompressedIntoNewMessage()
    {
        var src = new byte[512];
        var w = new DnsMessageWriter(src, 512);
        w.TryWriteQuestion(DnsName.Encode("www.example.com"), DnsType.A, DnsClass.IN);
        w.TryAddName(DnsSection.Answer, NameRef.Question, DnsType.CNAME, 300, DnsName.Encode("edge.example.com"), out var target);
        w.TryAddAddress(DnsSection.Answer, new NameRef(target), 300, [192, 0, 2, 1]);
        var n = w.Finish(7, DnsFlags.QR, 0);

        var dst = new byte[512];
        var d = new DnsMessageWriter(dst, 512);
        d.TryWriteQuestion(DnsName.Encode("alias.other.test"), DnsType.A, DnsClass.IN);
        Assert.True(MessageSplicer.TryCopy(src.AsSpan(0, n), 100, answersOnly: false, ref d, out var rcode));
        Assert.Equal(0, rcode);
        var m = dst.AsSpan(0, d.Finish(9, DnsFlags.QR, 0));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(m[6..]));
        var pos = 12;
        DnsQueryParser.SkipRecord(m, ref pos, out _); // question is not a record; skip name+4 instead
        pos = 12;
        DnsName.TrySkip(m, ref pos);
        pos += 4;
        var owner = new byte[256];
        Assert.True(DnsName.TryRead(m, ref pos, owner, out var ol));
        Assert.Equal("www.example.com.", DnsName.ToText(owner.AsSpan(0, ol)));
        Assert.Equal(200u, BinaryPrimitives.ReadUInt32BigEndian(m[(pos + 4)..])); // TTL aged by 100 s
        pos += 10;
        Assert.True(DnsName.TryRead(m, ref pos, owner, out ol));
        Assert.Equal("edge.example.com.", DnsName.ToText(owner.AsSpan(0, ol)));
    }

    [Theory]
    [InlineData("\u00011\u00010\u000296\u000210", "10.96.0.1")]
    [InlineData("\u00011\u00010\u000296", null)]
    [InlineData("\u0003256\u00010\u000296\u000210", null)]
    [InlineData("\u0001a\u00010\u000296\u000210", null)]
    public void TryParseInAddr_FourDecimalLabels(string rel, string? expected)
    {
        var bytes = rel.Select(c => (byte)c).ToArray();
        var address = new byte[16];
        var ok = ClusterZone.TryParseInAddr(bytes, address);
        Assert.Equal(expected is not null, ok);
        if (ok)
        {
            Assert.Equal(expected, new System.Net.IPAddress(address.AsSpan(0, 4)).ToString());
        }
    }

    [Fact]
    public void TryParseIp6Arpa_ThirtyTwoNibbles()
    {
        var nibbles = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f".Split('.');
        var rel = nibbles.SelectMany(n => (byte[])[1, (byte)n[0]]).ToArray();
        var address = new byte[16];
        Assert.True(ClusterZone.TryParseIp6Arpa(rel, address));
        Assert.Equal("fd00:10:96::5", new System.Net.IPAddress(address).ToString());
        Assert.False(ClusterZone.TryParseIp6Arpa(rel.AsSpan(0, 62), address));
    }

    [Theory]
    [InlineData("10-244-1-5", "10.244.1.5")]
    [InlineData("fd00--1", "fd00::1")]
    [InlineData("10-244-1", null)]
    [InlineData("10-244-1-256", null)]
    [InlineData("not-an-ip", null)]
    public void TryParseDashed_PodLabels(string label, string? expected)
    {
        var address = new byte[16];
        var ok = ClusterZone.TryParseDashed(System.Text.Encoding.ASCII.GetBytes(label), address, out var length);
        Assert.Equal(expected is not null, ok);
        if (ok)
        {
            Assert.Equal(expected, new System.Net.IPAddress(address.AsSpan(0, length)).ToString());
        }
    }

    [Fact]
    public void CacheTtl_PositiveNegativeAndUncacheable()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, 512);
        w.TryWriteQuestion(DnsName.Encode("a.example"), DnsType.A, DnsClass.IN);
        w.TryAddAddress(DnsSection.Answer, NameRef.Question, 300, [1, 1, 1, 1]);
        w.TryAddAddress(DnsSection.Answer, NameRef.Question, 60, [1, 1, 1, 2]);
        var n = w.Finish(1, DnsFlags.QR, 0);
        Assert.True(ResponseCache.TryGetTtl(buffer.AsSpan(0, n), out var ttl, out var negative));
        Assert.Equal((60u, false), (ttl, negative));

        w = new DnsMessageWriter(buffer, 512);
        w.TryWriteQuestion(DnsName.Encode("a.example"), DnsType.A, DnsClass.IN);
        w.TryAddSoa(DnsSection.Authority, new NameRef(DnsName.Encode("example")), 3600, DnsName.Encode("ns.example"), DnsName.Encode("h.example"), 1, 2, 3, 4, 30);
        n = w.Finish(1, DnsFlags.QR, DnsRcode.NXDomain);
        Assert.True(ResponseCache.TryGetTtl(buffer.AsSpan(0, n), out ttl, out negative));
        Assert.Equal((30u, true), (ttl, negative));

        n = w.Finish(1, DnsFlags.QR, DnsRcode.ServFail);
        Assert.False(ResponseCache.TryGetTtl(buffer.AsSpan(0, n), out _, out _));
        w.Truncated = true;
        n = w.Finish(1, DnsFlags.QR, 0);
        Assert.False(ResponseCache.TryGetTtl(buffer.AsSpan(0, n), out _, out _));
    }
}
