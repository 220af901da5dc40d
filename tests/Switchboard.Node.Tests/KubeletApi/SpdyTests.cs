using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.KubeletApi;
using Switchboard.Node.KubeletApi.Spdy;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.KubeletApi;

public sealed class SpdyCodecTests
{
    [Fact]
    public void Dictionary_IsSpdy3s()
    {
        var d = SpdyDictionary.Bytes;
        Assert.Equal(1423, d.Length);
        Assert.Equal(new byte[] { 0, 0, 0, 7, (byte)'o', (byte)'p' }, d[..6]);
        Assert.Equal("enq=0.", Encoding.ASCII.GetString(d[^6..]));
        Assert.Equal(0xe3c6a7c2u, Adler32(d));
    }

    [Fact]
    public void Zlib_BlocksShareOneContext_RoundTrip()
    {
        using var c = ZlibStream.Compressor(SpdyDictionary.Bytes);
        using var d = ZlibStream.Decompressor(SpdyDictionary.Bytes);
        var first = SpdyHeaders.Encode([new("streamType", "error"), new("port", "80"), new("requestID", "0")]);
        var second = SpdyHeaders.Encode([new("streamType", "data"), new("port", "80"), new("requestID", "0")]);
        var z1 = c.Compress(first);
        var z2 = c.Compress(second);
        // zlib header with FDICT and the dictionary's Adler-32 as DICTID, as Go's zlib.NewWriterLevelDict writes.
        Assert.Equal(0x78, z1[0]);
        Assert.NotEqual(0, z1[1] & 0x20);
        Assert.Equal(0xe3c6a7c2u, BinaryPrimitives.ReadUInt32BigEndian(z1.AsSpan(2)));
        // The second block leans on the first one's history, so it is only readable in order.
        Assert.True(z2.Length < z1.Length);
        Assert.Equal(first, d.Decompress(z1, SpdyHeaders.MaxBlock));
        var h = SpdyHeaders.Decode(d.Decompress(z2, SpdyHeaders.MaxBlock));
        Assert.Equal([new("streamtype", "data"), new("port", "80"), new("requestid", "0")], h);
    }

    [Fact]
    public void Zlib_Garbage_InvalidData()
    {
        using var d = ZlibStream.Decompressor(SpdyDictionary.Bytes);
        Assert.Throws<InvalidDataException>(() => d.Decompress("not zlib at all"u8, SpdyHeaders.MaxBlock));
    }

    [Fact]
    public void Zlib_Bomb_Limited()
    {
        using var c = ZlibStream.Compressor(SpdyDictionary.Bytes);
        using var d = ZlibStream.Decompressor(SpdyDictionary.Bytes);
        var z = c.Compress(new byte[200_000]);
        Assert.Throws<InvalidDataException>(() => d.Decompress(z, SpdyHeaders.MaxBlock));
    }

