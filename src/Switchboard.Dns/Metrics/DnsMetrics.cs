using System.Globalization;
using System.Text;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Metrics;

/// <summary>Which handler produced a response (CoreDNS's `plugin` label).</summary>
internal enum ResponsePlugin
{
    None,
    Kubernetes,
    Cache,
    Forward,
    AutoPath,
}

/// <summary>
/// CoreDNS-compatible metrics (names and labels as CoreDNS 1.11 so existing dashboards work), kept in flat
/// arrays of counters updated with Interlocked: the packet path does not allocate or lock. Rendered in the
/// Prometheus text format on demand.
/// </summary>
internal sealed class DnsMetrics
{
    private static readonly System.Collections.Immutable.ImmutableArray<string> TypeNames = ["A", "AAAA", "CNAME", "PTR", "SRV", "TXT", "SOA", "NS", "MX", "ANY", "HTTPS", "other"];
    private static readonly System.Collections.Immutable.ImmutableArray<string> RcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"];
    private static readonly System.Collections.Immutable.ImmutableArray<string> PluginNames = ["", "kubernetes", "cache", "forward", "autopath"];
    private static readonly System.Collections.Immutable.ImmutableArray<string> ProtoNames = ["udp", "tcp"];

    private readonly string _server;
    private readonly string[] _upstreams;
    private readonly string _version;
    private readonly long[] _requests = new long[2 * 2 * TypeNames.Length];
    private readonly long[] _responses = new long[RcodeNames.Length * PluginNames.Length];
    private readonly Histogram[] _durations = [.. TypeNames.Select(_ => new Histogram(Histogram.TimeBuckets()))];
    private readonly long[] _forwardResponses;
    private readonly long[] _forwardFailures;
    private readonly Histogram[] _forwardDurations;
    private readonly Histogram[] _programming = [new Histogram(ProgrammingBuckets), new Histogram(ProgrammingBuckets)];
    private long _cacheHitsSuccess;
    private long _cacheHitsDenial;
    private long _cacheMisses;
    private long _forwardRejects;
    private long _autopath;
    private long _loops;
    private long _panics;
    private Func<int> _cacheSuccessEntries = () => 0;
    private Func<int> _cacheDenialEntries = () => 0;

    public DnsMetrics(string server, IReadOnlyList<string> upstreams, string version)
    {
        _server = server;
        _upstreams = [.. upstreams];
        _version = version;
        _forwardResponses = new long[Math.Max(1, _upstreams.Length) * RcodeNames.Length];
        _forwardFailures = new long[Math.Max(1, _upstreams.Length)];
        _forwardDurations = [.. _upstreams.Select(_ => new Histogram(Histogram.TimeBuckets()))];
    }

    /// <summary>CoreDNS's programming-latency buckets (kubernetes plugin): 1 ms to ~16 s.</summary>
    private static double[] ProgrammingBuckets => [.. Enumerable.Range(0, 15).Select(i => 0.001 * Math.Pow(2, i))];

    public static int TypeIndex(ushort qtype) => qtype switch
    {
        DnsType.A => 0,
        DnsType.AAAA => 1,
        DnsType.CNAME => 2,
        DnsType.PTR => 3,
        DnsType.SRV => 4,
        DnsType.TXT => 5,
        DnsType.SOA => 6,
        DnsType.NS => 7,
        DnsType.MX => 8,
        DnsType.ANY => 9,
        65 => 10,
        _ => 11,
    };

    /// <summary>One finished request: counts it by protocol, client family and type, its rcode and handler, and its duration.</summary>
    public void Request(bool tcp, bool ipv6, ushort qtype, int rcode, ResponsePlugin plugin, TimeSpan duration)
    {
        var type = TypeIndex(qtype);
        Interlocked.Increment(ref _requests[(((tcp ? 1 : 0) * 2) + (ipv6 ? 1 : 0)) * TypeNames.Length + type]);
        var r = rcode is >= 0 and <= 5 ? rcode : 6;
        Interlocked.Increment(ref _responses[(r * PluginNames.Length) + (int)plugin]);
        _durations[type].Observe(duration);
    }

