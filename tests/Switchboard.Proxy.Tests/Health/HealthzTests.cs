using System.Text;
using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.Health;
using Switchboard.Proxy.Metrics;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.Health;

public sealed class HealthzTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);

    private ProxyHealthState State() => new(_time, TimeSpan.FromSeconds(60));

    private static JsonElement Json(Proxy.Hosting.Http.HttpResponse r) => JsonDocument.Parse(r.Body).RootElement;

    [Fact]
    public void Healthz_StartingUp_200WithUpstreamBody()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        _time.Advance(TimeSpan.FromSeconds(3));
        var r = HealthzServer.Healthz(s);
        Assert.Equal(200, r.Status);
        Assert.Equal("application/json", r.ContentType);
        Assert.Contains(r.Headers!, h => h.Key == "X-Content-Type-Options" && h.Value == "nosniff");

        // Field order and shapes of Go's json.Marshal(ProxyHealth); lastUpdated is "now" when healthy.
        Assert.Equal(
            "{\"lastUpdated\":\"2026-03-04T05:06:10Z\",\"currentTime\":\"2026-03-04T05:06:10Z\",\"nodeEligible\":true,\"healthy\":true," +
            "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-03-04T05:06:07Z\",\"healthy\":true}}}",
            Encoding.UTF8.GetString(r.Body));
    }

    [Fact]
    public void Healthz_QueuedUpdateNotLateYet_200()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        s.QueuedUpdate(IpFamily.IPv4);
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(200, HealthzServer.Healthz(s).Status);
    }

    [Fact]
    public void HealthzAndLivez_QueuedUpdateOverdue_503WithLastSuccessfulSync()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        s.Updated(IpFamily.IPv6);
        _time.Advance(TimeSpan.FromSeconds(1));
        s.QueuedUpdate(IpFamily.IPv6);
        _time.Advance(TimeSpan.FromSeconds(30));
        s.QueuedUpdate(IpFamily.IPv6); // the oldest queued time counts, not the latest
        _time.Advance(TimeSpan.FromSeconds(30));

        var r = HealthzServer.Healthz(s);
        Assert.Equal(503, r.Status);
        var j = Json(r);
        Assert.False(j.GetProperty("healthy").GetBoolean());
        Assert.Equal("2026-03-04T05:06:07Z", j.GetProperty("lastUpdated").GetString());
        Assert.Equal("2026-03-04T05:07:08Z", j.GetProperty("currentTime").GetString());
        Assert.True(j.GetProperty("status").GetProperty("IPv4").GetProperty("healthy").GetBoolean());
        Assert.False(j.GetProperty("status").GetProperty("IPv6").GetProperty("healthy").GetBoolean());
        Assert.Equal(503, HealthzServer.Livez(s).Status);

        // A successful sync of the late family heals it.
        s.Updated(IpFamily.IPv6);
        Assert.Equal(200, HealthzServer.Healthz(s).Status);
    }

    [Fact]
    public void Healthz_NodeBeingDeleted_503ButLivez200()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        s.SyncNode(new V1Node { Metadata = new V1ObjectMeta { Name = "n", DeletionTimestamp = Start.UtcDateTime } });
        var r = HealthzServer.Healthz(s);
        Assert.Equal(503, r.Status);
        Assert.False(Json(r).GetProperty("nodeEligible").GetBoolean());
        Assert.True(Json(r).GetProperty("healthy").GetBoolean());
        var live = HealthzServer.Livez(s);
        Assert.Equal(200, live.Status);
        Assert.False(Json(live).TryGetProperty("nodeEligible", out _));
    }

    [Fact]
    public void Healthz_ToBeDeletedTaintThenRemoved_503Then200()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        s.SyncNode(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = "n" },
            Spec = new V1NodeSpec { Taints = [new V1Taint { Key = "ToBeDeletedByClusterAutoscaler", Effect = "NoSchedule" }] },
        });
        Assert.Equal(503, HealthzServer.Healthz(s).Status);
        s.SyncNode(new V1Node { Metadata = new V1ObjectMeta { Name = "n" }, Spec = new V1NodeSpec { Taints = [new V1Taint { Key = "other", Effect = "NoSchedule" }] } });
        Assert.Equal(200, HealthzServer.Healthz(s).Status);
        s.SyncNode(null);
        Assert.Equal(503, HealthzServer.Healthz(s).Status);
    }

    [Fact]
    public void Handle_CountsStatusCodesAndUnknownPathIs404()
    {
        var s = State();
        s.Updated(IpFamily.IPv4);
        var m = new ProxyMetrics([IpFamily.IPv4]);
        Assert.Equal(200, HealthzServer.Handle(new("GET", "/healthz"), s, m).Status);
        Assert.Equal(200, HealthzServer.Handle(new("GET", "/livez"), s, m).Status);
        s.SyncNode(null);
        Assert.Equal(503, HealthzServer.Handle(new("GET", "/healthz"), s, m).Status);
        Assert.Equal(404, HealthzServer.Handle(new("GET", "/readyz"), s, m).Status);
        var text = m.Render();
        Assert.Contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_proxy_healthz_total{code=\"503\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_proxy_livez_total{code=\"200\"} 1\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "2026-03-04T05:06:07Z")]
    [InlineData(5_000_000, "2026-03-04T05:06:07.5Z")]
    [InlineData(1_234_567, "2026-03-04T05:06:07.1234567Z")]
    public void GoTime_TrimsTrailingZeros(long ticks, string expected) =>
        Assert.Equal(expected, HealthzServer.GoTime(Start.AddTicks(ticks)));

    [Fact]
    public void GoTime_Never_IsGoZeroTime() => Assert.Equal("0001-01-01T00:00:00Z", HealthzServer.GoTime(DateTimeOffset.MinValue));
}
