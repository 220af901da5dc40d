namespace Switchboard.ApiServer.Security;

/// <summary>Issuer and audiences of service-account tokens (upstream <c>--service-account-issuer</c>, <c>--api-audiences</c>).</summary>
public sealed record ServiceAccountTokenOptions
{
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>The <c>iss</c> claim; defaults to <c>https://kubernetes.default.svc.&lt;cluster-domain&gt;</c>.</summary>
    public string? Issuer { get; init; }

    /// <summary>Audiences this API server accepts; defaults to the issuer alone, as upstream.</summary>
    public IReadOnlyList<string> ApiAudiences { get; init; } = [];

    public string EffectiveIssuer => Issuer ?? "https://kubernetes.default.svc." + ClusterDomain.TrimEnd('.');

    public IReadOnlyList<string> EffectiveApiAudiences => ApiAudiences.Count > 0 ? ApiAudiences : [EffectiveIssuer];
}

/// <summary>The object a token is bound to (TokenRequest <c>spec.boundObjectRef</c>): kind Pod, Secret or Node.</summary>
public sealed record BoundObjectReference(string Kind, string Name, string Uid);

/// <summary>A signed token and the moment it expires (TokenRequest <c>status.token</c>, <c>status.expirationTimestamp</c>).</summary>
public readonly record struct IssuedToken(string Token, DateTimeOffset ExpirationTimestamp);

/// <summary>Who a valid service-account token speaks for, as upstream's service-account authenticator reports it.</summary>
public sealed record TokenIdentity
{
    public const string GroupServiceAccounts = "system:serviceaccounts";

    public required string Namespace { get; init; }
    public required string ServiceAccountName { get; init; }
    public required string ServiceAccountUid { get; init; }

    /// <summary>The <c>jti</c> claim, reported upstream as extra <c>authentication.kubernetes.io/credential-id</c> = <c>JTI=&lt;jti&gt;</c>.</summary>
    public string? TokenId { get; init; }
    public string? PodName { get; init; }
    public string? PodUid { get; init; }
    public string? SecretName { get; init; }
    public string? SecretUid { get; init; }
    public string? NodeName { get; init; }
    public string? NodeUid { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The API audiences the token was accepted for (the intersection with its <c>aud</c>).</summary>
    public required IReadOnlyList<string> Audiences { get; init; }

    /// <summary><c>system:serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>.</summary>
    public string UserName => ServiceAccountTokens.UserNamePrefix + Namespace + ":" + ServiceAccountName;

    /// <summary><c>system:serviceaccounts</c> and <c>system:serviceaccounts:&lt;ns&gt;</c>.</summary>
    public IReadOnlyList<string> Groups => [GroupServiceAccounts, GroupServiceAccounts + ":" + Namespace];
}
