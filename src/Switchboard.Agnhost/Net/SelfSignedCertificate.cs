using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Agnhost.Net;

/// <summary>
/// Stand-in for the "localhost.crt" upstream bakes into its image: a self-signed ECDSA certificate for
/// localhost, 127.0.0.1 and ::1, made at start-up.
/// </summary>
internal static class SelfSignedCertificate
{
    public static X509Certificate2 Create(TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = time.GetUtcNow();
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
    }
}
