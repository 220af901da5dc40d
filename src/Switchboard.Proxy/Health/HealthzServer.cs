using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Switchboard.Proxy.Hosting.Http;
using Switchboard.Proxy.Metrics;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Health;

/// <summary>
/// The proxy healthz listener (<c>--healthz-bind-address</c>, default 0.0.0.0:10256): <c>/healthz</c> and
/// <c>/livez</c> with kube-proxy's JSON body, headers and status codes. <c>/healthz</c> also fails when the Node is
/// not eligible (being deleted, or tainted ToBeDeletedByClusterAutoscaler); <c>/livez</c> ignores the Node.
/// </summary>
internal static class HealthzServer
{
    public static TinyHttpServer Start(IPEndPoint endpoint, ProxyHealthState state, ProxyMetrics? metrics, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        return TinyHttpServer.Start(endpoint, request => Handle(request, state, metrics), logger);
    }

    internal static HttpResponse Handle(HttpRequestHead request, ProxyHealthState state, ProxyMetrics? metrics)
    {
        switch (request.Path)
        {
            case "/healthz":
                var h = Healthz(state);
                metrics?.HealthzServed(h.Status);
                return h;
            case "/livez":
                var l = Livez(state);
                metrics?.LivezServed(l.Status);
                return l;
            default:
                return HttpResponse.Text(404, "404 page not found\n");
        }
    }

    internal static HttpResponse Healthz(ProxyHealthState state)
    {
        var health = state.Health();
        var eligible = state.NodeEligible;
        return Respond(health, health.Healthy && eligible, eligible, state.Time);
    }

    internal static HttpResponse Livez(ProxyHealthState state)
    {
        var health = state.Health();
        return Respond(health, health.Healthy, nodeEligible: null, state.Time);
    }

    private static HttpResponse Respond(ProxyHealthSnapshot health, bool healthy, bool? nodeEligible, TimeProvider time)
    {
        // Upstream reports lastUpdated = now when healthy, for compatibility with releases that stamped every loop.
        var lastUpdated = healthy ? time.GetUtcNow() : health.LastUpdated;
        var body = Body(health, lastUpdated, nodeEligible);
        return new HttpResponse(healthy ? 200 : 503, "application/json", body, NoSniff);
    }

    internal static readonly IReadOnlyList<KeyValuePair<string, string>> NoSniff = [new("X-Content-Type-Options", "nosniff")];

    /// <summary>Go's json.Marshal of upstream ProxyHealth: lastUpdated, currentTime, nodeEligible (omitempty), healthy, status (omitempty).</summary>
    internal static byte[] Body(ProxyHealthSnapshot health, DateTimeOffset lastUpdated, bool? nodeEligible)
    {
        using var ms = new MemoryStream(256);
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("lastUpdated", GoTime(lastUpdated));
            w.WriteString("currentTime", GoTime(health.CurrentTime));
            if (nodeEligible is { } e)
            {
                w.WriteBoolean("nodeEligible", e);
            }

            w.WriteBoolean("healthy", health.Healthy);
            if (health.Status.Count > 0)
            {
                w.WriteStartObject("status");
                foreach (var (family, ph) in health.Status.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
                {
                    w.WriteStartObject(family == IpFamily.IPv4 ? "IPv4" : "IPv6");
                    w.WriteString("lastUpdated", GoTime(ph.LastUpdated));
                    w.WriteBoolean("healthy", ph.Healthy);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return ms.ToArray();
    }

    /// <summary>Go's time.Time JSON form (RFC 3339 with trailing-zero-trimmed fraction); the zero time for "never".</summary>
    internal static string GoTime(DateTimeOffset t)
    {
        if (t == DateTimeOffset.MinValue)
        {
            return "0001-01-01T00:00:00Z";
        }

        var utc = t.UtcDateTime;
        var sb = new StringBuilder(utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
        var fraction = (utc.Ticks % TimeSpan.TicksPerSecond).ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
        if (fraction.Length > 0)
        {
            sb.Append('.').Append(fraction);
        }

        return sb.Append('Z').ToString();
    }
}
