using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.ApiServer.Security;

/// <summary>
/// The cluster's certificates and keys in <c>&lt;data-dir&gt;/pki</c>, laid out as kubeadm does: created at first
/// start, loaded afterwards, and repaired piecemeal (a missing, expiring, foreign or under-covering certificate is
/// re-issued alone, so existing kubeconfigs and service-account tokens stay valid).
/// </summary>
public sealed class Pki : IDisposable
{
    public const string CaCertFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string ServingCertFile = "apiserver.crt";
    public const string ServingKeyFile = "apiserver.key";
    public const string KubeletClientCertFile = "apiserver-kubelet-client.crt";
    public const string KubeletClientKeyFile = "apiserver-kubelet-client.key";
    public const string ServiceAccountKeyFile = "sa.key";
    public const string ServiceAccountPublicKeyFile = "sa.pub";
    public const string AdminTokenFile = "admin.token";

    public const string CaCommonName = "switchboard-ca";
    public const string ServingCommonName = "kube-apiserver";
    public const string KubeletClientCommonName = "kube-apiserver-kubelet-client";
    public const string KubeletClientOrganization = "system:masters";

    internal static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);
    internal static readonly TimeSpan LeafLifetime = TimeSpan.FromDays(365);

    // A leaf with less than this left is re-issued at start, like `kubeadm certs renew` would be run by hand.
    internal static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    // Backdating tolerates clocks of other machines (agents) that run slightly behind.
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private Pki(string directory, X509Certificate2 ca, X509Certificate2 serving, X509Certificate2 kubeletClient,
        RSA serviceAccountKey, string adminToken, IReadOnlyList<string> writtenFiles)
    {
        Directory = directory;
        CaCertificate = ca;
        CaPem = ca.ExportCertificatePem() + "\n";
        ServingCertificate = serving;
        KubeletClientCertificate = kubeletClient;
        ServiceAccountKey = serviceAccountKey;
        AdminToken = adminToken;
        WrittenFiles = writtenFiles;
    }

    /// <summary>The pki directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>The cluster CA, without its private key (which stays on disk).</summary>
    public X509Certificate2 CaCertificate { get; }

    /// <summary>The CA certificate in PEM, as kubeconfigs and the service-account volume carry it.</summary>
    public string CaPem { get; }

    /// <summary>The API server's serving certificate with its private key, ready for Kestrel.</summary>
    public X509Certificate2 ServingCertificate { get; }

    /// <summary>The client certificate the API server presents to kubelet APIs (CN kube-apiserver-kubelet-client, O system:masters).</summary>
    public X509Certificate2 KubeletClientCertificate { get; }

    /// <summary>The RSA key that signs and verifies service-account tokens. Owned by this object.</summary>
    public RSA ServiceAccountKey { get; }

    /// <summary>The admin bearer token (user <c>admin</c>, group <c>system:masters</c>).</summary>
    public string AdminToken { get; }

    /// <summary>File names written by this start (empty when everything was loaded as it was).</summary>
    public IReadOnlyList<string> WrittenFiles { get; }

    public string CaCertPath => Path.Combine(Directory, CaCertFile);
    public string CaKeyPath => Path.Combine(Directory, CaKeyFile);
    public string ServingCertPath => Path.Combine(Directory, ServingCertFile);
    public string ServingKeyPath => Path.Combine(Directory, ServingKeyFile);
    public string KubeletClientCertPath => Path.Combine(Directory, KubeletClientCertFile);
    public string KubeletClientKeyPath => Path.Combine(Directory, KubeletClientKeyFile);
    public string ServiceAccountKeyPath => Path.Combine(Directory, ServiceAccountKeyFile);
    public string ServiceAccountPublicKeyPath => Path.Combine(Directory, ServiceAccountPublicKeyFile);
    public string AdminTokenPath => Path.Combine(Directory, AdminTokenFile);

    /// <summary>Loads the PKI in <paramref name="pkiDir"/>, creating or re-issuing whatever is missing or no longer fits.</summary>
    /// <exception cref="ArgumentException">An option is not a valid CIDR, IP or DNS name.</exception>
    public static Pki LoadOrCreate(string pkiDir, PkiOptions options, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(pkiDir);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);

        var sans = ServingSans.From(options);
        var dir = Path.GetFullPath(pkiDir);
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(dir);
        }
        else
        {
            System.IO.Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var now = time.GetUtcNow();
        var written = new List<string>();
        X509Certificate2? ca = null, serving = null, kubeletClient = null;
        RSA? saKey = null;
        try
        {
            var caWasIssued = false;
            ca = TryLoad(dir, CaCertFile, CaKeyFile);
            if (ca is null || !IsUsableCa(ca, now))
            {
                ca?.Dispose();
                ca = IssueCa(dir, now, written);
                caWasIssued = true;
            }

            serving = caWasIssued ? null : TryLoad(dir, ServingCertFile, ServingKeyFile);
            if (serving is null || !IsCurrentLeaf(serving, ca, now) || !sans.AreCoveredBy(serving))
            {
                serving?.Dispose();
                serving = IssueLeaf(dir, ServingCertFile, ServingKeyFile, ca, ServingSubject(), ServerAuth, sans.Build(), now, written);
            }

            kubeletClient = caWasIssued ? null : TryLoad(dir, KubeletClientCertFile, KubeletClientKeyFile);
            if (kubeletClient is null || !IsCurrentLeaf(kubeletClient, ca, now))
            {
                kubeletClient?.Dispose();
                kubeletClient = IssueLeaf(dir, KubeletClientCertFile, KubeletClientKeyFile, ca, KubeletClientSubject(), ClientAuth, null, now, written);
            }

            saKey = LoadOrCreateServiceAccountKey(dir, written);
            var adminToken = LoadOrCreateAdminToken(dir, written);

            // Only the public half of the CA stays in memory; issuing is a start-up affair.
            var caPublic = X509CertificateLoader.LoadCertificate(ca.RawDataMemory.Span);
            ca.Dispose();
            ca = caPublic;
            return new Pki(dir, ca, serving, kubeletClient, saKey, adminToken, written);
        }
        catch
        {
            ca?.Dispose();
            serving?.Dispose();
            kubeletClient?.Dispose();
            saKey?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        CaCertificate.Dispose();
        ServingCertificate.Dispose();
        KubeletClientCertificate.Dispose();
        ServiceAccountKey.Dispose();
    }

    private static X500DistinguishedName ServingSubject()
    {
        var b = new X500DistinguishedNameBuilder();
        b.AddCommonName(ServingCommonName);
        return b.Build();
    }

    private static X500DistinguishedName KubeletClientSubject()
    {
        // Kubernetes reads O as the group and CN as the user name of a client certificate.
        var b = new X500DistinguishedNameBuilder();
        b.AddOrganizationName(KubeletClientOrganization);
        b.AddCommonName(KubeletClientCommonName);
        return b.Build();
    }

    /// <summary>Loads a certificate and its key, or null when either is missing, unreadable or they do not match.</summary>
    private static X509Certificate2? TryLoad(string dir, string certFile, string keyFile)
    {
        var certPath = Path.Combine(dir, certFile);
        var keyPath = Path.Combine(dir, keyFile);
        if (!File.Exists(certPath) || !File.Exists(keyPath))
        {
            return null;
        }

        try
        {
            SecureFile.EnsureMode(keyPath, SecureFile.Private);

            // CreateFromPem (not CopyWithPrivateKey on a loaded cert) gives Kestrel a key it can use on Linux.
            return X509Certificate2.CreateFromPem(File.ReadAllText(certPath), File.ReadAllText(keyPath));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return null; // corrupt (CryptographicException) or a key of another certificate (ArgumentException): re-issue
        }
    }

    private static bool IsUsableCa(X509Certificate2 ca, DateTimeOffset now)
    {
        var basic = ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        return basic is { CertificateAuthority: true }
            && ca.NotBefore.ToUniversalTime() <= now.UtcDateTime
            && ca.NotAfter.ToUniversalTime() > (now + RenewBefore).UtcDateTime;
    }

    /// <summary>Signed by this CA, valid now, and not about to expire.</summary>
    private static bool IsCurrentLeaf(X509Certificate2 leaf, X509Certificate2 ca, DateTimeOffset now)
    {
        // IsUsableCa guarantees the CA outlives RenewBefore, so a re-issued leaf always passes this test.
        if (leaf.NotAfter.ToUniversalTime() <= (now + RenewBefore).UtcDateTime)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        return chain.Build(leaf);
    }

    private static X509Certificate2 IssueCa(string dir, DateTimeOffset now, List<string> written)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var b = new X500DistinguishedNameBuilder();
        b.AddCommonName(CaCommonName);
        var request = new CertificateRequest(b.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var cert = request.CreateSelfSigned(now - ClockSkew, now + CaLifetime);
        return Persist(dir, CaCertFile, CaKeyFile, cert.ExportCertificatePem(), key.ExportECPrivateKeyPem(), written);
    }

    private static X509Certificate2 IssueLeaf(string dir, string certFile, string keyFile, X509Certificate2 ca,
        X500DistinguishedName subject, Oid usage, X509Extension? sans, DateTimeOffset now, List<string> written)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (sans is not null)
        {
            request.CertificateExtensions.Add(sans);
        }

        // A leaf never outlives its CA: an issuer past its NotAfter makes the chain invalid anyway.
        var notAfter = now + LeafLifetime;
        var caNotAfter = new DateTimeOffset(ca.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (notAfter > caNotAfter)
        {
            notAfter = caNotAfter;
        }

        using var cert = request.Create(ca, now - ClockSkew, notAfter, NewSerialNumber());
        return Persist(dir, certFile, keyFile, cert.ExportCertificatePem(), key.ExportECPrivateKeyPem(), written);
    }

    /// <summary>Writes the key before the certificate: a crash in between leaves no certificate, which is re-issued.</summary>
    private static X509Certificate2 Persist(string dir, string certFile, string keyFile, string certPem, string keyPem, List<string> written)
    {
        SecureFile.WriteAtomic(Path.Combine(dir, keyFile), keyPem + "\n", SecureFile.Private);
        written.Add(keyFile);
        SecureFile.WriteAtomic(Path.Combine(dir, certFile), certPem + "\n", SecureFile.Public);
        written.Add(certFile);
        return X509Certificate2.CreateFromPem(certPem, keyPem);
    }

    private static byte[] NewSerialNumber()
    {
        // 128 random bits, encoded as a positive DER integer with no leading zero (Go rejects negative serials).
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }

    private static RSA LoadOrCreateServiceAccountKey(string dir, List<string> written)
    {
        var keyPath = Path.Combine(dir, ServiceAccountKeyFile);
        var pubPath = Path.Combine(dir, ServiceAccountPublicKeyFile);
        var rsa = RSA.Create();
        try
        {
            var loaded = false;
            if (File.Exists(keyPath))
            {
                try
                {
                    rsa.ImportFromPem(File.ReadAllText(keyPath));
                    SecureFile.EnsureMode(keyPath, SecureFile.Private);
                    loaded = true;
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException)
                {
                    // Unreadable: a new key. Tokens signed with the old one could not be verified anyway.
                }
            }

            if (!loaded)
            {
                rsa.Dispose();
                rsa = RSA.Create(2048);

                // PKCS#1 "RSA PRIVATE KEY", as kubeadm writes sa.key.
                SecureFile.WriteAtomic(keyPath, rsa.ExportRSAPrivateKeyPem() + "\n", SecureFile.Private);
                written.Add(ServiceAccountKeyFile);
            }

            var pubPem = rsa.ExportSubjectPublicKeyInfoPem() + "\n";
            if (!File.Exists(pubPath) || File.ReadAllText(pubPath) != pubPem)
            {
                SecureFile.WriteAtomic(pubPath, pubPem, SecureFile.Public);
                written.Add(ServiceAccountPublicKeyFile);
            }

            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static string LoadOrCreateAdminToken(string dir, List<string> written)
    {
        var path = Path.Combine(dir, AdminTokenFile);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0 && !existing.Any(char.IsWhiteSpace))
            {
                SecureFile.EnsureMode(path, SecureFile.Private);
                return existing;
            }
        }

        var token = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        SecureFile.WriteAtomic(path, token + "\n", SecureFile.Private);
        written.Add(AdminTokenFile);
        return token;
    }

    /// <summary>The SANs the serving certificate must carry for the given options.</summary>
    internal sealed class ServingSans
    {
        private ServingSans(IReadOnlyList<IPAddress> ips, IReadOnlyList<string> dnsNames)
        {
            IpAddresses = ips;
            DnsNames = dnsNames;
        }

        public IReadOnlyList<IPAddress> IpAddresses { get; }
        public IReadOnlyList<string> DnsNames { get; }

        public static ServingSans From(PkiOptions options)
        {
            var ips = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
            var dns = new List<string>
            {
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc." + options.ClusterDomain.TrimEnd('.'),
            };

            foreach (var cidr in options.ServiceCidrs)
            {
                AddDistinct(ips, FirstAddress(cidr));
            }

            foreach (var value in options.AdvertiseAddresses.Concat(options.ExtraSans))
            {
                var trimmed = value.Trim();
                if (IPAddress.TryParse(trimmed, out var ip))
                {
                    AddDistinct(ips, ip);
                }
                else if (Uri.CheckHostName(trimmed) == UriHostNameType.Dns)
                {
                    var name = trimmed.TrimEnd('.').ToLowerInvariant();
                    if (!dns.Contains(name))
                    {
                        dns.Add(name);
                    }
                }
                else
                {
                    throw new ArgumentException($"'{value}' is neither an IP address nor a DNS name", nameof(options));
                }
            }

            return new ServingSans(ips, dns);
        }

        public X509Extension Build()
        {
            var b = new SubjectAlternativeNameBuilder();
            foreach (var name in DnsNames)
            {
                b.AddDnsName(name);
            }

            foreach (var ip in IpAddresses)
            {
                b.AddIpAddress(ip);
            }

            return b.Build();
        }

        public bool AreCoveredBy(X509Certificate2 cert)
        {
            var ext = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
            if (ext is null)
            {
                return false;
            }

            var haveDns = ext.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase);
            var haveIps = ext.EnumerateIPAddresses().ToHashSet();
            return DnsNames.All(haveDns.Contains) && IpAddresses.All(haveIps.Contains);
        }

        /// <summary>The network address plus one: the ClusterIP of the <c>kubernetes</c> Service, as upstream allocates it.</summary>
        internal static IPAddress FirstAddress(string cidr)
        {
            var slash = cidr.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0
                || !IPAddress.TryParse(cidr.AsSpan(0, slash).Trim(), out var address)
                || !int.TryParse(cidr.AsSpan(slash + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
            {
                throw new ArgumentException($"'{cidr}' is not a CIDR", nameof(cidr));
            }

            var bytes = address.GetAddressBytes();
            var bits = bytes.Length * 8;
            if (prefix > bits - 2 || (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6))
            {
                throw new ArgumentException($"'{cidr}' has no room for Service IPs", nameof(cidr));
            }

            // Clear the host bits (upstream masks a CIDR written with them set), then add one.
            for (var i = 0; i < bytes.Length; i++)
            {
                var keep = Math.Clamp(prefix - (i * 8), 0, 8);
                bytes[i] &= (byte)(0xFF << (8 - keep));
            }

            var carry = bytes.Length - 1;
            while (carry >= 0 && ++bytes[carry] == 0)
            {
                carry--;
            }

            return new IPAddress(bytes);
        }

        private static void AddDistinct(List<IPAddress> ips, IPAddress ip)
        {
            if (!ips.Contains(ip))
            {
                ips.Add(ip);
            }
        }
    }
}
