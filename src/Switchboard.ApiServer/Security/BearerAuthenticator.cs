using System.Security.Cryptography;
using System.Text;

namespace Switchboard.ApiServer.Security;

/// <summary>
/// Authenticates the <c>Authorization</c> header: the admin token, or a service-account JWT. Parsing follows
/// upstream's bearertoken authenticator: a header that is not <c>Bearer &lt;token&gt;</c> is no credential at all
/// (anonymous), while a bearer token that fails is rejected.
/// </summary>
public sealed class BearerAuthenticator
{
    public const string AdminUser = "admin";
    public const string GroupMasters = "system:masters";

    private const string ExtraPrefix = "authentication.kubernetes.io/";

    private readonly byte[] _adminTokenHash;
    private readonly ServiceAccountTokens _serviceAccountTokens;
    private readonly AuthResult _admin = new()
    {
        Status = AuthStatus.Authenticated,
        UserName = AdminUser,
        Groups = [GroupMasters, AuthResult.GroupAuthenticated],
    };

    public BearerAuthenticator(string adminToken, ServiceAccountTokens serviceAccountTokens)
    {
        ArgumentException.ThrowIfNullOrEmpty(adminToken);
        ArgumentNullException.ThrowIfNull(serviceAccountTokens);

        // Compare hashes: fixed length, so neither the token's content nor its length leaks through timing.
        _adminTokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(adminToken));
        _serviceAccountTokens = serviceAccountTokens;
    }

    public AuthResult Authenticate(string? authorizationHeader)
    {
        var header = authorizationHeader.AsSpan().Trim();
        if (header.IsEmpty)
        {
            return AuthResult.Anonymous;
        }

        var space = header.IndexOf(' ');
        if (space < 0 || !header[..space].Equals("bearer", StringComparison.OrdinalIgnoreCase))
        {
            return AuthResult.Anonymous;
        }

        // Upstream splits on single spaces: "Bearer  x" has an empty token, "Bearer x y" a third part it ignores.
        var rest = header[(space + 1)..];
        var end = rest.IndexOf(' ');
        var token = end < 0 ? rest : rest[..end];
        if (token.IsEmpty)
        {
            return AuthResult.Anonymous;
        }

        if (IsAdminToken(token))
        {
            return _admin;
        }

        return _serviceAccountTokens.TryValidate(token, out var sa) ? FromServiceAccount(sa) : AuthResult.Rejected;
    }

    private bool IsAdminToken(ReadOnlySpan<char> token)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var byteCount = Encoding.UTF8.GetMaxByteCount(token.Length);
        var bytes = byteCount <= 1024 ? stackalloc byte[1024] : new byte[byteCount];
        var written = Encoding.UTF8.GetBytes(token, bytes);
        SHA256.HashData(bytes[..written], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _adminTokenHash);
    }

    private static AuthResult FromServiceAccount(TokenIdentity sa)
    {
        var extra = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (sa.PodName is not null)
        {
            extra[ExtraPrefix + "pod-name"] = [sa.PodName];
        }

        if (sa.PodUid is not null)
        {
            extra[ExtraPrefix + "pod-uid"] = [sa.PodUid];
        }

        if (sa.NodeName is not null)
        {
            extra[ExtraPrefix + "node-name"] = [sa.NodeName];
        }

        if (sa.NodeUid is not null)
        {
            extra[ExtraPrefix + "node-uid"] = [sa.NodeUid];
        }

        if (sa.TokenId is not null)
        {
            extra[ExtraPrefix + "credential-id"] = ["JTI=" + sa.TokenId];
        }

        return new AuthResult
        {
            Status = AuthStatus.Authenticated,
            UserName = sa.UserName,
            Uid = sa.ServiceAccountUid,
            Groups = [.. sa.Groups, AuthResult.GroupAuthenticated],
            Extra = extra,
            ServiceAccount = sa,
        };
    }
}
