using System.Globalization;

namespace Switchboard.Api.Tables;

/// <summary>
/// k8s.io/apimachinery/pkg/util/duration.HumanDuration: ~2-3 significant figures ("45s", "3m2s", "15m",
/// "5h3m", "20h", "3d4h", "400d", "2y30d", "10y"); "0s" for up to a second of clock skew, "&lt;invalid&gt;" beyond.
/// </summary>
internal static class HumanDuration
{
    public static string Format(TimeSpan d)
    {
        Span<char> buffer = stackalloc char[32];
        return new string(buffer[..Format(d, buffer)]);
    }

    /// <summary>Formats into <paramref name="destination"/> (32 chars always suffice) and returns the length.</summary>
    public static int Format(TimeSpan d, Span<char> destination)
    {
        // Go truncates toward zero, as integer division of ticks does.
        var seconds = d.Ticks / TimeSpan.TicksPerSecond;
        if (seconds < -1)
        {
            return Write(destination, "<invalid>");
        }
        if (seconds < 0)
        {
            return Write(destination, "0s");
        }
        if (seconds < 60 * 2)
        {
            return Write(destination, seconds, 's');
        }
        var minutes = d.Ticks / TimeSpan.TicksPerMinute;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? Write(destination, minutes, 'm') : Write(destination, minutes, 'm', s, 's');
        }
        if (minutes < 60 * 3)
        {
            return Write(destination, minutes, 'm');
        }
        var hours = d.Ticks / TimeSpan.TicksPerHour;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? Write(destination, hours, 'h') : Write(destination, hours, 'h', m, 'm');
        }
        if (hours < 48)
        {
            return Write(destination, hours, 'h');
        }
        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? Write(destination, hours / 24, 'd') : Write(destination, hours / 24, 'd', h, 'h');
        }
        if (hours < 24 * 365 * 2)
        {
            return Write(destination, hours / 24, 'd');
        }
        if (hours < 24 * 365 * 8)
        {
            var dy = hours / 24 % 365;
            return dy == 0 ? Write(destination, hours / 24 / 365, 'y') : Write(destination, hours / 24 / 365, 'y', dy, 'd');
        }
        return Write(destination, hours / 24 / 365, 'y');
    }

    private static int Write(Span<char> destination, string text)
    {
        text.CopyTo(destination);
        return text.Length;
    }

    private static int Write(Span<char> destination, long value, char unit)
    {
        value.TryFormat(destination, out var n, provider: CultureInfo.InvariantCulture);
        destination[n] = unit;
        return n + 1;
    }

    private static int Write(Span<char> destination, long value1, char unit1, long value2, char unit2)
    {
        var n = Write(destination, value1, unit1);
        return n + Write(destination[n..], value2, unit2);
    }
}
