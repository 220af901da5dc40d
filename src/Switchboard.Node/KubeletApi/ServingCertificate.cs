using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// The kubelet's serving certificate when none is configured: self-signed, made at each start, like upstream's
/// kubelet without --tls-cert-file (it writes a self-signed "&lt;host&gt;@&lt;timestamp&gt;" pair). Nobody is
/// expected to trust it; the API server's proxy skips verification as upstream does by default.
/// </summary>
internal static class ServingCertificate
{
    public static X509Certificate2 CreateSelfSigned(string nodeName, IEnumerable<IPAddress> addresses, TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = time.GetUtcNow();
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(nodeName + "@" + now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var sans = new SubjectAlternativeNameBuilder();
        sans.AddDnsName(nodeName);
        foreach (var a in addresses)
        {
            sans.AddIpAddress(a);
        }
        request.CertificateExtensions.Add(sans.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
        // Through PEM so that Kestrel gets a key it can use on every platform (as the API server's Pki does).
        return X509Certificate2.CreateFromPem(cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
