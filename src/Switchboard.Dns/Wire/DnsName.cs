using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Switchboard.Dns.Wire;

/// <summary>Room for one uncompressed wire-format name (at most 255 bytes) plus slack for a label being copied.</summary>
[InlineArray(256)]
internal struct NameBuffer
{
    private byte _element0;
}

/// <summary>Wire-format domain names: reading with decompression, comparing, lower-casing. Names never leave wire form
/// on the hot path, so lookups need no strings.</summary>
internal static class DnsName
{
    // Each hop must point strictly backwards, which already rules out loops; this only bounds the work per name.
    private const int MaxPointerHops = 64;

    /// <summary>The root name, ".".</summary>
    public static ReadOnlySpan<byte> Root => [0];

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="pos"/> of <paramref name="message"/> into
    /// <paramref name="destination"/> as an uncompressed wire name (case kept). Advances pos past the name as it
    /// appears in place. False for anything malformed: bad label type, overlong name, forward or looping pointers.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, ref int pos, Span<byte> destination, out int length)
    {
        length = 0;
        var p = pos;
        var endAfterName = -1;
        var hops = 0;
        var written = 0;
        while (true)
        {
            if ((uint)p >= (uint)message.Length)
            {
                return false;
            }
            var len = message[p];
            switch (len & 0xC0)
            {
                case 0x00:
                    if (len == 0)
                    {
                        if (written + 1 > DnsLimits.MaxNameLength || written + 1 > destination.Length)
                        {
                            return false;
                        }
                        destination[written++] = 0;
                        pos = endAfterName >= 0 ? endAfterName : p + 1;
                        length = written;
                        return true;
                    }
                    if (p + 1 + len > message.Length || written + 1 + len + 1 > DnsLimits.MaxNameLength || written + 1 + len > destination.Length)
                    {
                        return false;
                    }
                    message.Slice(p, 1 + len).CopyTo(destination[written..]);
                    written += 1 + len;
                    p += 1 + len;
                    break;
                case 0xC0:
                    if (p + 1 >= message.Length || ++hops > MaxPointerHops)
                    {
                        return false;
                    }
                    var target = ((len & 0x3F) << 8) | message[p + 1];
                    if (target >= p)
                    {
                        return false;
                    }
                    if (endAfterName < 0)
                    {
                        endAfterName = p + 2;
                    }
                    p = target;
                    break;
                default:
                    return false; // 0x40 and 0x80 label types are obsolete or undefined (RFC 6891 §5)
            }
        }
    }

    /// <summary>Advances past a (possibly compressed) name without copying it.</summary>
    public static bool TrySkip(ReadOnlySpan<byte> message, ref int pos)
    {
        var p = pos;
        var total = 0;
        while (true)
        {
            if ((uint)p >= (uint)message.Length)
            {
                return false;
            }
            var len = message[p];
            if (len == 0)
            {
                pos = p + 1;
                return true;
            }
            if ((len & 0xC0) == 0xC0)
            {
                if (p + 1 >= message.Length)
                {
                    return false;
                }
                pos = p + 2;
                return true;
            }
            if ((len & 0xC0) != 0 || (total += len + 1) > DnsLimits.MaxNameLength)
            {
                return false;
            }
            p += 1 + len;
        }
    }

