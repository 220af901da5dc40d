using Switchboard.Dns.Kubernetes;

namespace Switchboard.Dns;

/// <summary>Settings of `switchboard dns` (ARCHITECTURE.md §1), plus tuning with CoreDNS's defaults.</summary>
public sealed class DnsOptions
{
    /// <summary>`--listen`: UDP and TCP on each; ":53" is every address.</summary>
    public IReadOnlyList<string> Listen { get; set; } = [":53"];

    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>`--ttl` in seconds (0–3600, as CoreDNS).</summary>
    public int Ttl { get; set; } = 5;

    public PodsMode Pods { get; set; } = PodsMode.Disabled;

    /// <summary>`--upstream`: addresses, a resolv.conf path, or "none"; empty means /etc/resolv.conf.</summary>
    public IReadOnlyList<string> Upstream { get; set; } = [];

    public bool AutoPath { get; set; }

    /// <summary>Prometheus metrics (CoreDNS's :9153); null or "" turns it off.</summary>
    public string? MetricsAddress { get; set; } = ":9153";

    /// <summary>Liveness (CoreDNS health plugin's :8080).</summary>
    public string? HealthAddress { get; set; } = ":8080";

    /// <summary>Readiness (CoreDNS ready plugin's :8181): 200 once the zone is synced.</summary>
    public string? ReadyAddress { get; set; } = ":8181";

    /// <summary>Largest UDP answer we send and advertise in EDNS (DNS Flag Day 2020's 1232).</summary>
    public int MaxUdpPayload { get; set; } = Wire.DnsLimits.DefaultEdnsPayload;

    /// <summary>Threads per UDP socket.</summary>
    public int UdpWorkers { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Forwarded answers kept (CoreDNS cache's 9984).</summary>
    public int CacheCapacity { get; set; } = 9984;

    public TimeSpan ForwardTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public int MaxConcurrentForwards { get; set; } = 1000;

    public TimeSpan TcpIdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public int MaxTcpConnections { get; set; } = 1000;

    /// <summary>Give memory back this long after the zone stops changing (see MemoryTrimmer); zero turns it off.</summary>
    public TimeSpan TrimAfterQuiet { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>On stop, keep answering this long while /ready reports 503 (CoreDNS health lameduck), so a rollout loses no query.</summary>
    public TimeSpan Lameduck { get; set; } = TimeSpan.Zero;

    /// <summary>Checks one `--listen` (or metrics/health/ready) value; the message names the problem.</summary>
    public static bool IsValidAddress(string value, out string error)
    {
        try
        {
            Server.ListenAddress.Parse(value);
            error = "";
            return true;
        }
        catch (ArgumentException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>Checks the form of one `--upstream` value (a path is checked when the server starts).</summary>
    public static bool IsValidUpstream(string value) =>
        value == "none" || value.Contains('/', StringComparison.Ordinal) || Forward.UpstreamConfig.TryParseEndPoint(value, 53, out _);

    internal void Validate()
    {
        if (Listen.Count == 0)
        {
            throw new ArgumentException("--listen: at least one address is needed");
        }
        if (Ttl is < 0 or > 3600)
        {
            throw new ArgumentException($"--ttl {Ttl}: must be between 0 and 3600 seconds");
        }
        Span<byte> buffer = stackalloc byte[Wire.DnsLimits.MaxNameLength + 1];
        if (!Wire.DnsName.TryEncode(ClusterDomain, buffer, out var length) || length <= 1 || length > 200)
        {
            throw new ArgumentException($"--cluster-domain {ClusterDomain}: not a valid domain name");
        }
        if (MaxUdpPayload is < Wire.DnsLimits.ClassicUdpPayload or > 4096)
        {
            throw new ArgumentException("MaxUdpPayload must be within 512–4096");
        }
    }
}
