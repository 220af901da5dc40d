using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>Hand-built packets over real UDP and TCP sockets, for what dig cannot send (malformed and odd queries).</summary>
public static class RawDns
{
    public static byte[] Query(string name, ushort type, ushort id = 0x1234, ushort flags = DnsFlags.RD, ushort cls = DnsClass.IN, int ednsVersion = -1, ushort ednsSize = 1232)
    {
        var buffer = new byte[600];
        var w = new DnsMessageWriter(buffer, buffer.Length);
        w.TryWriteQuestion(DnsName.Encode(name), type, cls);
        if (ednsVersion >= 0)
        {
            w.TryAddOpt(ednsSize, 0, false);
            // version lives in the second byte of the OPT TTL
            buffer[w.Length - 11 + 6] = (byte)ednsVersion;
        }
        var n = w.Finish(id, flags, 0);
        return buffer[..n];
    }

    /// <summary>Sends one datagram; the response, or null if none came within <paramref name="wait"/>.</summary>
    public static async Task<byte[]?> UdpAsync(int port, byte[] packet, int waitMs = 3000)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await s.SendAsync(packet, SocketFlags.None);
        var buffer = new byte[65535];
        using var cts = new CancellationTokenSource(waitMs);
        try
        {
            var n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return buffer[..n];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Sends all queries on one TCP connection in a single write, then reads as many responses.</summary>
    public static async Task<List<byte[]>> TcpAsync(int port, params byte[][] queries)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var framed = queries.SelectMany(q => (byte[])[(byte)(q.Length >> 8), (byte)q.Length, .. q]).ToArray();
        await s.SendAsync(framed, SocketFlags.None);
        var result = new List<byte[]>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var i = 0; i < queries.Length; i++)
        {
            var len = new byte[2];
            await ReadAsync(s, len, cts.Token);
            var msg = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
            await ReadAsync(s, msg, cts.Token);
            result.Add(msg);
        }
        return result;
    }

    public static int Rcode(byte[] m) => m[3] & 0x0F;

    public static ushort Id(byte[] m) => BinaryPrimitives.ReadUInt16BigEndian(m);

    public static int Count(byte[] m, int section) => BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(4 + (2 * section)));

    public static bool Flag(byte[] m, ushort flag) => (BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(2)) & flag) != 0;

    private static async Task ReadAsync(Socket s, Memory<byte> buffer, CancellationToken ct)
    {
        while (buffer.Length > 0)
        {
            var n = await s.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0)
            {
                throw new IOException("closed");
            }
            buffer = buffer[n..];
        }
    }
}
