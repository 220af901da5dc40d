using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Proxy.Hosting.Http;

namespace Switchboard.Proxy.Metrics;

/// <summary>
/// The metrics listener (<c>--metrics-bind-address</c>, default 0.0.0.0:10249), as kube-proxy's: <c>/metrics</c>
/// (Prometheus text), <c>/healthz</c> ("ok": the process is up) and <c>/proxyMode</c> ("nftables").
/// </summary>
internal static class MetricsServer
{
    public static TinyHttpServer Start(IPEndPoint endpoint, ProxyMetrics metrics, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return TinyHttpServer.Start(endpoint, request => Handle(request, metrics), logger);
    }

    internal static HttpResponse Handle(HttpRequestHead request, ProxyMetrics metrics) => request.Path switch
    {
        "/metrics" => new HttpResponse(200, Exposition.ContentType, Encoding.UTF8.GetBytes(metrics.Render())),
        "/healthz" => HttpResponse.Text(200, "ok"),
        "/proxyMode" => HttpResponse.Text(200, "nftables"),
        _ => HttpResponse.Text(404, "404 page not found\n"),
    };
}
