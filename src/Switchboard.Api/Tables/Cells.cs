using System.Buffers;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Switchboard.Api.Tables;

/// <summary>
/// Small readers over stored JSON for the printers. Strings are copied as their raw UTF-8 tokens, so a cell
/// taken straight from the object costs no string allocation.
/// </summary>
internal static class Cells
{
    public const string None = "<none>";
    public const string Unknown = "<unknown>";

    public static JsonElement Get(JsonElement e, ReadOnlySpan<byte> name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    public static JsonElement Get(JsonElement e, ReadOnlySpan<byte> name1, ReadOnlySpan<byte> name2) => Get(Get(e, name1), name2);

    public static JsonElement Get(JsonElement e, ReadOnlySpan<byte> name1, ReadOnlySpan<byte> name2, ReadOnlySpan<byte> name3) => Get(Get(Get(e, name1), name2), name3);

    public static bool IsString(JsonElement e) => e.ValueKind == JsonValueKind.String;

    /// <summary>A non-empty string value.</summary>
    public static bool HasText(JsonElement e) => e.ValueKind == JsonValueKind.String && JsonMarshal.GetRawUtf8Value(e).Length > 2;

    public static bool Is(JsonElement e, ReadOnlySpan<byte> value) => e.ValueKind == JsonValueKind.String && e.ValueEquals(value);

    public static bool IsTrue(JsonElement e) => e.ValueKind == JsonValueKind.True;

    public static int Count(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => e.GetArrayLength(),
        JsonValueKind.Object => e.GetPropertyCount(),
        _ => 0,
    };

    public static long Int(JsonElement e, long missing = 0) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) ? v : missing;

    public static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : "";

    /// <summary>Writes a string value as stored, or <paramref name="missing"/> when absent or not a string.</summary>
    public static void WriteString(Utf8JsonWriter w, JsonElement e, string missing = "")
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            w.WriteRawValue(JsonMarshal.GetRawUtf8Value(e), skipInputValidation: true);
        }
        else
        {
            w.WriteStringValue(missing);
        }
    }

    /// <summary>Writes a string value, or <paramref name="fallback"/> when absent or empty.</summary>
    public static void WriteText(Utf8JsonWriter w, JsonElement e, string fallback)
    {
        if (HasText(e))
        {
            w.WriteRawValue(JsonMarshal.GetRawUtf8Value(e), skipInputValidation: true);
        }
        else
        {
            w.WriteStringValue(fallback);
        }
    }

    public static void WriteName(Utf8JsonWriter w, JsonElement obj) => WriteString(w, Get(obj, "metadata"u8, "name"u8));

    /// <summary>translateTimestampSince(metadata.creationTimestamp).</summary>
    public static void WriteAge(Utf8JsonWriter w, JsonElement obj, DateTimeOffset now) => WriteSince(w, Get(obj, "metadata"u8, "creationTimestamp"u8), now);

    /// <summary>translateTimestampSince: "&lt;unknown&gt;" for an unset time, else HumanDuration(now - t).</summary>
    public static void WriteSince(Utf8JsonWriter w, JsonElement timestamp, DateTimeOffset now)
    {
        if (!TryParseTime(timestamp, out var t))
        {
            w.WriteStringValue(Unknown);
            return;
        }
        Span<char> buffer = stackalloc char[32];
        w.WriteStringValue(buffer[..HumanDuration.Format(now - t, buffer)]);
    }

    /// <summary>Parses an RFC 3339 metav1.Time or MicroTime; false when absent, null or malformed (upstream's zero time).</summary>
    public static bool TryParseTime(JsonElement e, out DateTimeOffset value)
    {
        value = default;
        if (e.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        var raw = JsonMarshal.GetRawUtf8Value(e)[1..^1];
        if (raw.Contains((byte)'\\'))
        {
            return DateTimeOffset.TryParse(e.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out value);
        }
        return TryParseRfc3339(raw, out value);
    }

    // yyyy-MM-ddTHH:mm:ss[.fraction](Z|±hh:mm), without allocating.
    private static bool TryParseRfc3339(ReadOnlySpan<byte> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] is not ((byte)'T' or (byte)'t') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }
        if (!Digits(s[..4], out var year) || !Digits(s.Slice(5, 2), out var month) || !Digits(s.Slice(8, 2), out var day)
            || !Digits(s.Slice(11, 2), out var hour) || !Digits(s.Slice(14, 2), out var minute) || !Digits(s.Slice(17, 2), out var second))
        {
            return false;
        }
        var i = 19;
        long fractionTicks = 0;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            var start = i;
            var scale = TimeSpan.TicksPerSecond;
            while (i < s.Length && (uint)(s[i] - '0') <= 9)
            {
                scale /= 10;
                fractionTicks += (s[i] - '0') * scale;
                i++;
            }
            if (i == start)
            {
                return false;
            }
        }
        TimeSpan offset;
        if (i == s.Length - 1 && s[i] is (byte)'Z' or (byte)'z')
        {
            offset = TimeSpan.Zero;
        }
        else if (i == s.Length - 6 && s[i] is (byte)'+' or (byte)'-' && s[i + 3] == ':' && Digits(s.Slice(i + 1, 2), out var oh) && Digits(s.Slice(i + 4, 2), out var om))
        {
            offset = new TimeSpan(oh, om, 0);
            if (s[i] == '-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(Math.Max(1, year), month) || hour > 23 || minute > 59 || second > 59 || year < 1)
        {
            return false;
        }
        try
        {
            value = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(fractionTicks);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static bool Digits(ReadOnlySpan<byte> s, out int value) =>
        Utf8Parser.TryParse(s, out value, out var consumed) && consumed == s.Length && s[0] != '-' && s[0] != '+';
}

/// <summary>
/// A UTF-8 buffer for composed cells ("80/TCP,443:30443/TCP"): starts on the stack, rents from the pool
/// only for long values. Dispose returns the rented array.
/// </summary>
internal ref struct CellBuilder
{
    private Span<byte> _buffer;
    private byte[]? _rented;
    private int _length;

    public CellBuilder(Span<byte> initial)
    {
        _buffer = initial;
        _rented = null;
        _length = 0;
    }

    public readonly int Length => _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    public void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer[_length..]);
        _length += bytes.Length;
    }

    public void Append(byte b)
    {
        Ensure(1);
        _buffer[_length++] = b;
    }

    public void Append(ReadOnlySpan<char> s)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(s.Length));
        _length += Encoding.UTF8.GetBytes(s, _buffer[_length..]);
    }

    public void Append(long value)
    {
        Ensure(20);
        Utf8Formatter.TryFormat(value, _buffer[_length..], out var n);
        _length += n;
    }

    /// <summary>Appends a JSON string's value (unescaped); nothing for other kinds.</summary>
    public void Append(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            return;
        }
        var raw = JsonMarshal.GetRawUtf8Value(e)[1..^1];
        if (raw.Contains((byte)'\\'))
        {
            Append(e.GetString()!);
        }
        else
        {
            Append(raw);
        }
    }

    /// <summary>ASCII-lowercases what was written from <paramref name="start"/> on (Go strings.ToLower on kinds).</summary>
    public readonly void ToLowerAscii(int start)
    {
        for (var i = start; i < _length; i++)
        {
            if (_buffer[i] is >= (byte)'A' and <= (byte)'Z')
            {
                _buffer[i] += 32;
            }
        }
    }

    public readonly void WriteTo(Utf8JsonWriter w) => w.WriteStringValue(Written);

    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + extra));
        _buffer[.._length].CopyTo(next);
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
        }
        _rented = next;
        _buffer = next;
    }
}
