using System.Runtime.Versioning;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Tests.Security;

[SupportedOSPlatform("linux")]
public sealed class PkiTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private static readonly PkiOptions UpOptions = new()
    {
        AdvertiseAddresses = ["192.168.7.9"],
        ExtraSans = ["172.18.0.1", "fd00:172:18::1"],
    };

    public void Dispose() => _dir.Dispose();

    private string PkiDir => _dir.Combine("pki");

    [Fact]
    public void LoadOrCreate_FirstStart_WritesEveryFileWithPrivateKeysAt0600()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        string[] expected = ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
            "apiserver-kubelet-client.key", "sa.key", "sa.pub", "admin.token"];
        Assert.Equal(expected.Order(), Directory.GetFiles(PkiDir).Select(Path.GetFileName).Order()!);
        Assert.Equal(expected.Order(), pki.WrittenFiles.Order());
        foreach (var secret in new[] { "ca.key", "apiserver.key", "apiserver-kubelet-client.key", "sa.key", "admin.token" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(PkiDir, secret)));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(PkiDir));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(pki.CaCertPath), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN EC PRIVATE KEY-----", File.ReadAllText(pki.CaKeyPath), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN RSA PRIVATE KEY-----", File.ReadAllText(pki.ServiceAccountKeyPath), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", File.ReadAllText(pki.ServiceAccountPublicKeyPath), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(PkiDir, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void LoadOrCreate_FirstStart_CaIsSelfSignedForTenYears()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, UpOptions, _time);
        var ca = pki.CaCertificate;

        Assert.Equal("CN=switchboard-ca", ca.Subject);
        Assert.Equal(ca.Subject, ca.Issuer);
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.True(ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.InRange(ca.NotAfter.ToUniversalTime() - _time.GetUtcNow().UtcDateTime, TimeSpan.FromDays(3649), TimeSpan.FromDays(3651));
        Assert.False(ca.HasPrivateKey);
        Assert.Equal(ca.ExportCertificatePem() + "\n", pki.CaPem);
        Assert.Equal(File.ReadAllText(pki.CaCertPath), pki.CaPem);
    }

    [Fact]
    public void LoadOrCreate_ServingCertificate_HasEverySanAndChainsToCa()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, UpOptions, _time);
        var cert = pki.ServingCertificate;
        var sans = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();

        Assert.True(cert.HasPrivateKey);
        Assert.Equal(
            new[] { "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost" },
            sans.EnumerateDnsNames().Order());
        Assert.Equal(
            new[] { "10.96.0.1", "127.0.0.1", "172.18.0.1", "192.168.7.9", "::1", "fd00:10:96::1", "fd00:172:18::1" }.Order(),
            sans.EnumerateIPAddresses().Select(ip => ip.ToString()).Order());
        Assert.Contains(cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>(),
            o => o.Value == "1.3.6.1.5.5.7.3.1");
        AssertChainsTo(cert, pki.CaCertificate, _time.GetUtcNow());
    }

    [Fact]
    public void LoadOrCreate_KubeletClientCertificate_IsSystemMastersClientCert()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, UpOptions, _time);
        var cert = pki.KubeletClientCertificate;

        Assert.True(cert.HasPrivateKey);
        Assert.Equal("kube-apiserver-kubelet-client", cert.GetNameInfo(X509NameType.SimpleName, false));
        Assert.Contains("O=system:masters", cert.Subject, StringComparison.Ordinal);
        var ekus = cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value);
        Assert.Equal(["1.3.6.1.5.5.7.3.2"], ekus);
        AssertChainsTo(cert, pki.CaCertificate, _time.GetUtcNow());
    }

    [Fact]
    public void LoadOrCreate_ServiceAccountKeyAndAdminToken_AreFreshAndMatchTheirFiles()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(2048, pki.ServiceAccountKey.KeySize);
        Assert.Equal(pki.ServiceAccountKey.ExportSubjectPublicKeyInfoPem() + "\n", File.ReadAllText(pki.ServiceAccountPublicKeyPath));
        Assert.Matches("^[A-Za-z0-9_-]{43}$", pki.AdminToken);
        Assert.Equal(pki.AdminToken, File.ReadAllText(pki.AdminTokenPath).Trim());

        using var other = Pki.LoadOrCreate(_dir.Combine("other"), UpOptions, _time);
        Assert.NotEqual(pki.AdminToken, other.AdminToken);
        Assert.NotEqual(pki.CaCertificate.Thumbprint, other.CaCertificate.Thumbprint);
    }

    [Fact]
    public void LoadOrCreate_SecondStart_LoadsEverythingAndWritesNothing()
    {
        string caThumb, servingThumb, clientThumb, saKid, token;
        using (var first = Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
            (caThumb, servingThumb, clientThumb, token) = (first.CaCertificate.Thumbprint, first.ServingCertificate.Thumbprint,
                first.KubeletClientCertificate.Thumbprint, first.AdminToken);
            saKid = ServiceAccountTokens.ComputeKeyId(first.ServiceAccountKey);
        }

        _time.Advance(TimeSpan.FromDays(30));
        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Empty(second.WrittenFiles);
        Assert.Equal(caThumb, second.CaCertificate.Thumbprint);
        Assert.Equal(servingThumb, second.ServingCertificate.Thumbprint);
        Assert.Equal(clientThumb, second.KubeletClientCertificate.Thumbprint);
        Assert.Equal(saKid, ServiceAccountTokens.ComputeKeyId(second.ServiceAccountKey));
        Assert.Equal(token, second.AdminToken);
        Assert.True(second.ServingCertificate.HasPrivateKey);
    }

    [Fact]
    public void LoadOrCreate_NewSanRequired_ReissuesOnlyTheServingCertificate()
    {
        string caThumb, clientThumb;
        using (var first = Pki.LoadOrCreate(PkiDir, new PkiOptions(), _time))
        {
            (caThumb, clientThumb) = (first.CaCertificate.Thumbprint, first.KubeletClientCertificate.Thumbprint);
        }

        using var second = Pki.LoadOrCreate(PkiDir, UpOptions with { ClusterDomain = "example.internal" }, _time);

        Assert.Equal(["apiserver.key", "apiserver.crt"], second.WrittenFiles);
        Assert.Equal(caThumb, second.CaCertificate.Thumbprint);
        Assert.Equal(clientThumb, second.KubeletClientCertificate.Thumbprint);
        var sans = second.ServingCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("kubernetes.default.svc.example.internal", sans.EnumerateDnsNames());
        Assert.Contains(IPAddress.Parse("fd00:172:18::1"), sans.EnumerateIPAddresses());
        AssertChainsTo(second.ServingCertificate, second.CaCertificate, _time.GetUtcNow());
    }

    [Fact]
    public void LoadOrCreate_FewerSansRequired_KeepsTheServingCertificate()
    {
        using (Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
        }

        using var second = Pki.LoadOrCreate(PkiDir, new PkiOptions(), _time);

        Assert.Empty(second.WrittenFiles);
    }

    [Fact]
    public void LoadOrCreate_CorruptOrMismatchedServingFiles_ReissuesThem()
    {
        using (var first = Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
            // The kubelet client key does not match the serving certificate.
            File.Copy(first.KubeletClientKeyPath, first.ServingKeyPath, overwrite: true);
            File.WriteAllText(first.KubeletClientCertPath, "garbage");
        }

        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(["apiserver.key", "apiserver.crt", "apiserver-kubelet-client.key", "apiserver-kubelet-client.crt"], second.WrittenFiles);
        Assert.True(second.ServingCertificate.HasPrivateKey);
    }

    [Fact]
    public void LoadOrCreate_LeafNearExpiry_RenewsLeavesButKeepsCaAndKeys()
    {
        string caThumb, token;
        using (var first = Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
            (caThumb, token) = (first.CaCertificate.Thumbprint, first.AdminToken);
        }

        _time.Advance(TimeSpan.FromDays(340));
        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(["apiserver.key", "apiserver.crt", "apiserver-kubelet-client.key", "apiserver-kubelet-client.crt"], second.WrittenFiles);
        Assert.Equal(caThumb, second.CaCertificate.Thumbprint);
        Assert.Equal(token, second.AdminToken);
        Assert.True(second.ServingCertificate.NotAfter.ToUniversalTime() > _time.GetUtcNow().UtcDateTime.AddDays(300));
    }

    [Fact]
    public void LoadOrCreate_CertificatesFromAnotherCa_AreReissued()
    {
        using (Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
        }

        using (var foreign = Pki.LoadOrCreate(_dir.Combine("foreign"), UpOptions, _time))
        {
            File.Copy(foreign.ServingCertPath, Path.Combine(PkiDir, "apiserver.crt"), overwrite: true);
            File.Copy(foreign.ServingKeyPath, Path.Combine(PkiDir, "apiserver.key"), overwrite: true);
        }

        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(["apiserver.key", "apiserver.crt"], second.WrittenFiles);
        AssertChainsTo(second.ServingCertificate, second.CaCertificate, _time.GetUtcNow());
    }

    [Fact]
    public void LoadOrCreate_MissingCa_ReissuesEverythingSignedButKeepsServiceAccountKeyAndToken()
    {
        string kid, token;
        using (var first = Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
            (kid, token) = (ServiceAccountTokens.ComputeKeyId(first.ServiceAccountKey), first.AdminToken);
            File.Delete(first.CaKeyPath);
        }

        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(6, second.WrittenFiles.Count);
        Assert.Equal(kid, ServiceAccountTokens.ComputeKeyId(second.ServiceAccountKey));
        Assert.Equal(token, second.AdminToken);
    }

    [Fact]
    public void LoadOrCreate_LoosenedKeyMode_IsNarrowedBack()
    {
        using (var first = Pki.LoadOrCreate(PkiDir, UpOptions, _time))
        {
            File.SetUnixFileMode(first.ServingKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        }

        using var second = Pki.LoadOrCreate(PkiDir, UpOptions, _time);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(second.ServingKeyPath));
    }

    [Theory]
    [InlineData("10.96.0.0/12", "10.96.0.1")]
    [InlineData("fd00:10:96::/112", "fd00:10:96::1")]
    [InlineData("10.96.5.7/12", "10.96.0.1")]
    [InlineData("10.0.0.0/8", "10.0.0.1")]
    [InlineData("192.168.0.0/30", "192.168.0.1")]
    public void FirstAddress_ServiceCidr_IsNetworkPlusOne(string cidr, string expected)
        => Assert.Equal(IPAddress.Parse(expected), Pki.ServingSans.FirstAddress(cidr));

    [Theory]
    [InlineData("10.96.0.0")]
    [InlineData("10.96.0.0/33")]
    [InlineData("10.96.0.0/32")]
    [InlineData("banana/12")]
    public void LoadOrCreate_BadServiceCidr_ThrowsNamingIt(string cidr)
    {
        var e = Assert.Throws<ArgumentException>(() => Pki.LoadOrCreate(PkiDir, new PkiOptions { ServiceCidrs = [cidr] }, _time));
        Assert.Contains(cidr, e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(PkiDir));
    }

    [Fact]
    public void LoadOrCreate_DnsNameInExtraSans_IsADnsSan()
    {
        using var pki = Pki.LoadOrCreate(PkiDir, new PkiOptions { ExtraSans = ["API.Example.com."] }, _time);

        Assert.Contains("api.example.com",
            pki.ServingCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
    }

    private static void AssertChainsTo(X509Certificate2 leaf, X509Certificate2 ca, DateTimeOffset at)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at.UtcDateTime;
        Assert.True(chain.Build(leaf), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }
}