    public void CacheHit(bool negative) => Interlocked.Increment(ref negative ? ref _cacheHitsDenial : ref _cacheHitsSuccess);

    public void CacheMiss() => Interlocked.Increment(ref _cacheMisses);

    public void SetCacheGauges(Func<int> success, Func<int> denial)
    {
        _cacheSuccessEntries = success;
        _cacheDenialEntries = denial;
    }

    public void ForwardResponse(int upstream, int rcode, TimeSpan duration)
    {
        var r = rcode is >= 0 and <= 5 ? rcode : 6;
        Interlocked.Increment(ref _forwardResponses[(upstream * RcodeNames.Length) + r]);
        _forwardDurations[upstream].Observe(duration);
    }

    public void ForwardFailure(int upstream) => Interlocked.Increment(ref _forwardFailures[upstream]);

    public void ForwardRejected() => Interlocked.Increment(ref _forwardRejects);

    public void AutoPathSuccess() => Interlocked.Increment(ref _autopath);

    public void LoopDetected() => Interlocked.Increment(ref _loops);

    public void Panic() => Interlocked.Increment(ref _panics);

    public void Programming(TimeSpan latency, ServiceKind kind) => _programming[kind == ServiceKind.Headless ? 1 : 0].Observe(latency < TimeSpan.Zero ? TimeSpan.Zero : latency);

    /// <summary>Exceptions caught on the packet path (each answered SERVFAIL).</summary>
    public long Panics => Volatile.Read(ref _panics);

    /// <summary>Total requests answered so far (tests and the benchmark read it).</summary>
    public long TotalRequests => _requests.Sum(v => Volatile.Read(ref v));

    public string Render()
    {
        var sb = new StringBuilder(8192);
        var server = $"server=\"{_server}\",view=\"\",zone=\".\"";
        Header(sb, "coredns_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_build_info{{goversion=\"dotnet{Environment.Version}\",revision=\"\",version=\"{_version}\"}} 1\n");

        Header(sb, "coredns_dns_requests_total", "counter", "Counter of DNS requests made per zone, protocol and family.");
        for (var proto = 0; proto < 2; proto++)
        {
            for (var family = 0; family < 2; family++)
            {
                for (var type = 0; type < TypeNames.Length; type++)
                {
                    var v = Volatile.Read(ref _requests[((proto * 2) + family) * TypeNames.Length + type]);
                    if (v > 0)
                    {
                        sb.Append(CultureInfo.InvariantCulture, $"coredns_dns_requests_total{{family=\"{family + 1}\",proto=\"{ProtoNames[proto]}\",{server},type=\"{TypeNames[type]}\"}} {v}\n");
                    }
                }
            }
        }

        Header(sb, "coredns_dns_responses_total", "counter", "Counter of response status codes.");
        for (var r = 0; r < RcodeNames.Length; r++)
        {
            for (var p = 0; p < PluginNames.Length; p++)
            {
                var v = Volatile.Read(ref _responses[(r * PluginNames.Length) + p]);
                if (v > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"coredns_dns_responses_total{{plugin=\"{PluginNames[p]}\",rcode=\"{RcodeNames[r]}\",{server}}} {v}\n");
                }
            }
        }

        Header(sb, "coredns_dns_request_duration_seconds", "histogram", "Histogram of the time (in seconds) each request took per zone.");
        for (var type = 0; type < TypeNames.Length; type++)
        {
            if (_durations[type].Count > 0)
            {
                _durations[type].Write(sb, "coredns_dns_request_duration_seconds", $"{server},type=\"{TypeNames[type]}\"");
            }
        }