    [Fact]
    public void Headers_MultiValuesJoinedByNul()
    {
        var block = SpdyHeaders.Encode([new("X-A", "1"), new("x-a", "2"), new("b", "")]);
        Assert.Equal([new("x-a", "1"), new("x-a", "2"), new("b", "")], SpdyHeaders.Decode(block));
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(block));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 9, (byte)'a' })]
    [InlineData(new byte[] { 0x7f, 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Headers_Malformed_InvalidData(byte[] block)
    {
        Assert.Throws<InvalidDataException>(() => SpdyHeaders.Decode(block));
    }

    [Fact]
    public async Task Frame_DataAndControl_RoundTrip()
    {
        var bytes = SpdyFrame.Data(5, "abc"u8, fin: true).Concat(SpdyFrame.Ping(7)).Concat(SpdyFrame.RstStream(9, 5)).ToArray();
        using var s = new MemoryStream(bytes);
        var data = await SpdyFrame.ReadAsync(s, CancellationToken.None);
        Assert.NotNull(data);
        Assert.False(data.IsControl);
        Assert.Equal(5, data.StreamId);
        Assert.True(data.Fin);
        Assert.Equal("abc", Encoding.ASCII.GetString(data.Payload.Span));
        var ping = await SpdyFrame.ReadAsync(s, CancellationToken.None);
        Assert.Equal(SpdyControlType.Ping, ping!.Type);
        Assert.Equal(7u, ping.PingId);
        var rst = await SpdyFrame.ReadAsync(s, CancellationToken.None);
        Assert.Equal(SpdyControlType.RstStream, rst!.Type);
        Assert.Equal(9, rst.StreamId);
        Assert.Equal(5, rst.RstStatus);
        Assert.Null(await SpdyFrame.ReadAsync(s, CancellationToken.None));
    }

    [Fact]
    public void Frame_WireLayout_AsSpdy3()
    {
        Assert.Equal(new byte[] { 0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 }, SpdyFrame.Ping(1));
        Assert.Equal(new byte[] { 0, 0, 0, 3, 1, 0, 0, 1, (byte)'x' }, SpdyFrame.Data(3, "x"u8, fin: true));
        var reply = SpdyFrame.SynReply(3, [0xaa], fin: false);
        Assert.Equal(new byte[] { 0x80, 3, 0, 2, 0, 0, 0, 5, 0, 0, 0, 3, 0xaa }, reply);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 }, "version 2")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0x20, 0, 0 }, "larger than")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 9, 1, 2 }, "inside a frame")]
    [InlineData(new byte[] { 0x80, 3, 0 }, "frame header")]
    [InlineData(new byte[] { 0x80, 3, 0, 1, 0, 0, 0, 2, 0, 0 }, "too short")]
    public async Task Frame_Malformed_InvalidData(byte[] bytes, string message)
    {
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => SpdyFrame.ReadAsync(new MemoryStream(bytes), CancellationToken.None));
        Assert.Contains(message, e.Message);
    }

    private static uint Adler32(byte[] data)
    {
        uint a = 1, b = 0;
        foreach (var x in data)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }
        return (b << 16) | a;
    }
}

/// <summary>The port-forward server driven by a hand-written SPDY client over an in-memory duplex stream.</summary>
public sealed class PortForwardSessionTests
{
    private sealed class Duplex(PipeReader reader, PipeWriter writer) : Stream
    {
        private readonly Stream _in = reader.AsStream();
        private readonly Stream _out = writer.AsStream();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => _out.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _out.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _in.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => _out.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _out.WriteAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            _out.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class Client : IDisposable
    {
        private readonly ZlibStream _c = ZlibStream.Compressor(SpdyDictionary.Bytes);
        private readonly ZlibStream _d = ZlibStream.Decompressor(SpdyDictionary.Bytes);

        public Client(Stream wire) => Wire = wire;

        public Stream Wire { get; }

        public Task OpenAsync(int id, string type, string? port, string requestId, bool fin = false)
        {
            var headers = new List<KeyValuePair<string, string>> { new("streamType", type), new("requestID", requestId) };
            if (port is not null)
            {
                headers.Add(new("port", port));
            }
            return SendAsync(SpdyFrame.SynStream(id, _c.Compress(SpdyHeaders.Encode(headers)), fin));
        }

        public async Task SendAsync(byte[] frame)
        {
            await Wire.WriteAsync(frame);
            await Wire.FlushAsync();
        }

        public async Task<SpdyFrame> NextAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var f = await SpdyFrame.ReadAsync(Wire, timeout.Token) ?? throw new EndOfStreamException();
            if (f.IsControl && f.Type == SpdyControlType.SynReply)
            {
                Assert.Empty(SpdyHeaders.Decode(_d.Decompress(f.ReplyHeaderBlock.Span, SpdyHeaders.MaxBlock)));
            }
            return f;
        }

        public void Dispose()
        {
            _c.Dispose();
            _d.Dispose();
        }
    }

    private static (Stream Server, Client Client) Pair()
    {
        var up = new Pipe();
        var down = new Pipe();
        return (new Duplex(up.Reader, down.Writer), new Client(new Duplex(down.Reader, up.Writer)));
    }

    private static ContainerView Pod => FakeContainerLocator.HostContainer("ns", "web", "main", null);

