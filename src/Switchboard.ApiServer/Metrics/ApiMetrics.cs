using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Metrics;

/// <summary>
/// apiserver_request_total and apiserver_request_duration_seconds in Prometheus text format, with
/// upstream's labels (verb, resource, code) and bucket bounds.
/// </summary>
internal sealed class ApiMetrics
{
    // Upstream apiserver_request_duration_seconds buckets.
    private static readonly double[] Buckets = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

    private readonly ConcurrentDictionary<(string Verb, string Resource, int Code), long[]> _totals = new();
    private readonly ConcurrentDictionary<(string Verb, string Resource), Histogram> _durations = new();

    public void Observe(string verb, string resource, int code, TimeSpan elapsed)
    {
        var counter = _totals.GetOrAdd((verb, resource, code), _ => new long[1]);
        Interlocked.Increment(ref counter[0]);
        if (verb is "WATCH")
        {
            // Upstream excludes long-running requests from the latency histogram.
            return;
        }
        _durations.GetOrAdd((verb, resource), _ => new Histogram(Buckets.Length)).Observe(elapsed.TotalSeconds);
    }

    public string Render(ApiRegistry registry)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        sb.Append("# TYPE apiserver_request_total counter\n");
        foreach (var ((verb, resource, code), value) in _totals.OrderBy(k => k.Key.Verb, StringComparer.Ordinal).ThenBy(k => k.Key.Resource, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $"apiserver_request_total{{code=\"{code}\",resource=\"{resource}\",verb=\"{verb}\"}} {Volatile.Read(ref value[0])}\n");
        }
        sb.Append("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        sb.Append("# TYPE apiserver_request_duration_seconds histogram\n");
        foreach (var ((verb, resource), h) in _durations.OrderBy(k => k.Key.Verb, StringComparer.Ordinal))
        {
            h.Render(sb, $"verb=\"{verb}\",resource=\"{resource}\"", Buckets);
        }
        sb.Append("# HELP apiserver_storage_objects Number of stored objects at the time of last check split by kind.\n");
        sb.Append("# TYPE apiserver_storage_objects gauge\n");
        foreach (var r in registry.Catalog.All)
        {
            var name = r.Group.Length == 0 ? r.Plural : r.Plural + "." + r.Group;
            sb.Append(CultureInfo.InvariantCulture, $"apiserver_storage_objects{{resource=\"{name}\"}} {registry.Store.Count(r.StorePrefix)}\n");
        }
        return sb.ToString();
    }

    private sealed class Histogram(int buckets)
    {
        private readonly long[] _counts = new long[buckets + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var i = Array.BinarySearch(Buckets, seconds);
            if (i < 0)
            {
                i = ~i;
            }
            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1_000_000));
        }

        public void Render(StringBuilder sb, string labels, double[] bounds)
        {
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += Volatile.Read(ref _counts[i]);
                sb.Append(CultureInfo.InvariantCulture, $"apiserver_request_duration_seconds_bucket{{{labels},le=\"{bounds[i]}\"}} {cumulative}\n");
            }
            cumulative += Volatile.Read(ref _counts[^1]);
            sb.Append(CultureInfo.InvariantCulture, $"apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\n");
            sb.Append(CultureInfo.InvariantCulture, $"apiserver_request_duration_seconds_sum{{{labels}}} {Volatile.Read(ref _sumMicros) / 1_000_000.0}\n");
            sb.Append(CultureInfo.InvariantCulture, $"apiserver_request_duration_seconds_count{{{labels}}} {cumulative}\n");
        }
    }
}
