using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.ApiServer.Proxy;

/// <summary>
/// TLS connections to kubelets with the API server's kubelet client certificate (pki/apiserver-kubelet-client.crt).
/// The TCP connection comes from an injectable dialer because in `switchboard up` node IPs live in another network
/// namespace and the socket must be made there. The kubelet's serving certificate is not verified, as upstream's
/// kube-apiserver without --kubelet-certificate-authority.
/// </summary>
internal sealed class KubeletConnector : IDisposable
{
    private readonly Func<IPEndPoint, CancellationToken, ValueTask<Stream>> _dialer;
    private readonly SslStreamCertificateContext _clientCertificate;
    private readonly TimeSpan _dialTimeout;

    public KubeletConnector(Func<IPEndPoint, CancellationToken, ValueTask<Stream>>? dialer, X509Certificate2 clientCertificate, TimeSpan dialTimeout)
    {
        _dialer = dialer ?? DialAsync;
        _clientCertificate = SslStreamCertificateContext.Create(clientCertificate, additionalCertificates: null, offline: true);
        _dialTimeout = dialTimeout;
        Http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var host = context.DnsEndPoint.Host.Trim('[', ']');
                var ip = IPAddress.TryParse(host, out var a) ? a : throw new HttpRequestException($"kubelet host {host} is not an IP address");
                return await DialWithTimeoutAsync(new IPEndPoint(ip, context.DnsEndPoint.Port), ct).ConfigureAwait(false);
            },
            SslOptions = ClientOptions(),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        })
        {
            // Followed logs stream for as long as the client wants.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>For the non-upgrade requests (container logs).</summary>
    public HttpClient Http { get; }

    /// <summary>The default dialer: a plain TCP connect from this process's network namespace.</summary>
    public static async ValueTask<Stream> DialAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A TLS stream to the kubelet speaking HTTP/1.1 (upgrades need it).</summary>
    public async Task<SslStream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var raw = await DialWithTimeoutAsync(endpoint, ct).ConfigureAwait(false);
        var tls = new SslStream(raw, leaveInnerStreamOpen: false);
        try
        {
            var options = ClientOptions();
            options.TargetHost = endpoint.Address.ToString();
            options.ApplicationProtocols = [SslApplicationProtocol.Http11];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_dialTimeout);
            await tls.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask<Stream> DialWithTimeoutAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_dialTimeout);
        try
        {
            return await _dialer(endpoint, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"dial tcp {endpoint}: i/o timeout");
        }
    }

    private SslClientAuthenticationOptions ClientOptions() => new()
    {
        ClientCertificateContext = _clientCertificate,
#pragma warning disable CA5359 // Deliberate, as upstream without --kubelet-certificate-authority: kubelets serve self-signed certificates.
        RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
    };

    public void Dispose() => Http.Dispose();
}
