using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Agnhost.Netexec;

/// <summary>Go's "%v" of time.Now(): "2006-01-02 15:04:05.999999999 -0700 MST m=+0.000000001".</summary>
internal static class GoTime
{
    public static string Format(DateTimeOffset now, TimeSpan sinceStart)
    {
        var offset = now.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        var numeric = string.Create(CultureInfo.InvariantCulture, $"{sign}{abs.Hours:00}{abs.Minutes:00}");

        // Go prints the zone abbreviation; zones without one print like "+03".
        var zone = offset == TimeSpan.Zero ? "UTC"
            : abs.Minutes == 0 ? string.Create(CultureInfo.InvariantCulture, $"{sign}{abs.Hours:00}") : numeric;
        var monotonic = (decimal)sinceStart.Ticks / TimeSpan.TicksPerSecond;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{now.DateTime:yyyy-MM-dd HH:mm:ss.FFFFFFF} {numeric} {zone} m=+{monotonic:0.000000000}");
    }

    public static TimeSpan Since(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp);
}
