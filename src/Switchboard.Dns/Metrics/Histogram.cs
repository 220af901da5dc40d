using System.Globalization;
using System.Text;

namespace Switchboard.Dns.Metrics;

/// <summary>A Prometheus histogram with fixed buckets; observing is lock-free (Interlocked) and allocation-free.</summary>
internal sealed class Histogram(double[] bounds)
{
    /// <summary>CoreDNS's plugin.TimeBuckets: 0.25 ms doubling to 8.192 s.</summary>
    public static double[] TimeBuckets() => [.. Enumerable.Range(0, 16).Select(i => 0.00025 * Math.Pow(2, i))];

    private readonly long[] _counts = new long[bounds.Length + 1];
    private long _sumNanos;

    public long Count
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _counts.Length; i++)
            {
                total += Volatile.Read(ref _counts[i]);
            }
            return total;
        }
    }

    public void Observe(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var i = 0;
        while (i < bounds.Length && seconds > bounds[i])
        {
            i++;
        }
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumNanos, (long)(elapsed.Ticks * 100));
    }

    /// <summary>Appends the _bucket, _sum and _count series; <paramref name="labels"/> is "" or "a=\"x\",b=\"y\"".</summary>
    public void Write(StringBuilder sb, string name, string labels)
    {
        long cumulative = 0;
        var sep = labels.Length > 0 ? "," : "";
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += Volatile.Read(ref _counts[i]);
            sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}{sep}le=\"{bounds[i].ToString("G", CultureInfo.InvariantCulture)}\"}} {cumulative}\n");
        }
        cumulative += Volatile.Read(ref _counts[^1]);
        sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}\n");
        var braces = labels.Length > 0 ? "{" + labels + "}" : "";
        sb.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {(Volatile.Read(ref _sumNanos) / 1e9).ToString("G", CultureInfo.InvariantCulture)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{name}_count{braces} {cumulative}\n");
    }
}
