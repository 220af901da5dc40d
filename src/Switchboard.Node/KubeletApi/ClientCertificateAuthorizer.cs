using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Node.KubeletApi;

/// <summary>The outcome of checking a request's client certificate.</summary>
internal sealed record AuthDecision(int StatusCode, string? User, string Message)
{
    public bool Allowed => StatusCode == 200;
}

/// <summary>
/// Who may use the kubelet API: it runs commands as root on the machine, so only the API server. A client
/// certificate must chain to the cluster CA with the clientAuth usage (else 401 "Unauthorized", as upstream's
/// x509 authenticator); its user (CN) must be <c>kube-apiserver-kubelet-client</c> or in group (O)
/// <c>system:masters</c> (else 403 with upstream's Forbidden text). Upstream asks the API server with a
/// SubjectAccessReview; this fixed rule is what that review answers for the API server's own certificate.
/// </summary>
internal sealed class ClientCertificateAuthorizer
{
    public const string ApiServerUser = "kube-apiserver-kubelet-client";
    public const string MastersGroup = "system:masters";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2Collection _roots;
    private readonly TimeProvider _time;

    public ClientCertificateAuthorizer(X509Certificate2Collection roots, TimeProvider time)
    {
        _roots = roots;
        _time = time;
    }

    /// <summary>Loads every certificate of a PEM bundle (the cluster CA file).</summary>
    public static ClientCertificateAuthorizer FromCaFile(string path, TimeProvider time)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(path);
        if (roots.Count == 0)
        {
            throw new InvalidOperationException($"no certificate in client CA file {path}");
        }
        return new ClientCertificateAuthorizer(roots, time);
    }

    public AuthDecision Check(X509Certificate2? cert, string method, string path)
    {
        if (cert is null || !Chains(cert))
        {
            return new AuthDecision(401, null, "Unauthorized");
        }
        var user = cert.GetNameInfo(X509NameType.SimpleName, false);
        if (user == ApiServerUser || Organizations(cert).Contains(MastersGroup, StringComparer.Ordinal))
        {
            return new AuthDecision(200, user, "");
        }
        var verb = method switch
        {
            "GET" or "HEAD" => "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => method.ToLowerInvariant(),
        };
        var subresource = path.StartsWith("/healthz", StringComparison.Ordinal) ? "healthz" : "proxy";
        return new AuthDecision(403, user, $"Forbidden (user={user}, verb={verb}, resource=nodes, subresource={subresource})");
    }

    private bool Chains(X509Certificate2 cert)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthOid));
        try
        {
            return chain.Build(cert);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static IEnumerable<string> Organizations(X509Certificate2 cert)
    {
        foreach (var rdn in cert.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (!rdn.HasMultipleElements && rdn.GetSingleElementType().Value == "2.5.4.10" && rdn.GetSingleElementValue() is { } o)
            {
                yield return o;
            }
        }
    }
}