    /// <summary>ASCII lower-casing, as DNS compares names (RFC 4343); other bytes are left alone.</summary>
    public static void ToLower(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        for (var i = 0; i < source.Length; i++)
        {
            var b = source[i];
            destination[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
        }
    }

    /// <summary>Lower-cases the label text of a wire name in place, leaving length bytes alone.</summary>
    public static void ToLowerInPlace(Span<byte> wire)
    {
        var i = 0;
        while (i < wire.Length && wire[i] != 0)
        {
            int len = wire[i];
            for (var j = i + 1; j <= i + len && j < wire.Length; j++)
            {
                var b = wire[j];
                if (b is >= (byte)'A' and <= (byte)'Z')
                {
                    wire[j] = (byte)(b | 0x20);
                }
            }
            i += len + 1;
        }
    }

    /// <summary>Fills <paramref name="starts"/> with the offset of each label of an uncompressed wire name; returns the count.</summary>
    public static int LabelStarts(ReadOnlySpan<byte> wire, Span<byte> starts)
    {
        var count = 0;
        var i = 0;
        while (i < wire.Length && wire[i] != 0 && count < starts.Length)
        {
            starts[count++] = (byte)i;
            i += wire[i] + 1;
        }
        return count;
    }

    /// <summary>Case-insensitive equality of two uncompressed wire names.</summary>
    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && (a[i] | 0x20) != (b[i] | 0x20))
            {
                return false;
            }
            if (a[i] != b[i] && !IsLetter(a[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True when <paramref name="name"/> ends with the whole labels of <paramref name="suffix"/> (both lower-case wire).</summary>
    public static bool EndsWith(ReadOnlySpan<byte> name, ReadOnlySpan<byte> suffix, out int suffixStart)
    {
        suffixStart = name.Length - suffix.Length;
        if (suffixStart < 0 || !name[suffixStart..].SequenceEqual(suffix))
        {
            return false;
        }
        // Only a match on a label boundary counts ("xcluster.local" does not end with "cluster.local").
        var i = 0;
        while (i < suffixStart)
        {
            i += name[i] + 1;
        }
        return i == suffixStart;
    }

    /// <summary>Encodes a presentation-format name ("a.b.c" or "a.b.c.") to lower-case wire format; false if it is not a valid name.</summary>
    public static bool TryEncode(ReadOnlySpan<char> text, Span<byte> destination, out int length)
    {
        length = 0;
        if (text.Length > 0 && text[^1] == '.')
        {
            text = text[..^1];
        }
        var pos = 0;
        while (text.Length > 0)
        {
            var dot = text.IndexOf('.');
            var label = dot < 0 ? text : text[..dot];
            if (label.Length is 0 or > DnsLimits.MaxLabelLength || pos + 1 + label.Length + 1 > Math.Min(destination.Length, DnsLimits.MaxNameLength))
            {
                return false;
            }
            destination[pos++] = (byte)label.Length;
            foreach (var c in label)
            {
                if (c > 0x7E || c <= 0x20)
                {
                    return false;
                }
                destination[pos++] = (byte)(c is >= 'A' and <= 'Z' ? c | 0x20 : c);
            }
            text = dot < 0 ? [] : text[(dot + 1)..];
        }
        if (pos + 1 > destination.Length)
        {
            return false;
        }
        destination[pos++] = 0;
        length = pos;
        return true;
    }

    /// <summary>Lower-case wire form of a presentation name; throws on invalid input (used while building indexes).</summary>
    public static byte[] Encode(string text)
    {
        Span<byte> buffer = stackalloc byte[DnsLimits.MaxNameLength + 1];
        if (!TryEncode(text, buffer, out var length))
        {
            throw new ArgumentException($"'{text}' is not a valid DNS name", nameof(text));
        }
        return buffer[..length].ToArray();
    }

    /// <summary>Presentation form ("a.b.c.") of an uncompressed wire name, for logs and tests.</summary>
    public static string ToText(ReadOnlySpan<byte> wire)
    {
        if (wire.Length <= 1)
        {
            return ".";
        }
        var sb = new System.Text.StringBuilder(wire.Length + 1);
        var i = 0;
        while (i < wire.Length && wire[i] != 0)
        {
            int len = wire[i];
            for (var j = i + 1; j <= i + len && j < wire.Length; j++)
            {
                var b = wire[j];
                if (b is (byte)'.' or (byte)'\\' || b <= 0x20 || b > 0x7E)
                {
                    sb.Append('\\').Append(((int)b).ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append((char)b);
                }
            }
            sb.Append('.');
            i += len + 1;
        }
        return sb.ToString();
    }

    /// <summary>Reads a big-endian 16-bit value.</summary>
    public static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16BigEndian(s[at..]);

    private static bool IsLetter(byte b) => (b | 0x20) is >= (byte)'a' and <= (byte)'z';
}
