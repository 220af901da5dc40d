using System.Buffers.Binary;
using System.Text;

namespace Switchboard.Node.KubeletApi.Spdy;

/// <summary>SPDY/3 control frame types (draft-mbelshe-httpbis-spdy-00 §2.6).</summary>
internal enum SpdyControlType : ushort
{
    SynStream = 1,
    SynReply = 2,
    RstStream = 3,
    Settings = 4,
    Ping = 6,
    GoAway = 7,
    Headers = 8,
    WindowUpdate = 9,
}

/// <summary>
/// One SPDY/3 frame as read off the wire. Data frames: <see cref="StreamId"/> and <see cref="Payload"/>.
/// Control frames: the type and the payload after the 8-byte header (headers still compressed).
/// </summary>
internal sealed record SpdyFrame(bool IsControl, SpdyControlType Type, byte Flags, int StreamId, ReadOnlyMemory<byte> Payload)
{
    public const byte FlagFin = 0x01;
    public const byte FlagUnidirectional = 0x02;
    public const ushort Version = 3;

    /// <summary>Frames larger than this are refused (the protocol allows 16 MiB; port-forward clients send 32 KiB).</summary>
    public const int MaxPayload = 1 << 20;

    public bool Fin => (Flags & FlagFin) != 0;

    /// <summary>Reads one frame; null at a clean end of the stream. Throws <see cref="InvalidDataException"/> on a bad frame.</summary>
    public static async Task<SpdyFrame?> ReadAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[8];
        var got = await ReadFullAsync(stream, header, ct).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }
        if (got < header.Length)
        {
            throw new InvalidDataException("connection closed inside a frame header");
        }
        var flags = header[4];
        var length = (header[5] << 16) | (header[6] << 8) | header[7];
        if (length > MaxPayload)
        {
            throw new InvalidDataException($"frame of {length} bytes is larger than {MaxPayload}");
        }
        var payload = new byte[length];
        if (await ReadFullAsync(stream, payload, ct).ConfigureAwait(false) < length)
        {
            throw new InvalidDataException("connection closed inside a frame");
        }
        if ((header[0] & 0x80) == 0)
        {
            return new SpdyFrame(false, 0, flags, BinaryPrimitives.ReadInt32BigEndian(header) & 0x7fffffff, payload);
        }
        var version = BinaryPrimitives.ReadUInt16BigEndian(header) & 0x7fff;
        if (version != Version)
        {
            throw new InvalidDataException($"SPDY version {version} is not supported (3 is)");
        }
        var type = (SpdyControlType)BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        var streamId = type is SpdyControlType.SynStream or SpdyControlType.SynReply or SpdyControlType.RstStream or SpdyControlType.Headers or SpdyControlType.WindowUpdate
            ? (length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(payload) & 0x7fffffff : throw new InvalidDataException($"{type} frame too short"))
            : 0;
        return new SpdyFrame(true, type, flags, streamId, payload);
    }

    private static async Task<int> ReadFullAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    public static byte[] Data(int streamId, ReadOnlySpan<byte> data, bool fin)
    {
        var frame = new byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, streamId & 0x7fffffff);
        WriteFlagsAndLength(frame, fin ? FlagFin : (byte)0, data.Length);
        data.CopyTo(frame.AsSpan(8));
        return frame;
    }

    public static byte[] Control(SpdyControlType type, byte flags, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, 0x8000 | Version);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)type);
        WriteFlagsAndLength(frame, flags, payload.Length);
        payload.CopyTo(frame.AsSpan(8));
        return frame;
    }

    /// <summary>SYN_REPLY: stream id, then the compressed header block.</summary>
    public static byte[] SynReply(int streamId, ReadOnlySpan<byte> compressedHeaders, bool fin)
    {
        var payload = new byte[4 + compressedHeaders.Length];
        BinaryPrimitives.WriteInt32BigEndian(payload, streamId & 0x7fffffff);
        compressedHeaders.CopyTo(payload.AsSpan(4));
        return Control(SpdyControlType.SynReply, fin ? FlagFin : (byte)0, payload);
    }

    /// <summary>SYN_STREAM (clients and tests): stream id, associated id, priority, slot, compressed headers.</summary>
    public static byte[] SynStream(int streamId, ReadOnlySpan<byte> compressedHeaders, bool fin)
    {
        var payload = new byte[10 + compressedHeaders.Length];
        BinaryPrimitives.WriteInt32BigEndian(payload, streamId & 0x7fffffff);
        compressedHeaders.CopyTo(payload.AsSpan(10));
        return Control(SpdyControlType.SynStream, fin ? FlagFin : (byte)0, payload);
    }

    public static byte[] RstStream(int streamId, int status)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(payload, streamId & 0x7fffffff);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), status);
        return Control(SpdyControlType.RstStream, 0, payload);
    }

    public static byte[] Ping(uint id)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, id);
        return Control(SpdyControlType.Ping, 0, payload);
    }

    public static byte[] GoAway(int lastGoodStreamId, int status)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(payload, lastGoodStreamId & 0x7fffffff);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), status);
        return Control(SpdyControlType.GoAway, 0, payload);
    }

    /// <summary>The header block of a SYN_STREAM (after stream id, associated id, priority and slot).</summary>
    public ReadOnlyMemory<byte> SynStreamHeaderBlock => Payload.Length >= 10 ? Payload[10..] : throw new InvalidDataException("SYN_STREAM frame too short");

    /// <summary>The header block of a SYN_REPLY or HEADERS frame.</summary>
    public ReadOnlyMemory<byte> ReplyHeaderBlock => Payload[4..];

    public uint PingId => Payload.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(Payload.Span) : throw new InvalidDataException("PING frame must carry 4 bytes");

    public int RstStatus => Payload.Length == 8 ? BinaryPrimitives.ReadInt32BigEndian(Payload.Span[4..]) : throw new InvalidDataException("RST_STREAM frame must carry 8 bytes");

    private static void WriteFlagsAndLength(Span<byte> frame, byte flags, int length)
    {
        if (length > 0xffffff)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "SPDY frames carry at most 16 MiB");
        }
        frame[4] = flags;
        frame[5] = (byte)(length >> 16);
        frame[6] = (byte)(length >> 8);
        frame[7] = (byte)length;
    }
}

