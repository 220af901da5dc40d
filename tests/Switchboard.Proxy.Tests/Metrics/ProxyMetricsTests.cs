using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Switchboard.Proxy.Metrics;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.Metrics;

public sealed partial class ProxyMetricsTests
{
    [Fact]
    public void SyncBuckets_AreUpstreamExponentialBuckets()
    {
        Assert.Equal(15, ProxyMetrics.SyncBuckets.Length);
        Assert.Equal(0.001, ProxyMetrics.SyncBuckets[0]);
        Assert.Equal(0.002, ProxyMetrics.SyncBuckets[1]);
        Assert.Equal(16.384, ProxyMetrics.SyncBuckets[^1], 9);
    }

    [Fact]
    public void NetworkProgrammingBuckets_AreUpstreamMergeIncludingLeadingZero()
    {
        var b = ProxyMetrics.NetworkProgrammingBuckets;
        Assert.Equal(81, b.Length);
        Assert.Equal([0, 0.25, 0.5, 1, 2], b[..5]);
        Assert.Equal(59, b[61]);
        Assert.Equal(60, b[62]);
        Assert.Equal(115, b[73]);
        Assert.Equal(120, b[74]);
        Assert.Equal(300, b[^1]);
    }

    [Fact]
    public void Histogram_Observe_BucketsAreLessOrEqualAndCumulative()
    {
        var h = new Histogram([0.1, 1, 10]);
        h.Observe(0.1);   // le=0.1 (bounds are inclusive)
        h.Observe(0.5);   // le=1
        h.Observe(1);     // le=1
        h.Observe(100);   // +Inf only
        var sb = new StringBuilder();
        h.WriteTo(sb, "x", "a=\"b\"");
        Assert.Equal(
            "x_bucket{a=\"b\",le=\"0.1\"} 1\n" +
            "x_bucket{a=\"b\",le=\"1\"} 3\n" +
            "x_bucket{a=\"b\",le=\"10\"} 3\n" +
            "x_bucket{a=\"b\",le=\"+Inf\"} 4\n" +
            "x_sum{a=\"b\"} 101.6\n" +
            "x_count{a=\"b\"} 4\n",
            sb.ToString());
    }

    [Fact]
    public void Histogram_NoLabels_WritesBareSumAndCount()
    {
        var h = new Histogram([1]);
        var sb = new StringBuilder();
        h.WriteTo(sb, "y", "");
        Assert.Equal("y_bucket{le=\"1\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n", sb.ToString());
    }

    [Fact]
    public void Histogram_BoundsNotIncreasing_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Histogram([1, 1]));
        Assert.Contains("strictly increasing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CounterAndHistogram_ConcurrentUpdates_NoneLost()
    {
        var c = new Counter();
        var h = new Histogram(ProxyMetrics.SyncBuckets);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                c.Inc();
                h.Observe(0.5);
            }
        })));
        Assert.Equal(80_000, c.Value);
        Assert.Equal(80_000, h.Count);
        Assert.Equal(40_000, h.Sum, 6);
    }

    [Fact]
    public void Render_TwoFamilies_EverySeriesValidAndLabelledPerFamily()
    {
        var m = new ProxyMetrics([IpFamily.IPv6, IpFamily.IPv4]);
        m.For(IpFamily.IPv4).SyncDuration.Observe(0.003);
        m.For(IpFamily.IPv6).SyncFailures.Inc();
        m.For(IpFamily.IPv4).LastSyncTimestamp.Set(1_780_000_000.25);
        m.ServiceChangesTotal.Inc(3);
        m.EndpointChangesTotal.Inc();
        m.HealthzServed(503);
        m.ServiceChangesPending = () => 2;
        var text = m.Render();

        var typed = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                current = line.Split(' ')[2];
                Assert.True(typed.Add(current), "TYPE twice for " + current);
                Assert.Matches("^# TYPE [a-z_]+ (counter|gauge|histogram)$", line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, "bad sample line: " + line);
            Assert.NotNull(current);
            Assert.StartsWith(current, match.Groups["name"].Value, StringComparison.Ordinal);
        }

        Assert.Contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.004\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv6\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv6\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"} 1780000000.25\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_service_changes_total 3\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_service_changes_pending 2\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_endpoint_changes_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_proxy_healthz_total{code=\"503\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE kubeproxy_network_programming_duration_seconds histogram\n", text, StringComparison.Ordinal);

        // IPv4 is written before IPv6 whatever the constructor order.
        Assert.True(text.IndexOf("ip_family=\"IPv4\"", StringComparison.Ordinal) < text.IndexOf("ip_family=\"IPv6\"", StringComparison.Ordinal));
    }

    [Fact]
    public void For_FamilyNotConfigured_Throws()
    {
        var m = new ProxyMetrics([IpFamily.IPv4]);
        Assert.Throws<ArgumentException>(() => m.For(IpFamily.IPv6));
    }

    [Theory]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-7, "1E-07")]
    public void FormatDouble_Specials_PrometheusSpelling(double value, string expected) =>
        Assert.Equal(expected, Exposition.FormatDouble(value));

    [Fact]
    public void MetricsServer_Paths_AnswerAsKubeProxy()
    {
        var m = new ProxyMetrics([IpFamily.IPv4]);
        var metrics = MetricsServer.Handle(new("GET", "/metrics"), m);
        Assert.Equal(200, metrics.Status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.ContentType);
        Assert.Equal("nftables", Encoding.UTF8.GetString(MetricsServer.Handle(new("GET", "/proxyMode"), m).Body));
        Assert.Equal(404, MetricsServer.Handle(new("GET", "/nope"), m).Status);
        _ = double.Parse("1", CultureInfo.InvariantCulture);
    }

    [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? (?<v>[-+0-9.eE]+|\\+Inf|NaN)$")]
    private static partial Regex SampleLine();
}
