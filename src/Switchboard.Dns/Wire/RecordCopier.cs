namespace Switchboard.Dns.Wire;

/// <summary>How copying one record went.</summary>
internal enum CopyResult
{
    Copied,

    /// <summary>An OPT record: it describes the upstream hop, not the answer, so it is never passed on.</summary>
    Skipped,

    Malformed,

    /// <summary>The record did not fit; the writer is unchanged.</summary>
    NoRoom,
}

/// <summary>
/// Copies resource records from another message (an upstream answer, a cached one) into a writer. Names are
/// decompressed against the source and re-compressed against the destination, because source pointers mean
/// nothing in the new message; rdata of types without names is copied as is (RFC 3597).
/// </summary>
internal static class RecordCopier
{
    public static CopyResult TryCopy(scoped ReadOnlySpan<byte> source, ref int pos, ref DnsMessageWriter writer, DnsSection section, uint age)
    {
        Span<byte> owner = stackalloc byte[DnsLimits.MaxNameLength + 1];
        if (!DnsName.TryRead(source, ref pos, owner, out var ownerLength) || pos + 10 > source.Length)
        {
            return CopyResult.Malformed;
        }
        var type = DnsName.U16(source, pos);
        var cls = DnsName.U16(source, pos + 2);
        var ttl = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(source[(pos + 4)..]);
        int rdLength = DnsName.U16(source, pos + 8);
        var rdStart = pos + 10;
        var rdEnd = rdStart + rdLength;
        if (rdEnd > source.Length)
        {
            return CopyResult.Malformed;
        }
        pos = rdEnd;
        if (type == DnsType.OPT)
        {
            return CopyResult.Skipped;
        }
        ttl = ttl > age ? ttl - age : 0;

        var checkpoint = writer.Checkpoint();
        if (!writer.TryBeginRecord(section, new NameRef(owner[..ownerLength]), type, cls, ttl, out var outRdStart))
        {
            writer.Rollback(checkpoint);
            return CopyResult.NoRoom;
        }
        var result = CopyRdata(source, rdStart, rdEnd, type, ref writer);
        if (result != CopyResult.Copied)
        {
            writer.Rollback(checkpoint);
            return result;
        }
        writer.EndRecord(section, outRdStart);
        return CopyResult.Copied;
    }

    private static CopyResult CopyRdata(scoped ReadOnlySpan<byte> source, int p, int end, ushort type, ref DnsMessageWriter writer)
    {
        switch (type)
        {
            case DnsType.CNAME or DnsType.NS or DnsType.PTR:
                return CopyName(source, ref p, end, ref writer, compress: true) is var r && r != CopyResult.Copied ? r : Done(p, end);
            case DnsType.DNAME:
                return CopyName(source, ref p, end, ref writer, compress: false) is var d && d != CopyResult.Copied ? d : Done(p, end);
            case DnsType.MX:
                if (p + 2 > end)
                {
                    return CopyResult.Malformed;
                }
                if (!writer.TryWriteBytes(source.Slice(p, 2)))
                {
                    return CopyResult.NoRoom;
                }
                p += 2;
                return CopyName(source, ref p, end, ref writer, compress: true) is var m && m != CopyResult.Copied ? m : Done(p, end);
            case DnsType.SRV:
                if (p + 6 > end)
                {
                    return CopyResult.Malformed;
                }
                if (!writer.TryWriteBytes(source.Slice(p, 6)))
                {
                    return CopyResult.NoRoom;
                }
                p += 6;
                return CopyName(source, ref p, end, ref writer, compress: false) is var s && s != CopyResult.Copied ? s : Done(p, end);
            case DnsType.SOA:
                var first = CopyName(source, ref p, end, ref writer, compress: true);
                if (first != CopyResult.Copied)
                {
                    return first;
                }
                var second = CopyName(source, ref p, end, ref writer, compress: true);
                if (second != CopyResult.Copied)
                {
                    return second;
                }
                if (p + 20 != end)
                {
                    return CopyResult.Malformed;
                }
                return writer.TryWriteBytes(source.Slice(p, 20)) ? CopyResult.Copied : CopyResult.NoRoom;
            default:
                return writer.TryWriteBytes(source[p..end]) ? CopyResult.Copied : CopyResult.NoRoom;
        }
    }

    private static CopyResult CopyName(scoped ReadOnlySpan<byte> source, ref int p, int end, ref DnsMessageWriter writer, bool compress)
    {
        Span<byte> name = stackalloc byte[DnsLimits.MaxNameLength + 1];
        // Pointers may lead anywhere earlier in the message, but the name itself must sit inside this rdata.
        if (!DnsName.TryRead(source[..end], ref p, name, out var length))
        {
            return CopyResult.Malformed;
        }
        return writer.TryWriteName(name[..length], compress) ? CopyResult.Copied : CopyResult.NoRoom;
    }

    private static CopyResult Done(int p, int end) => p == end ? CopyResult.Copied : CopyResult.Malformed;
}

/// <summary>Splices the sections of an upstream message into a response being built.</summary>
internal static class MessageSplicer
{
    /// <summary>
    /// Copies answer, authority and additional records of <paramref name="message"/> (TTLs reduced by
    /// <paramref name="age"/>). With <paramref name="answersOnly"/> only answers are taken, plus the authority
    /// section when there are none (the SOA of a negative answer). A record that does not fit sets TC if it belongs
    /// to the answer or authority section and is dropped silently from additional (RFC 2181 §9). False for a
    /// malformed message.
    /// </summary>
    public static bool TryCopy(scoped ReadOnlySpan<byte> message, uint age, bool answersOnly, ref DnsMessageWriter w, out int rcode)
    {
        rcode = DnsRcode.ServFail;
        if (message.Length < DnsLimits.HeaderLength)
        {
            return false;
        }
        rcode = message[3] & 0x0F;
        int qd = DnsName.U16(message, 4), an = DnsName.U16(message, 6), ns = DnsName.U16(message, 8), ar = DnsName.U16(message, 10);
        var pos = DnsLimits.HeaderLength;
        for (var i = 0; i < qd; i++)
        {
            if (!DnsName.TrySkip(message, ref pos) || (pos += 4) > message.Length)
            {
                return false;
            }
        }
        for (var i = 0; i < an; i++)
        {
            switch (RecordCopier.TryCopy(message, ref pos, ref w, DnsSection.Answer, age))
            {
                case CopyResult.Malformed:
                    return false;
                case CopyResult.NoRoom:
                    w.Truncated = true;
                    return true;
            }
        }
        if (answersOnly && an > 0)
        {
            return true;
        }
        for (var i = 0; i < ns; i++)
        {
            switch (RecordCopier.TryCopy(message, ref pos, ref w, DnsSection.Authority, age))
            {
                case CopyResult.Malformed:
                    return false;
                case CopyResult.NoRoom:
                    w.Truncated = true;
                    return true;
            }
        }
        if (answersOnly)
        {
            return true;
        }
        for (var i = 0; i < ar; i++)
        {
            var result = RecordCopier.TryCopy(message, ref pos, ref w, DnsSection.Additional, age);
            if (result == CopyResult.Malformed)
            {
                return false;
            }
            if (result == CopyResult.NoRoom)
            {
                break;
            }
        }
        return true;
    }
}