/// <summary>SPDY/3 name/value header blocks: a 32-bit count, then 32-bit-length-prefixed names and values; several values of one name are joined by NUL.</summary>
internal static class SpdyHeaders
{
    public const int MaxBlock = 64 * 1024;

    public static byte[] Encode(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var grouped = headers.GroupBy(h => h.Key.ToLowerInvariant(), StringComparer.Ordinal).ToList();
        var buffer = new List<byte>();
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(n, grouped.Count);
        buffer.AddRange(n.ToArray());
        foreach (var g in grouped)
        {
            var name = Encoding.UTF8.GetBytes(g.Key);
            var value = Encoding.UTF8.GetBytes(string.Join('\0', g.Select(h => h.Value)));
            BinaryPrimitives.WriteInt32BigEndian(n, name.Length);
            buffer.AddRange(n.ToArray());
            buffer.AddRange(name);
            BinaryPrimitives.WriteInt32BigEndian(n, value.Length);
            buffer.AddRange(n.ToArray());
            buffer.AddRange(value);
        }
        return [.. buffer];
    }

    /// <summary>Parses a decompressed block; names come back lower-case as SPDY requires.</summary>
    public static List<KeyValuePair<string, string>> Decode(ReadOnlySpan<byte> block)
    {
        var result = new List<KeyValuePair<string, string>>();
        var count = ReadInt(ref block);
        if (count < 0 || count > 1024)
        {
            throw new InvalidDataException($"header block declares {count} headers");
        }
        for (var i = 0; i < count; i++)
        {
            var name = Encoding.UTF8.GetString(ReadBytes(ref block));
            var value = Encoding.UTF8.GetString(ReadBytes(ref block));
            if (name.Length == 0)
            {
                throw new InvalidDataException("empty header name");
            }
            foreach (var v in value.Split('\0'))
            {
                result.Add(new(name.ToLowerInvariant(), v));
            }
        }
        return result;
    }

    private static int ReadInt(ref ReadOnlySpan<byte> block)
    {
        if (block.Length < 4)
        {
            throw new InvalidDataException("header block truncated");
        }
        var v = BinaryPrimitives.ReadInt32BigEndian(block);
        block = block[4..];
        return v;
    }

    private static ReadOnlySpan<byte> ReadBytes(ref ReadOnlySpan<byte> block)
    {
        var length = ReadInt(ref block);
        if (length < 0 || length > block.Length)
        {
            throw new InvalidDataException("header block truncated");
        }
        var bytes = block[..length];
        block = block[length..];
        return bytes;
    }
}
