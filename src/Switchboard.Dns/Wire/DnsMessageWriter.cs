using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Switchboard.Dns.Wire;

/// <summary>Message sections in the order they must be written.</summary>
internal enum DnsSection
{
    Answer,
    Authority,
    Additional,
}

/// <summary>An owner name: a pointer to a name already in the message (the question, an rdata target) or literal wire bytes.</summary>
internal readonly ref struct NameRef
{
    public NameRef(int pointer)
    {
        Pointer = pointer;
        Wire = default;
    }

    public NameRef(ReadOnlySpan<byte> wire)
    {
        Pointer = -1;
        Wire = wire;
    }

    public int Pointer { get; }

    public ReadOnlySpan<byte> Wire { get; }

    /// <summary>The question name: always at offset 12, so owners that equal it cost two bytes and echo the asker's case.</summary>
    public static NameRef Question => new(DnsLimits.HeaderLength);
}

/// <summary>Position of a writer, to undo a record that did not fit.</summary>
internal readonly record struct WriterCheckpoint(int Position, int TableCount, int Answers, int Authority, int Additional, DnsSection Section);

/// <summary>
/// Builds a DNS message in a caller-owned span with name compression (RFC 1035 §4.1.4). Every record is written
/// whole or not at all: a <c>TryAdd*</c> that would pass the size limit restores the writer and returns false, so
/// callers decide between truncation (answer and authority) and silently dropping extras (additional, RFC 2181 §9).
/// Allocation-free: the compression table lives inline in this ref struct.
/// </summary>
internal ref struct DnsMessageWriter
{
    private const int TableCapacity = 128;
    private const int MaxPointerHops = 64;

    private readonly Span<byte> _buffer;
    private int _limit;
    private int _pos;
    private CompressionTable _table;
    private int _tableCount;
    private int _qd;
    private int _an;
    private int _ns;
    private int _ar;
    private DnsSection _section;

    public DnsMessageWriter(Span<byte> buffer, int limit)
    {
        _buffer = buffer;
        _limit = Math.Min(limit, Math.Min(buffer.Length, DnsLimits.MaxMessageLength));
        _pos = DnsLimits.HeaderLength;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _pos;

    /// <summary>Largest message this writer may produce.</summary>
    public readonly int Limit => _limit;

    public readonly int AnswerCount => _an;

    public readonly int AuthorityCount => _ns;

    public readonly int AdditionalCount => _ar;

    /// <summary>Set once an answer or authority record did not fit; the message then carries TC.</summary>
    public bool Truncated { get; set; }

    public readonly ReadOnlySpan<byte> Written => _buffer[.._pos];

    /// <summary>Keeps <paramref name="bytes"/> free at the end (for the OPT record written last).</summary>
    public void Reserve(int bytes) => _limit -= bytes;

    /// <summary>Gives back room kept by <see cref="Reserve"/>.</summary>
    public void Release(int bytes) => _limit += bytes;

    public readonly WriterCheckpoint Checkpoint() => new(_pos, _tableCount, _an, _ns, _ar, _section);

    public void Rollback(WriterCheckpoint c)
    {
        _pos = c.Position;
        _tableCount = c.TableCount;
        _an = c.Answers;
        _ns = c.Authority;
        _ar = c.Additional;
        _section = c.Section;
    }

    /// <summary>Writes the question and makes its name (and every suffix) a compression target.</summary>
    public bool TryWriteQuestion(scoped ReadOnlySpan<byte> name, ushort type, ushort cls)
    {
        var c = Checkpoint();
        if (!TryWriteName(name, compress: true) || !TryWriteU16(type) || !TryWriteU16(cls))
        {
            Rollback(c);
            return false;
        }
        _qd++;
        return true;
    }

    /// <summary>A or AAAA, chosen by the address length (4 or 16).</summary>
    public bool TryAddAddress(DnsSection section, scoped NameRef owner, uint ttl, scoped ReadOnlySpan<byte> address)
    {
        var type = address.Length == 4 ? DnsType.A : DnsType.AAAA;
        var c = Checkpoint();
        if (!TryBeginRecord(section, owner, type, DnsClass.IN, ttl, out var rdStart) || !TryWriteBytes(address))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    /// <summary>A record whose rdata is one compressible name (CNAME, PTR, NS); <paramref name="targetOffset"/> locates the target for later owners.</summary>
    public bool TryAddName(DnsSection section, scoped NameRef owner, ushort type, uint ttl, scoped ReadOnlySpan<byte> target, out int targetOffset)
    {
        var c = Checkpoint();
        targetOffset = 0;
        if (!TryBeginRecord(section, owner, type, DnsClass.IN, ttl, out var rdStart) || !TryWriteName(target, compress: true, out targetOffset))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    /// <summary>SRV (RFC 2782): the target is written uncompressed, as the RFC requires, but later names may point to it.</summary>
    public bool TryAddSrv(DnsSection section, scoped NameRef owner, uint ttl, ushort priority, ushort weight, ushort port, scoped ReadOnlySpan<byte> target, out int targetOffset)
    {
        var c = Checkpoint();
        targetOffset = 0;
        if (!TryBeginRecord(section, owner, DnsType.SRV, DnsClass.IN, ttl, out var rdStart)
            || !TryWriteU16(priority) || !TryWriteU16(weight) || !TryWriteU16(port)
            || !TryWriteName(target, compress: false, out targetOffset))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    /// <summary>TXT with one character-string of at most 255 bytes.</summary>
    public bool TryAddTxt(DnsSection section, scoped NameRef owner, uint ttl, scoped ReadOnlySpan<byte> text)
    {
        var c = Checkpoint();
        if (text.Length > 255 || !TryBeginRecord(section, owner, DnsType.TXT, DnsClass.IN, ttl, out var rdStart)
            || !TryWriteByte((byte)text.Length) || !TryWriteBytes(text))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    public bool TryAddSoa(DnsSection section, scoped NameRef owner, uint ttl, scoped ReadOnlySpan<byte> mname, scoped ReadOnlySpan<byte> rname, uint serial, uint refresh, uint retry, uint expire, uint minimum)
    {
        var c = Checkpoint();
        if (!TryBeginRecord(section, owner, DnsType.SOA, DnsClass.IN, ttl, out var rdStart)
            || !TryWriteName(mname, compress: true) || !TryWriteName(rname, compress: true)
            || !TryWriteU32(serial) || !TryWriteU32(refresh) || !TryWriteU32(retry) || !TryWriteU32(expire) || !TryWriteU32(minimum))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    /// <summary>Any record with opaque rdata.</summary>
    public bool TryAddRaw(DnsSection section, scoped NameRef owner, ushort type, ushort cls, uint ttl, scoped ReadOnlySpan<byte> rdata)
    {
        var c = Checkpoint();
        if (!TryBeginRecord(section, owner, type, cls, ttl, out var rdStart) || !TryWriteBytes(rdata))
        {
            Rollback(c);
            return false;
        }
        EndRecord(section, rdStart);
        return true;
    }

    /// <summary>The EDNS OPT pseudo-record (RFC 6891 §6.1.2) with no options; the upper 8 bits of the rcode travel here.</summary>
    public bool TryAddOpt(ushort payload, int rcode, bool dnssecOk)
    {
        var c = Checkpoint();
        if (!TryBeginRecord(DnsSection.Additional, new NameRef(DnsName.Root), DnsType.OPT, payload, 0, out var rdStart))
        {
            Rollback(c);
            return false;
        }
        // The TTL field holds extended rcode, version 0 and the DO flag.
        var ttl = ((uint)(rcode >> 4) << 24) | (dnssecOk ? 0x8000u : 0u);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer[(rdStart - 6)..], ttl);
        EndRecord(DnsSection.Additional, rdStart);
        return true;
    }

    /// <summary>Starts a record whose rdata the caller writes with the primitives below, then <see cref="EndRecord"/>.</summary>
    public bool TryBeginRecord(DnsSection section, scoped NameRef owner, ushort type, ushort cls, uint ttl, out int rdStart)
    {
        rdStart = 0;
        if (section < _section)
        {
            throw new InvalidOperationException($"{section} record written after the {_section} section");
        }
        var ok = owner.Pointer >= 0 ? TryWritePointer(owner.Pointer) : TryWriteName(owner.Wire, compress: true);
        if (!ok || !TryWriteU16(type) || !TryWriteU16(cls) || !TryWriteU32(ttl) || !TryWriteU16(0))
        {
            return false;
        }
        rdStart = _pos;
        return true;
    }

    /// <summary>Fills in rdlength and counts the record.</summary>
    public void EndRecord(DnsSection section, int rdStart)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(rdStart - 2)..], (ushort)(_pos - rdStart));
        _section = section;
        switch (section)
        {
            case DnsSection.Answer:
                _an++;
                break;
            case DnsSection.Authority:
                _ns++;
                break;
            default:
                _ar++;
                break;
        }
    }

    /// <summary>Writes the header last, once the counts are known. Returns the message length.</summary>
    public readonly int Finish(ushort id, ushort flags, int rcode)
    {
        var h = _buffer;
        BinaryPrimitives.WriteUInt16BigEndian(h, id);
        var f = (ushort)((flags & ~(DnsFlags.RcodeMask | DnsFlags.TC)) | (rcode & 0xF) | (Truncated ? DnsFlags.TC : 0));
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], f);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)_qd);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], (ushort)_an);
        BinaryPrimitives.WriteUInt16BigEndian(h[8..], (ushort)_ns);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], (ushort)_ar);
        return _pos;
    }

    public bool TryWriteByte(byte value)
    {
        if (_pos + 1 > _limit)
        {
            return false;
        }
        _buffer[_pos++] = value;
        return true;
    }

    public bool TryWriteU16(ushort value)
    {
        if (_pos + 2 > _limit)
        {
            return false;
        }
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], value);
        _pos += 2;
        return true;
    }

    public bool TryWriteU32(uint value)
    {
        if (_pos + 4 > _limit)
        {
            return false;
        }
        BinaryPrimitives.WriteUInt32BigEndian(_buffer[_pos..], value);
        _pos += 4;
        return true;
    }

    public bool TryWriteBytes(scoped ReadOnlySpan<byte> bytes)
    {
        if (_pos + bytes.Length > _limit)
        {
            return false;
        }
        bytes.CopyTo(_buffer[_pos..]);
        _pos += bytes.Length;
        return true;
    }

    public bool TryWriteName(scoped ReadOnlySpan<byte> wire, bool compress) => TryWriteName(wire, compress, out _);

    /// <summary>
    /// Writes an uncompressed wire name, replacing its longest suffix already in the message by a pointer when
    /// <paramref name="compress"/>; every label written literally becomes a target for later names. Names match
    /// case-insensitively, as compression in BIND and miekg/dns does. <paramref name="start"/> is where the name
    /// can be found (for a fully compressed name, the place the pointer leads to, so no pointer points at a pointer).
    /// </summary>
    public bool TryWriteName(scoped ReadOnlySpan<byte> wire, bool compress, out int start)
    {
        start = _pos;
        Span<byte> labels = stackalloc byte[DnsLimits.MaxLabels];
        var n = DnsName.LabelStarts(wire, labels);
        Span<uint> hashes = stackalloc uint[n + 1];
        hashes[n] = 0;
        for (var i = n - 1; i >= 0; i--)
        {
            hashes[i] = HashLabel(hashes[i + 1], wire.Slice(labels[i], wire[labels[i]] + 1));
        }

        var match = n;
        var pointer = -1;
        if (compress)
        {
            for (var i = 0; i < n && pointer < 0; i++)
            {
                var suffix = wire[labels[i]..];
                for (var t = 0; t < _tableCount; t++)
                {
                    if (_table[t].Hash == hashes[i] && NameEqualsAt(_table[t].Offset, suffix))
                    {
                        match = i;
                        pointer = _table[t].Offset;
                        break;
                    }
                }
            }
        }

        var needed = (match < n ? labels[match] : wire.Length - 1) + (pointer >= 0 ? 2 : 1);
        if (_pos + needed > _limit)
        {
            return false;
        }
        for (var i = 0; i < match; i++)
        {
            if (_tableCount < TableCapacity && _pos <= 0x3FFF)
            {
                _table[_tableCount++] = new CompressionEntry((ushort)_pos, hashes[i]);
            }
            var label = wire.Slice(labels[i], wire[labels[i]] + 1);
            label.CopyTo(_buffer[_pos..]);
            _pos += label.Length;
        }
        if (pointer >= 0)
        {
            if (match == 0)
            {
                start = pointer;
            }
            BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], (ushort)(0xC000 | pointer));
            _pos += 2;
        }
        else
        {
            _buffer[_pos++] = 0;
        }
        return true;
    }

    private bool TryWritePointer(int offset)
    {
        if (_pos + 2 > _limit)
        {
            return false;
        }
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], (ushort)(0xC000 | offset));
        _pos += 2;
        return true;
    }

    /// <summary>Does the name at <paramref name="offset"/> in the message (following pointers) equal <paramref name="suffix"/>, ignoring case?</summary>
    private readonly bool NameEqualsAt(int offset, scoped ReadOnlySpan<byte> suffix)
    {
        var p = offset;
        var s = 0;
        var hops = 0;
        while (true)
        {
            var len = _buffer[p];
            if ((len & 0xC0) == 0xC0)
            {
                if (++hops > MaxPointerHops)
                {
                    return false;
                }
                p = ((len & 0x3F) << 8) | _buffer[p + 1];
                continue;
            }
            if (s >= suffix.Length || suffix[s] != len)
            {
                return false;
            }
            if (len == 0)
            {
                return true;
            }
            for (var i = 1; i <= len; i++)
            {
                var a = _buffer[p + i];
                var b = suffix[s + i];
                if (a != b && (Lower(a) != Lower(b)))
                {
                    return false;
                }
            }
            p += len + 1;
            s += len + 1;
        }
    }

    private static byte Lower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;

    private static uint HashLabel(uint seed, scoped ReadOnlySpan<byte> label)
    {
        // FNV-1a over the lower-cased label, chained with the hash of the rest of the name.
        var h = (seed ^ 2166136261u) * 16777619u;
        foreach (var b in label)
        {
            h = (h ^ Lower(b)) * 16777619u;
        }
        return h;
    }

    private readonly record struct CompressionEntry(ushort Offset, uint Hash);

    [InlineArray(TableCapacity)]
    private struct CompressionTable
    {
        private CompressionEntry _element0;
    }
}
