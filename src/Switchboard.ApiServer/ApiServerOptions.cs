namespace Switchboard.ApiServer;

/// <summary>Flags of `switchboard server` (ARCHITECTURE.md §1), with upstream's names where they exist.</summary>
public sealed class ApiServerOptions
{
    public string DataDir { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".switchboard");

    /// <summary>Listen address (loopback only by the safety rule).</summary>
    public string Bind { get; set; } = "127.0.0.1";

    /// <summary>0 = any free port; the kubeconfig records the real one.</summary>
    public int Port { get; set; } = 6443;

    public IReadOnlyList<string> AdvertiseAddresses { get; set; } = [];

    public string ServiceClusterIpRange { get; set; } = "10.96.0.0/12,fd00:10:96::/112";

    public string ServiceNodePortRange { get; set; } = "30000-32767";

    public string ClusterCidr { get; set; } = "10.244.0.0/16,fd00:10:244::/56";

    public string? LbPool { get; set; }

    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>Use the in-memory store instead of SQLite (tests).</summary>
    public bool InMemoryStore { get; set; }

    /// <summary>Extra serving-certificate SANs (the underlay gateway addresses in `up`).</summary>
    public IReadOnlyList<string> ExtraSans { get; set; } = [];

    /// <summary>
    /// Already listening socket descriptors to serve as well (Kestrel ListenHandle, which takes ownership): in `up`
    /// the underlay gateway's sockets, made inside the underlay network namespace.
    /// </summary>
    public IReadOnlyList<ulong> ExtraListenHandles { get; set; } = [];

    /// <summary>Largest request body accepted (upstream: 3 MiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 3 * 1024 * 1024;

    /// <summary>
    /// Opens the TCP connection to a kubelet for pods/exec|attach|log|portforward (Proxy/). Null = a plain connect from
    /// this process; `up` passes one that makes the socket inside the cluster's network namespace.
    /// </summary>
    public Func<System.Net.IPEndPoint, CancellationToken, ValueTask<Stream>>? KubeletDialer { get; set; }

    public IReadOnlyList<string> ServiceCidrs => ServiceClusterIpRange.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
