using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Proxy.HealthCheck;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Tests.HealthCheck;

public sealed class ProxierHealthTests
{
    [Fact]
    public void QueuedUpdate_NotSyncedWithinTimeout_Unhealthy_ThenSyncHeals()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
        var health = new ProxierHealth(time, TimeSpan.FromSeconds(60));
        Assert.True(health.IsHealthy());

        health.QueuedUpdate(IpFamily.IPv4);
        time.Advance(TimeSpan.FromSeconds(30));
        health.QueuedUpdate(IpFamily.IPv4); // a later change does not reset the clock
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.False(health.IsHealthy());

        health.Updated(IpFamily.IPv4);
        Assert.True(health.IsHealthy());
        var json = JsonDocument.Parse(health.Json()).RootElement;
        Assert.Equal("2026-01-01T00:01:01Z", json.GetProperty("lastUpdated").GetString());
        Assert.Equal("2026-01-01T00:01:01Z", json.GetProperty("currentTime").GetString());
    }

    [Fact]
    public void OneFamilyStuck_Unhealthy()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
        var health = new ProxierHealth(time, TimeSpan.FromSeconds(60));
        health.QueuedUpdate(IpFamily.IPv4);
        health.QueuedUpdate(IpFamily.IPv6);
        health.Updated(IpFamily.IPv4);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(health.IsHealthy());
    }
}
