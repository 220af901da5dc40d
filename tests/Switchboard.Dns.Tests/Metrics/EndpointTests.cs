using System.Net;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Metrics;

/// <summary>/metrics (CoreDNS names), /health and /ready on their own listeners.</summary>
public sealed class EndpointTests
{
    [Fact]
    public async Task Http_MetricsHealthReady_ServeCoreDnsCompatibleData()
    {
        await using var s = await InjectedServer.StartAsync(ClusterFixture.Options(PodsMode.Disabled, false, "none"), objects: [Namespace("default"), ClusterIp("default", "web", "10.96.0.9", ("http", 80, "TCP"))]);
        await Dig.QueryAsync(s.Port, "web.default.svc.cluster.local", "A");
        await Dig.QueryAsync(s.Port, "nosuch.default.svc.cluster.local", "AAAA", "+tcp");
        using var http = new HttpClient();

        var metrics = await http.GetStringAsync(new Uri($"http://{s.Server.MetricsEndPoint}/metrics"));
        Assert.Contains("coredns_dns_requests_total{family=\"1\",proto=\"udp\",server=\"dns://127.0.0.1:0\",view=\"\",zone=\".\",type=\"A\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("coredns_dns_requests_total{family=\"1\",proto=\"tcp\",server=\"dns://127.0.0.1:0\",view=\"\",zone=\".\",type=\"AAAA\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("coredns_dns_responses_total{plugin=\"kubernetes\",rcode=\"NXDOMAIN\",server=\"dns://127.0.0.1:0\",view=\"\",zone=\".\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("coredns_dns_request_duration_seconds_count{server=\"dns://127.0.0.1:0\",view=\"\",zone=\".\",type=\"A\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE coredns_kubernetes_dns_programming_duration_seconds histogram", metrics, StringComparison.Ordinal);

        var health = await http.GetAsync(new Uri($"http://{s.Server.HealthEndPoint}/health"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("OK", await health.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://{s.Server.ReadyEndPoint}/ready"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri($"http://{s.Server.ReadyEndPoint}/nope"))).StatusCode);

        // Lameduck: /ready turns 503 at once while answers continue.
        var stopping = s.Server.StopAsync(TimeSpan.FromSeconds(2)).AsTask();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(new Uri($"http://{s.Server.ReadyEndPoint}/ready"))).StatusCode);
        Assert.Equal("10.96.0.9", Assert.Single((await Dig.QueryAsync(s.Port, "web.default.svc.cluster.local", "A")).Answer).Data);
        await stopping;
    }
}
