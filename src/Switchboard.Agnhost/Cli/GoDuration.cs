using System.Globalization;
using System.Text;

namespace Switchboard.Agnhost.Cli;

/// <summary>Go's time.ParseDuration / Duration.String, as used by agnhost flags and query parameters.</summary>
internal static class GoDuration
{
    public static bool TryParse(string s, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (s.Length == 0)
        {
            return false;
        }

        var i = 0;
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            i++;
        }

        if (s.AsSpan(i) is "0")
        {
            return true;
        }

        if (i == s.Length)
        {
            return false;
        }

        decimal totalNs = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            var intPart = s.AsSpan(start, i - start);
            var fracPart = ReadOnlySpan<char>.Empty;
            if (i < s.Length && s[i] == '.')
            {
                i++;
                var fracStart = i;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }

                fracPart = s.AsSpan(fracStart, i - fracStart);
            }

            if (intPart.IsEmpty && fracPart.IsEmpty)
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && s[i] != '.' && !char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            decimal unitNs;
            switch (s.AsSpan(unitStart, i - unitStart))
            {
                case "ns": unitNs = 1m; break;
                case "us" or "µs" or "μs": unitNs = 1_000m; break;
                case "ms": unitNs = 1_000_000m; break;
                case "s": unitNs = 1_000_000_000m; break;
                case "m": unitNs = 60_000_000_000m; break;
                case "h": unitNs = 3_600_000_000_000m; break;
                default: return false;
            }

            if (intPart.Length > 18 || fracPart.Length > 18)
            {
                return false;
            }

            var whole = intPart.IsEmpty ? 0m : decimal.Parse(intPart, NumberStyles.None, CultureInfo.InvariantCulture);
            var frac = fracPart.IsEmpty ? 0m : decimal.Parse(fracPart, NumberStyles.None, CultureInfo.InvariantCulture) / Pow10(fracPart.Length);
            totalNs += (whole + frac) * unitNs;
            if (totalNs > long.MaxValue)
            {
                return false;
            }
        }

        var ticks = (long)(totalNs / 100m);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    /// <summary>Duration.String: "0s", "1.5s", "300ms", "2m0s", "1h0m0s".</summary>
    public static string Format(TimeSpan d)
    {
        if (d == TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        if (d < TimeSpan.Zero)
        {
            sb.Append('-');
            d = d.Duration();
        }

        var ns = d.Ticks * 100m;
        if (d < TimeSpan.FromSeconds(1))
        {
            var (unit, div) = ns < 1_000m ? ("ns", 1m) : ns < 1_000_000m ? ("µs", 1_000m) : ("ms", 1_000_000m);
            sb.Append((ns / div).ToString("0.#########", CultureInfo.InvariantCulture)).Append(unit);
            return sb.ToString();
        }

        var hours = (long)d.TotalHours;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || d.Minutes > 0)
        {
            sb.Append(d.Minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        var seconds = d.Seconds + ((d.Ticks % TimeSpan.TicksPerSecond) / (decimal)TimeSpan.TicksPerSecond);
        sb.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s');
        return sb.ToString();
    }

    private static decimal Pow10(int n)
    {
        var r = 1m;
        for (var k = 0; k < n; k++)
        {
            r *= 10m;
        }

        return r;
    }
}
