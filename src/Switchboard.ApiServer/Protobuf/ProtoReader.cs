namespace Switchboard.ApiServer.Protobuf;

/// <summary>Protobuf wire types (the low three bits of a tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>A body that is not well-formed protobuf, or does not fit the schema; answered with 400.</summary>
internal sealed class ProtoFormatException(string message) : Exception(message);

/// <summary>
/// A forward-only protobuf reader over a span. Every read is bounds-checked and throws
/// <see cref="ProtoFormatException"/> on damage, so garbage can neither crash nor hang the decoder.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    /// <summary>Largest field number protobuf allows (2^29 - 1).</summary>
    private const uint MaxFieldNumber = (1u << 29) - 1;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public readonly bool End => _pos >= _data.Length;

    /// <summary>Reads the next tag; false at the end of the data.</summary>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (End)
        {
            field = 0;
            wireType = default;
            return false;
        }
        var tag = ReadVarint();
        if (tag > uint.MaxValue || (tag >> 3) is 0 or > MaxFieldNumber)
        {
            throw new ProtoFormatException($"illegal tag {tag}");
        }
        var wt = (int)(tag & 7);
        if (wt > (int)WireType.Fixed32)
        {
            throw new ProtoFormatException($"illegal wire type {wt} for field {tag >> 3}");
        }
        field = (int)(tag >> 3);
        wireType = (WireType)wt;
        return true;
    }

    /// <summary>A base-128 varint of at most ten bytes, as Go's decoder accepts.</summary>
    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length)
            {
                throw new ProtoFormatException("unexpected end of data in a varint");
            }
            var b = _data[_pos++];
            if (shift == 63 && b > 1)
            {
                throw new ProtoFormatException("varint overflows 64 bits");
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new ProtoFormatException("varint overflows 64 bits");
    }

    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _pos))
        {
            throw new ProtoFormatException($"length {length} runs past the end of the data");
        }
        var span = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return span;
    }

    /// <summary>Skips one field of an unknown number; groups nest at most <paramref name="depthLeft"/> deep.</summary>
    public void Skip(int field, WireType wireType, int depthLeft)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Advance(8);
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited();
                break;
            case WireType.Fixed32:
                Advance(4);
                break;
            case WireType.StartGroup:
                // Deprecated groups never appear in Kubernetes types, but an unknown field may be one: skip to its end.
                if (depthLeft <= 0)
                {
                    throw new ProtoFormatException("groups nested too deeply");
                }
                while (true)
                {
                    if (!TryReadTag(out var inner, out var innerType))
                    {
                        throw new ProtoFormatException($"unexpected end of data in group {field}");
                    }
                    if (innerType == WireType.EndGroup)
                    {
                        if (inner != field)
                        {
                            throw new ProtoFormatException($"group {field} closed by end of group {inner}");
                        }
                        return;
                    }
                    Skip(inner, innerType, depthLeft - 1);
                }
            default:
                throw new ProtoFormatException($"unexpected end of group {field}");
        }
    }

    private void Advance(int count)
    {
        if (_data.Length - _pos < count)
        {
            throw new ProtoFormatException("unexpected end of data in a fixed-width field");
        }
        _pos += count;
    }
}
