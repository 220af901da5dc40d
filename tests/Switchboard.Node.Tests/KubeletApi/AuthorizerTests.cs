using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Node.KubeletApi;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>Certificates made on the spot: a CA and leaves signed by it.</summary>
internal static class TestCertificates
{
    public static X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509Certificate2.CreateFromPem(cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    public static X509Certificate2 Leaf(X509Certificate2 ca, string subject, string eku = "1.3.6.1.5.5.7.3.2", DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        var serial = RandomNumberGenerator.GetBytes(8);
        using var cert = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), serial);
        return X509Certificate2.CreateFromPem(cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}

public sealed class AuthorizerTests
{
    private static readonly X509Certificate2 Ca = TestCertificates.Ca("sbt-ca");
    private readonly ClientCertificateAuthorizer _auth = new([Ca], TimeProvider.System);

    [Fact]
    public void Check_ApiServerCertificate_Allowed()
    {
        using var cert = TestCertificates.Leaf(Ca, "O=system:masters, CN=kube-apiserver-kubelet-client");
        var d = _auth.Check(cert, "POST", "/exec/ns/p/c");
        Assert.True(d.Allowed);
        Assert.Equal("kube-apiserver-kubelet-client", d.User);
    }

    [Fact]
    public void Check_MastersGroup_Allowed()
    {
        using var cert = TestCertificates.Leaf(Ca, "O=system:masters, CN=someone");
        Assert.True(_auth.Check(cert, "GET", "/containerLogs/ns/p/c").Allowed);
    }

    [Fact]
    public void Check_NoCertificate_Unauthorized()
    {
        var d = _auth.Check(null, "GET", "/healthz");
        Assert.Equal(401, d.StatusCode);
        Assert.Equal("Unauthorized", d.Message);
    }

    [Fact]
    public void Check_OtherCa_Unauthorized()
    {
        using var other = TestCertificates.Ca("sbt-other");
        using var cert = TestCertificates.Leaf(other, "O=system:masters, CN=kube-apiserver-kubelet-client");
        Assert.Equal(401, _auth.Check(cert, "GET", "/healthz").StatusCode);
    }

    [Fact]
    public void Check_ServerAuthOnly_Unauthorized()
    {
        using var cert = TestCertificates.Leaf(Ca, "CN=kube-apiserver-kubelet-client", eku: "1.3.6.1.5.5.7.3.1");
        Assert.Equal(401, _auth.Check(cert, "GET", "/healthz").StatusCode);
    }

    [Fact]
    public void Check_Expired_Unauthorized()
    {
        using var cert = TestCertificates.Leaf(Ca, "CN=kube-apiserver-kubelet-client", notAfter: DateTimeOffset.UtcNow.AddDays(1));
        var later = new ClientCertificateAuthorizer([Ca], new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2)));
        Assert.Equal(401, later.Check(cert, "GET", "/healthz").StatusCode);
    }

    [Fact]
    public void Check_OtherUser_ForbiddenWithUpstreamText()
    {
        using var cert = TestCertificates.Leaf(Ca, "O=system:nodes, CN=system:node:n1");
        var d = _auth.Check(cert, "POST", "/exec/ns/p/c");
        Assert.Equal(403, d.StatusCode);
        Assert.Equal("Forbidden (user=system:node:n1, verb=create, resource=nodes, subresource=proxy)", d.Message);
    }
}
