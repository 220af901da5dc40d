using System.Text;
using Switchboard.Agnhost.Http;

namespace Switchboard.Agnhost.Tests.Http;

public sealed class HttpParserTests
{
    private static (ParseStatus Status, RequestHead Head, int Error) Parse(string text)
    {
        var status = HttpParser.TryParseHead(Encoding.Latin1.GetBytes(text), out var head, out var error, out _);
        return (status, head, error);
    }

    [Fact]
    public void TryParseHead_SimpleGet_Complete()
    {
        const string text = "GET /hostname?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
        var (status, head, _) = Parse(text);
        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal("GET", text.Substring(head.MethodStart, head.MethodLength));
        Assert.Equal("/hostname?x=1", text.Substring(head.TargetStart, head.TargetLength));
        Assert.Equal(text.Length, head.BodyStart);
        Assert.True(head.Http11);
        Assert.False(head.Close);
        Assert.Equal(-1, head.ContentLength);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GET / HTTP/1.1")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r")]
    public void TryParseHead_Partial_Incomplete(string text) => Assert.Equal(ParseStatus.Incomplete, Parse(text).Status);

    [Fact]
    public void TryParseHead_BareLf_Accepted() => Assert.Equal(ParseStatus.Complete, Parse("GET / HTTP/1.1\nHost: a\n\n").Status);

    [Fact]
    public void TryParseHead_Http10WithoutHost_CompleteAndCloses()
    {
        var (status, head, _) = Parse("GET / HTTP/1.0\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, status);
        Assert.True(head.Close);
        Assert.False(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").Head.Close);
        Assert.True(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n").Head.Close);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 400)] // no Host
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)]
    [InlineData("GET /\r\n\r\n", 400)]
    [InlineData("GET\r\n\r\n", 400)]
    [InlineData(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)]
    [InlineData("GET noslash HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417)]
    public void TryParseHead_Malformed_InvalidWithStatus(string text, int expected)
    {
        var (status, _, error) = Parse(text);
        Assert.Equal(ParseStatus.Invalid, status);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryParseHead_HugeHeaderWithoutEnd_431()
    {
        var text = "GET / HTTP/1.1\r\nX: " + new string('a', HttpParser.MaxHeaderBytes + 10);
        var (status, _, error) = Parse(text);
        Assert.Equal(ParseStatus.Invalid, status);
        Assert.Equal(431, error);
    }

    [Fact]
    public void TryParseHead_ContentLengthAndChunked_ChunkedWins()
    {
        var (status, head, _) = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, status);
        Assert.True(head.Chunked);
        Assert.Equal(-1, head.ContentLength);
    }

    [Fact]
    public void TryParseHead_PipelinedRequests_ParsesFirstOnly()
    {
        const string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
        var (status, head, _) = Parse(first + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(first.Length, head.BodyStart);
    }

    [Fact]
    public void TryDecodeChunked_ValidBodyWithExtensionAndTrailer_Decodes()
    {
        var data = Encoding.ASCII.GetBytes("3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT");
        Assert.Equal(ParseStatus.Complete, HttpParser.TryDecodeChunked(data, 1000, out var body, out var consumed));
        Assert.Equal("abc0123456789", Encoding.ASCII.GetString(body));
        Assert.Equal(data.Length - 4, consumed);
    }

    [Theory]
    [InlineData("3\r\nab")]
    [InlineData("3\r\nabc\r\n")]
    [InlineData("3\r\nabc\r\n0\r\n")]
    public void TryDecodeChunked_Partial_Incomplete(string text) =>
        Assert.Equal(ParseStatus.Incomplete, HttpParser.TryDecodeChunked(Encoding.ASCII.GetBytes(text), 1000, out _, out _));

    [Theory]
    [InlineData("zz\r\n")]
    [InlineData("3\r\nabcXX")]
    [InlineData("-1\r\n")]
    [InlineData("ffffffffffffffffff\r\n")]
    public void TryDecodeChunked_Malformed_Invalid(string text) =>
        Assert.Equal(ParseStatus.Invalid, HttpParser.TryDecodeChunked(Encoding.ASCII.GetBytes(text), 1000, out _, out _));

    [Fact]
    public void TryDecodeChunked_OverLimit_Invalid() =>
        Assert.Equal(ParseStatus.Invalid, HttpParser.TryDecodeChunked(Encoding.ASCII.GetBytes("100\r\n"), 10, out _, out _));

    [Fact]
    public void TryParseHead_RandomBytes_NeverThrows()
    {
        var random = new Random(1234);
        var seeds = new[] { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" };
        for (var i = 0; i < 20000; i++)
        {
            var bytes = Encoding.ASCII.GetBytes(seeds[i % seeds.Length]);
            for (var k = random.Next(1, 6); k > 0; k--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var cut = bytes.AsSpan(0, random.Next(bytes.Length + 1));
            if (HttpParser.TryParseHead(cut, out var head, out _, out _) == ParseStatus.Complete && head.Chunked)
            {
                HttpParser.TryDecodeChunked(cut[head.BodyStart..], 1 << 20, out _, out _);
            }
        }
    }

    [Fact]
    public void GetHeader_CaseInsensitive_FirstValue()
    {
        var headers = Encoding.ASCII.GetBytes("Host: a\r\nX-Forwarded-For:  1.2.3.4 \r\nx-forwarded-for: 5.6.7.8\r\n");
        Assert.Equal("1.2.3.4", HttpParser.GetHeader(headers, "x-FORWARDED-for"u8));
        Assert.Null(HttpParser.GetHeader(headers, "missing"u8));
    }
}