        var zones = $"server=\"{_server}\",view=\"\",zones=\".\"";
        Header(sb, "coredns_cache_entries", "gauge", "The number of elements in the cache.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_cache_entries{{{zones},type=\"success\"}} {_cacheSuccessEntries()}\n");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_cache_entries{{{zones},type=\"denial\"}} {_cacheDenialEntries()}\n");
        Header(sb, "coredns_cache_hits_total", "counter", "The count of cache hits.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_cache_hits_total{{{zones},type=\"success\"}} {Volatile.Read(ref _cacheHitsSuccess)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_cache_hits_total{{{zones},type=\"denial\"}} {Volatile.Read(ref _cacheHitsDenial)}\n");
        Header(sb, "coredns_cache_misses_total", "counter", "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_cache_misses_total{{{zones}}} {Volatile.Read(ref _cacheMisses)}\n");

        Header(sb, "coredns_proxy_request_duration_seconds", "histogram", "Histogram of the time each request took.");
        for (var u = 0; u < _upstreams.Length; u++)
        {
            if (_forwardDurations[u].Count > 0)
            {
                _forwardDurations[u].Write(sb, "coredns_proxy_request_duration_seconds", $"proxy_name=\"forward\",to=\"{_upstreams[u]}\"");
            }
        }
        Header(sb, "coredns_forward_responses_total", "counter", "Counter of responses received per upstream.");
        for (var u = 0; u < _upstreams.Length; u++)
        {
            for (var r = 0; r < RcodeNames.Length; r++)
            {
                var v = Volatile.Read(ref _forwardResponses[(u * RcodeNames.Length) + r]);
                if (v > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"coredns_forward_responses_total{{rcode=\"{RcodeNames[r]}\",to=\"{_upstreams[u]}\"}} {v}\n");
                }
            }
        }
        Header(sb, "coredns_forward_healthcheck_failures_total", "counter", "Counter of the number of failed tries per upstream (timeouts and errors).");
        for (var u = 0; u < _upstreams.Length; u++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"coredns_forward_healthcheck_failures_total{{to=\"{_upstreams[u]}\"}} {Volatile.Read(ref _forwardFailures[u])}\n");
        }
        Header(sb, "coredns_forward_max_concurrent_rejects_total", "counter", "Counter of the number of queries rejected because the concurrent queries were at maximum.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_forward_max_concurrent_rejects_total {Volatile.Read(ref _forwardRejects)}\n");

        Header(sb, "coredns_autopath_success_total", "counter", "Counter of requests that did autopath.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_autopath_success_total{{server=\"{_server}\"}} {Volatile.Read(ref _autopath)}\n");
        Header(sb, "coredns_loop_detected_total", "counter", "Forwarding loops detected (forwarding is then turned off).");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_loop_detected_total {Volatile.Read(ref _loops)}\n");
        Header(sb, "coredns_panics_total", "counter", "A metrics that counts the number of panics.");
        sb.Append(CultureInfo.InvariantCulture, $"coredns_panics_total {Volatile.Read(ref _panics)}\n");

        Header(sb, "coredns_kubernetes_dns_programming_duration_seconds", "histogram", "Histogram of the time (in seconds) it took to program a dns instance.");
        _programming[0].Write(sb, "coredns_kubernetes_dns_programming_duration_seconds", "service_kind=\"cluster_ip\"");
        _programming[1].Write(sb, "coredns_kubernetes_dns_programming_duration_seconds", "service_kind=\"headless_with_selector\"");

        // The process collector every Prometheus client exports, plus the managed heap (CoreDNS has go_memstats_*).
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        Header(sb, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        sb.Append(CultureInfo.InvariantCulture, $"process_resident_memory_bytes {self.WorkingSet64}\n");
        Header(sb, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        sb.Append(CultureInfo.InvariantCulture, $"process_cpu_seconds_total {self.TotalProcessorTime.TotalSeconds.ToString("G", CultureInfo.InvariantCulture)}\n");
        Header(sb, "dotnet_gc_heap_size_bytes", "gauge", "Managed heap size after the last collection.");
        sb.Append(CultureInfo.InvariantCulture, $"dotnet_gc_heap_size_bytes {gc.HeapSizeBytes}\n");
        Header(sb, "dotnet_gc_committed_bytes", "gauge", "Memory committed by the GC.");
        sb.Append(CultureInfo.InvariantCulture, $"dotnet_gc_committed_bytes {gc.TotalCommittedBytes}\n");
        return sb.ToString();
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
}
