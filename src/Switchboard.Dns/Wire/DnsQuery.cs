using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Switchboard.Dns.Wire;

/// <summary>What the parser made of a packet.</summary>
internal enum ParseStatus
{
    /// <summary>A well-formed query.</summary>
    Ok,

    /// <summary>Not worth an answer: shorter than a header, or a response (answering responses invites loops).</summary>
    Drop,

    /// <summary>Malformed; answer FORMERR (with the question if it could be read).</summary>
    FormErr,

    /// <summary>An opcode other than QUERY; answer NOTIMP.</summary>
    NotImp,
}

/// <summary>
/// One parsed query, held in a struct (about 600 bytes, on the caller's stack) so parsing allocates nothing.
/// The name is kept twice: as sent (echoed in the question, RFC 1035 §7.1 and CoreDNS's case echo) and
/// lower-cased for lookups.
/// </summary>
internal struct DnsQuery
{
    public ushort Id;
    public ushort Flags;
    public ushort QType;
    public ushort QClass;
    public bool HasQuestion;
    public int NameLength;
    public NameBuffer Name;
    public NameBuffer LowerName;
    public bool HasEdns;
    public ushort EdnsPayload;
    public byte EdnsVersion;
    public bool DnssecOk;

    /// <summary>The question name as sent, uncompressed.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> NameWire => ((ReadOnlySpan<byte>)Name)[..NameLength];

    /// <summary>The question name lower-cased, uncompressed.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> LowerNameWire => ((ReadOnlySpan<byte>)LowerName)[..NameLength];

    public readonly bool RecursionDesired => (Flags & DnsFlags.RD) != 0;

    public readonly bool CheckingDisabled => (Flags & DnsFlags.CD) != 0;

    public readonly int Opcode => (Flags & DnsFlags.OpcodeMask) >> DnsFlags.OpcodeShift;

    /// <summary>Largest UDP response the client accepts: 512 without EDNS, else its advertised size clamped to [512, max].</summary>
    public readonly int UdpLimit(int serverMax) =>
        !HasEdns ? DnsLimits.ClassicUdpPayload : Math.Clamp((int)EdnsPayload, DnsLimits.ClassicUdpPayload, Math.Max(serverMax, DnsLimits.ClassicUdpPayload));

    /// <summary>Sets the question directly (forwarder and autopath build internal queries this way).</summary>
    public void SetQuestion(ReadOnlySpan<byte> nameWire, ushort type, ushort cls)
    {
        nameWire.CopyTo(Name);
        DnsName.ToLower(nameWire, LowerName);
        NameLength = nameWire.Length;
        QType = type;
        QClass = cls;
        HasQuestion = true;
    }
}

/// <summary>Parses queries (RFC 1035 §4, EDNS0 per RFC 6891) without allocating.</summary>
internal static class DnsQueryParser
{
    public static ParseStatus Parse(ReadOnlySpan<byte> packet, ref DnsQuery q)
    {
        q.HasQuestion = false;
        q.HasEdns = false;
        q.DnssecOk = false;
        q.EdnsVersion = 0;
        q.EdnsPayload = 0;
        q.NameLength = 0;
        if (packet.Length < DnsLimits.HeaderLength)
        {
            return ParseStatus.Drop;
        }
        q.Id = BinaryPrimitives.ReadUInt16BigEndian(packet);
        q.Flags = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if ((q.Flags & DnsFlags.QR) != 0)
        {
            return ParseStatus.Drop;
        }
        int qd = DnsName.U16(packet, 4);
        int an = DnsName.U16(packet, 6);
        int ns = DnsName.U16(packet, 8);
        int ar = DnsName.U16(packet, 10);
        var pos = DnsLimits.HeaderLength;

        // Read the question first, even for a bad opcode or count, so error answers can echo it.
        var questionOk = false;
        if (qd >= 1)
        {
            var p = pos;
            if (DnsName.TryRead(packet, ref p, q.Name, out var nameLength) && p + 4 <= packet.Length)
            {
                q.NameLength = nameLength;
                DnsName.ToLower(q.Name[..nameLength], q.LowerName);
                q.QType = DnsName.U16(packet, p);
                q.QClass = DnsName.U16(packet, p + 2);
                q.HasQuestion = true;
                questionOk = true;
                pos = p + 4;
            }
        }

        if (q.Opcode != 0)
        {
            return ParseStatus.NotImp;
        }
        // RFC 9619: a query carries exactly one question.
        if (qd != 1 || !questionOk || DnsType.IsInvalidQuestionType(q.QType))
        {
            return ParseStatus.FormErr;
        }

        // Answer and authority sections of a query carry nothing we use; skip them to reach EDNS.
        for (var i = 0; i < an + ns; i++)
        {
            if (!SkipRecord(packet, ref pos, out _))
            {
                return ParseStatus.FormErr;
            }
        }
        for (var i = 0; i < ar; i++)
        {
            var start = pos;
            if (!SkipRecord(packet, ref pos, out var type))
            {
                return ParseStatus.FormErr;
            }
            if (type != DnsType.OPT)
            {
                continue;
            }
            // One OPT, owned by the root (RFC 6891 §6.1.1); anything else is FORMERR.
            if (q.HasEdns || packet[start] != 0)
            {
                return ParseStatus.FormErr;
            }
            q.HasEdns = true;
            q.EdnsPayload = DnsName.U16(packet, start + 3);
            q.EdnsVersion = packet[start + 6];
            q.DnssecOk = (packet[start + 7] & 0x80) != 0;
            if (!OptionsWellFormed(packet.Slice(start + 11, DnsName.U16(packet, start + 9))))
            {
                return ParseStatus.FormErr;
            }
        }
        return ParseStatus.Ok;
    }

    /// <summary>Skips one resource record; false if it runs past the packet.</summary>
    public static bool SkipRecord(ReadOnlySpan<byte> packet, ref int pos, out ushort type)
    {
        type = 0;
        if (!DnsName.TrySkip(packet, ref pos) || pos + 10 > packet.Length)
        {
            return false;
        }
        type = DnsName.U16(packet, pos);
        var rdLength = DnsName.U16(packet, pos + 8);
        pos += 10;
        if (pos + rdLength > packet.Length)
        {
            return false;
        }
        pos += rdLength;
        return true;
    }

    private static bool OptionsWellFormed(ReadOnlySpan<byte> options)
    {
        var p = 0;
        while (p < options.Length)
        {
            if (p + 4 > options.Length)
            {
                return false;
            }
            p += 4 + DnsName.U16(options, p + 2);
        }
        return p == options.Length;
    }
}
