using System.Buffers.Binary;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using Switchboard.Dns.Wire;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Server;

/// <summary>EDNS0, TCP, truncation, compression and malformed input against the real transports.</summary>
public sealed class ProtocolTests : IAsyncLifetime
{
    private const int Endpoints = 200;
    private InjectedServer _server = null!;

    private int Port => _server.Port;

    public async Task InitializeAsync()
    {
        // A headless Service far larger than one UDP answer (reference/dns.md complaint 10).
        var big = Slice("default", "big", "big-1", "IPv4", [("http", 80, "TCP")],
            [.. Enumerable.Range(0, Endpoints).Select(i => Ep($"10.245.{i / 250}.{(i % 250) + 1}"))]);
        _server = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, "none"), objects:
            [Namespace("default"), Headless("default", "big", false, ("http", 80, "TCP")), big, ClusterIp("default", "web", "10.96.0.9", ("http", 80, "TCP"))]);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Dig_LargeAnswer_TruncatedOverUdpThenWholeOverTcp()
    {
        var r = await Dig.QueryAsync(Port, "big.default.svc.cluster.local", "A");
        Assert.True(r.RetriedOverTcp, r.Raw);
        Assert.Equal(Endpoints, r.Answer.Count);
    }

    [Fact]
    public async Task Dig_LargeAnswerWithoutRetry_TcSetWithTheRecordsThatFit()
    {
        var r = await Dig.QueryAsync(Port, "big.default.svc.cluster.local", "A", "+ignore");
        Assert.True(r.Has("tc"), r.Raw);
        Assert.InRange(r.Answer.Count, 1, Endpoints - 1);

        var classic = await Dig.QueryAsync(Port, "big.default.svc.cluster.local", "A", "+ignore", "+noedns");
        Assert.True(classic.Has("tc"));
        Assert.True(classic.Answer.Count < r.Answer.Count, "without EDNS the limit is 512 bytes");
    }

    [Fact]
    public async Task Udp_Edns_ResponseCarriesOptAndAnswerFitsAdvertisedSize()
    {
        var q = RawDns.Query("big.default.svc.cluster.local", DnsType.A, ednsVersion: 0, ednsSize: 4096);
        var m = await RawDns.UdpAsync(Port, q);
        Assert.NotNull(m);
        Assert.True(m!.Length <= DnsLimits.DefaultEdnsPayload, "our own limit caps the client's 4096");
        Assert.True(RawDns.Flag(m, DnsFlags.TC));
        Assert.Equal(1, RawDns.Count(m, 3)); // OPT only
    }

    [Fact]
    public async Task Tcp_CompressedAnswer_OwnerNamesArePointers()
    {
        var m = (await RawDns.TcpAsync(Port, RawDns.Query("big.default.svc.cluster.local", DnsType.A)))[0];
        Assert.Equal(Endpoints, RawDns.Count(m, 1));
        // header + question + 200 × (2-byte pointer + 10 + 4): every owner is compressed to the question.
        Assert.Equal(12 + 35 + (Endpoints * 16), m.Length);
    }

    [Fact]
    public async Task Tcp_PipelinedQueries_AnsweredInOrderOnOneConnection()
    {
        var responses = await RawDns.TcpAsync(Port, RawDns.Query("web.default.svc.cluster.local", DnsType.A, id: 1), RawDns.Query("nosuch.default.svc.cluster.local", DnsType.A, id: 2), RawDns.Query("example.org", DnsType.A, id: 3));
        Assert.Equal([1, 2, 3], responses.Select(r => (int)RawDns.Id(r)));
        Assert.Equal([DnsRcode.NoError, DnsRcode.NXDomain, DnsRcode.ServFail], responses.Select(RawDns.Rcode));
        var dig = await Dig.QueryAsync(Port, "web.default.svc.cluster.local", "A", "+tcp");
        Assert.Equal("10.96.0.9", Assert.Single(dig.Answer).Data);
    }

    [Fact]
    public async Task Udp_TwoQuestions_FormErr()
    {
        var q = RawDns.Query("web.default.svc.cluster.local", DnsType.A);
        var two = q.Concat(q[12..]).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(two.AsSpan(4), 2);
        var m = await RawDns.UdpAsync(Port, two);
        Assert.Equal(DnsRcode.FormErr, RawDns.Rcode(m!));

        var none = q[..12];
        BinaryPrimitives.WriteUInt16BigEndian(none.AsSpan(4), 0);
        Assert.Equal(DnsRcode.FormErr, RawDns.Rcode((await RawDns.UdpAsync(Port, none))!));
    }

    [Fact]
    public async Task Udp_PointerLoopInName_FormErr()
    {
        byte[] q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1];
        var m = await RawDns.UdpAsync(Port, q);
        Assert.Equal(DnsRcode.FormErr, RawDns.Rcode(m!));
        Assert.Equal(0, RawDns.Count(m!, 0));
    }

    [Fact]
    public async Task Udp_ResponseOrRunt_NoAnswer()
    {
        var response = RawDns.Query("web.default.svc.cluster.local", DnsType.A, flags: DnsFlags.QR);
        Assert.Null(await RawDns.UdpAsync(Port, response, waitMs: 500));
        Assert.Null(await RawDns.UdpAsync(Port, [1, 2, 3, 4, 5], waitMs: 500));
        // The server is still there.
        Assert.NotNull(await RawDns.UdpAsync(Port, RawDns.Query("web.default.svc.cluster.local", DnsType.A)));
    }

    [Fact]
    public async Task Udp_OtherOpcode_NotImpWithQuestionEchoed()
    {
        var m = await RawDns.UdpAsync(Port, RawDns.Query("web.default.svc.cluster.local", DnsType.A, flags: 2 << DnsFlags.OpcodeShift));
        Assert.Equal(DnsRcode.NotImp, RawDns.Rcode(m!));
        Assert.Equal(1, RawDns.Count(m!, 0));
    }

    [Fact]
    public async Task Udp_EdnsVersion1_BadVers()
    {
        var m = await RawDns.UdpAsync(Port, RawDns.Query("web.default.svc.cluster.local", DnsType.A, ednsVersion: 1));
        Assert.Equal(0, RawDns.Rcode(m!)); // BADVERS = 16: low bits 0 in the header ...
        Assert.Equal(1, m![m.Length - 11 + 5]); // ... high bits 1 in the OPT record's TTL
        Assert.Equal(DnsType.OPT, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(m.Length - 10)));
    }

    [Fact]
    public async Task Udp_ChaosClassAndZoneTransfer_Refused()
    {
        Assert.Equal(DnsRcode.Refused, RawDns.Rcode((await RawDns.UdpAsync(Port, RawDns.Query("version.bind", DnsType.TXT, cls: DnsClass.CH)))!));
        var axfr = (await RawDns.TcpAsync(Port, RawDns.Query("cluster.local", DnsType.AXFR)))[0];
        Assert.Equal(DnsRcode.Refused, RawDns.Rcode(axfr));
    }

    [Fact]
    public async Task Udp_MixedCaseAnyQuestion_EchoedVerbatim()
    {
        var q = RawDns.Query("web.default.svc.cluster.local", DnsType.A);
        q[13] = (byte)'W'; // the first letter of "web"
        var m = await RawDns.UdpAsync(Port, q);
        Assert.Equal((byte)'W', m![13]);
        Assert.Equal(1, RawDns.Count(m, 1));
    }
}
