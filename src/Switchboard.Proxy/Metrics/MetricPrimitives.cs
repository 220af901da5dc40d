using System.Globalization;
using System.Text;

namespace Switchboard.Proxy.Metrics;

/// <summary>A monotonically increasing count. Thread-safe, allocation-free.</summary>
internal sealed class Counter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Inc(long by = 1) => Interlocked.Add(ref _value, by);
}

/// <summary>A value that goes up and down. Thread-safe, allocation-free.</summary>
internal sealed class Gauge
{
    private long _bits;

    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));
}

/// <summary>
/// A Prometheus histogram with fixed upper bounds. <see cref="Observe"/> is lock-free and allocates nothing: one
/// interlocked increment of the bucket, one of the count, a CAS loop for the sum. Buckets are stored
/// non-cumulatively and summed when written, so a scrape can see a count one observation ahead of a bucket
/// (acceptable for monitoring; Prometheus client libraries have the same window).
/// </summary>
internal sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _buckets;
    private long _count;
    private long _sumBits;

    public Histogram(double[] upperBounds)
    {
        ArgumentNullException.ThrowIfNull(upperBounds);
        for (var i = 1; i < upperBounds.Length; i++)
        {
            if (!(upperBounds[i] > upperBounds[i - 1]))
            {
                throw new ArgumentException("histogram bounds must be strictly increasing", nameof(upperBounds));
            }
        }

        _bounds = upperBounds;
        _buckets = new long[upperBounds.Length + 1];
    }

    public IReadOnlyList<double> UpperBounds => _bounds;

    public long Count => Interlocked.Read(ref _count);

    public double Sum => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _sumBits));

    public void Observe(double value)
    {
        // Prometheus buckets are "less than or equal"; anything above the last bound lands in +Inf.
        var i = Array.BinarySearch(_bounds, value);
        if (i < 0)
        {
            i = ~i;
        }

        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Increment(ref _count);
        long seen, updated;
        do
        {
            seen = Interlocked.Read(ref _sumBits);
            updated = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
        }
        while (Interlocked.CompareExchange(ref _sumBits, updated, seen) != seen);
    }

    /// <summary>Writes the _bucket/_sum/_count lines. <paramref name="labels"/> is "" or <c>key="value"</c> pairs without braces.</summary>
    public void WriteTo(StringBuilder sb, string name, string labels)
    {
        long cumulative = 0;
        var sep = labels.Length == 0 ? "" : ",";
        for (var i = 0; i < _bounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _buckets[i]);
            sb.Append(name).Append("_bucket{").Append(labels).Append(sep).Append("le=\"").Append(Exposition.FormatDouble(_bounds[i])).Append("\"} ")
                .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        cumulative += Interlocked.Read(ref _buckets[^1]);
        sb.Append(name).Append("_bucket{").Append(labels).Append(sep).Append("le=\"+Inf\"} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Exposition.Sample(sb, name + "_sum", labels, Sum);
        sb.Append(name).Append("_count");
        if (labels.Length > 0)
        {
            sb.Append('{').Append(labels).Append('}');
        }

        sb.Append(' ').Append(Math.Max(cumulative, Count).ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}

/// <summary>Prometheus text format 0.0.4 helpers.</summary>
internal static class Exposition
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
          .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    public static void Sample(StringBuilder sb, string name, string labels, double value)
    {
        sb.Append(name);
        if (labels.Length > 0)
        {
            sb.Append('{').Append(labels).Append('}');
        }

        sb.Append(' ').Append(FormatDouble(value)).Append('\n');
    }

    /// <summary>Go's strconv 'g'-like shortest round-trip text, with Prometheus spellings of the specials.</summary>
    public static string FormatDouble(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            return "+Inf";
        }

        if (double.IsNegativeInfinity(value))
        {
            return "-Inf";
        }

        return double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Bucket bounds start, start·factor, … (count of them), as prometheus.ExponentialBuckets.</summary>
    public static double[] ExponentialBuckets(double start, double factor, int count)
    {
        var result = new double[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = start * Math.Pow(factor, i);
        }

        return result;
    }

    /// <summary>Bucket bounds start, start+width, … (count of them), as prometheus.LinearBuckets.</summary>
    public static double[] LinearBuckets(double start, double width, int count)
    {
        var result = new double[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = start + (width * i);
        }

        return result;
    }
}
