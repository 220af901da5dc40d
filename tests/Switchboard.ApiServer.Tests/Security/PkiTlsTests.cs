using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Tests.Security;

/// <summary>The serving certificate works in a real Kestrel HTTPS handshake, trusted through the CA alone.</summary>
public sealed class PkiTlsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ServingCertificate_FreshlyCreated_ServesHttpsTrustedByCaOnly()
    {
        using var pki = Pki.LoadOrCreate(_dir.Combine("pki"), new PkiOptions(), TimeProvider.System);

        Assert.Equal("served", await GetAsync(pki.ServingCertificate, pki.CaCertificate, "127.0.0.1"));
    }

    [Fact]
    public async Task ServingCertificate_LoadedFromDisk_ServesHttpsForEverySanName()
    {
        var dir = _dir.Combine("pki");
        using (Pki.LoadOrCreate(dir, new PkiOptions(), TimeProvider.System))
        {
        }

        using var pki = Pki.LoadOrCreate(dir, new PkiOptions(), TimeProvider.System);
        Assert.Empty(pki.WrittenFiles);

        // Connects to 127.0.0.1 but presents each name as the TLS host, as in-cluster clients would.
        foreach (var host in new[] { "127.0.0.1", "localhost", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.96.0.1", "[::1]", "[fd00:10:96::1]" })
        {
            Assert.Equal("served", await GetAsync(pki.ServingCertificate, pki.CaCertificate, host));
        }
    }

    [Fact]
    public async Task ServingCertificate_HostNotInSans_IsRefused()
    {
        using var pki = Pki.LoadOrCreate(_dir.Combine("pki"), new PkiOptions(), TimeProvider.System);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(pki.ServingCertificate, pki.CaCertificate, "example.com"));
        Assert.IsType<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task ServingCertificate_ClientTrustingAnotherCa_IsRefused()
    {
        using var pki = Pki.LoadOrCreate(_dir.Combine("pki"), new PkiOptions(), TimeProvider.System);
        using var other = Pki.LoadOrCreate(_dir.Combine("other"), new PkiOptions(), TimeProvider.System);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(pki.ServingCertificate, other.CaCertificate, "127.0.0.1"));
        Assert.IsType<AuthenticationException>(e.InnerException);
    }

    private static async Task<string> GetAsync(X509Certificate2 serving, X509Certificate2 trustedCa, string tlsHost)
    {
        await using var host = await TlsTestHost.StartAsync(serving, ctx => ctx.Response.WriteAsync("served"));
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { trustedCa },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
        };
        using var client = new HttpClient(handler);

        // SocketsHttpHandler takes the TLS host name (SNI and certificate check) from the Host header.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"https://127.0.0.1:{host.Port}/"));
        request.Headers.Host = $"{tlsHost}:{host.Port}";
        using var response = await client.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }
}