    [Fact]
    public async Task Forward_EchoServer_BytesBothWaysWithHalfClose()
    {
        var token = "sbt-" + Guid.NewGuid().ToString("N")[..6];
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var port = ((IPEndPoint)echo.LocalEndpoint).Port;
        var serverSide = Task.Run(async () =>
        {
            using var c = await echo.AcceptTcpClientAsync();
            var s = c.GetStream();
            // Reads to EOF: only the client's FIN (half-close) ends this.
            var all = await new StreamReader(s).ReadToEndAsync();
            await s.WriteAsync(Encoding.ASCII.GetBytes(token + ":" + all));
        });
        var (server, client) = Pair();
        using var _ = client;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var session = new PortForwarder(NullLogger.Instance).ServeAsync(server, Pod, cts.Token);

        await client.OpenAsync(1, "error", port.ToString(), "0");
        Assert.Equal((SpdyControlType.SynReply, 1), await ReplyAsync(client));
        await client.OpenAsync(3, "data", port.ToString(), "0");
        Assert.Equal((SpdyControlType.SynReply, 3), await ReplyAsync(client));
        await client.SendAsync(SpdyFrame.Ping(11));
        var pong = await client.NextAsync();
        Assert.Equal(11u, pong.PingId);

        await client.SendAsync(SpdyFrame.Data(3, "hello "u8, fin: false));
        await client.SendAsync(SpdyFrame.Data(3, "world"u8, fin: true));
        var received = new StringBuilder();
        var errorFin = false;
        var dataFin = false;
        while (!(errorFin && dataFin))
        {
            var f = await client.NextAsync();
            Assert.False(f.IsControl, f.Type.ToString());
            if (f.StreamId == 3)
            {
                received.Append(Encoding.ASCII.GetString(f.Payload.Span));
                dataFin |= f.Fin;
            }
            else
            {
                Assert.Equal(1, f.StreamId);
                Assert.True(f.Payload.IsEmpty);
                errorFin |= f.Fin;
            }
        }
        Assert.Equal(token + ":hello world", received.ToString());
        await serverSide;
        await client.SendAsync(SpdyFrame.GoAway(3, 0));
        await session.WaitAsync(cts.Token);
    }

    [Fact]
    public async Task Forward_ClosedPort_ErrorStreamCarriesUpstreamMessage()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var (server, client) = Pair();
        using var _ = client;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var session = new PortForwarder(NullLogger.Instance).ServeAsync(server, Pod, cts.Token);
        await client.OpenAsync(1, "error", port.ToString(), "7", fin: true);
        await ReplyAsync(client);
        await client.OpenAsync(3, "data", port.ToString(), "7");
        await ReplyAsync(client);
        var error = await client.NextAsync();
        Assert.Equal(1, error.StreamId);
        Assert.StartsWith($"error forwarding port {port} to pod web, uid uid-web:", Encoding.UTF8.GetString(error.Payload.Span));
        await client.SendAsync(SpdyFrame.GoAway(3, 0));
        await session.WaitAsync(cts.Token);
    }

    [Theory]
    [InlineData(null, "\"port\" header is required")]
    [InlineData("http", "unable to parse \"http\" as a port")]
    [InlineData("0", "port \"0\" must be > 0")]
    [InlineData("70000", "unable to parse \"70000\" as a port")]
    public async Task Forward_BadPortHeader_Refused(string? port, string message)
    {
        var (server, client) = Pair();
        using var _ = client;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var session = new PortForwarder(NullLogger.Instance).ServeAsync(server, Pod, cts.Token);
        await client.OpenAsync(1, "error", port, "1");
        await ReplyAsync(client);
        await client.OpenAsync(3, "data", port, "1");
        await ReplyAsync(client);
        var error = await client.NextAsync();
        Assert.Equal(1, error.StreamId);
        Assert.StartsWith(message, Encoding.UTF8.GetString(error.Payload.Span));
        await client.SendAsync(SpdyFrame.GoAway(3, 0));
        await session.WaitAsync(cts.Token);
    }

    [Fact]
    public async Task Session_EvenStreamId_Reset_And_BadFrame_GoAway()
    {
        var (server, client) = Pair();
        using var _ = client;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var session = new PortForwarder(NullLogger.Instance).ServeAsync(server, Pod, cts.Token);
        await client.OpenAsync(2, "data", "80", "1");
        var rst = await client.NextAsync();
        Assert.Equal((SpdyControlType.RstStream, 2, 1), (rst.Type, rst.StreamId, rst.RstStatus));
        await client.SendAsync([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        var goAway = await client.NextAsync();
        Assert.Equal(SpdyControlType.GoAway, goAway.Type);
        await session.WaitAsync(cts.Token);
    }

    private static async Task<(SpdyControlType, int)> ReplyAsync(Client client)
    {
        var f = await client.NextAsync();
        return (f.Type, f.StreamId);
    }
}
