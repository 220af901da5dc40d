using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Node.KubeletApi;

/// <summary>Settings of the kubelet API server (`switchboard agent --kubelet-port`, ARCHITECTURE.md §2 "Kubelet API").</summary>
internal sealed class KubeletServerOptions
{
    /// <summary>The Node's name: subject of the generated serving certificate.</summary>
    public required string NodeName { get; init; }

    /// <summary>Where to listen: the node IP in the node's namespace (127.0.0.1 in tests).</summary>
    public IReadOnlyList<IPAddress> Addresses { get; init; } = [IPAddress.Loopback];

    /// <summary>10250 as upstream; 0 = any free port (tests), see <see cref="KubeletServer.Port"/>.</summary>
    public int Port { get; init; } = 10250;

    /// <summary>PEM file of the CA that client certificates must chain to (the cluster CA, pki/ca.crt).</summary>
    public required string ClientCaFile { get; init; }

    /// <summary>
    /// Serving certificate with its key; null = a self-signed one is made at start (as upstream kubelet does
    /// without --tls-cert-file). The API server does not verify it, as upstream without --kubelet-certificate-authority.
    /// </summary>
    public X509Certificate2? ServingCertificate { get; init; }

    /// <summary>How often a followed log file is read for new bytes and the container checked.</summary>
    public TimeSpan LogPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}
