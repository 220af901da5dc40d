using System.Collections.ObjectModel;

namespace Switchboard.ApiServer.Security;

public enum AuthStatus
{
    /// <summary>No bearer credential: the request may go on as <c>system:anonymous</c> only where anonymous access is allowed.</summary>
    Anonymous,

    /// <summary>A valid credential.</summary>
    Authenticated,

    /// <summary>A bearer token that is not valid. Upstream answers 401 even on paths anonymous users may read.</summary>
    Rejected,
}

/// <summary>The user a request speaks for (upstream's <c>user.Info</c>).</summary>
public sealed record AuthResult
{
    public const string AnonymousUser = "system:anonymous";
    public const string GroupAuthenticated = "system:authenticated";
    public const string GroupUnauthenticated = "system:unauthenticated";

    public static readonly AuthResult Anonymous = new()
    {
        Status = AuthStatus.Anonymous,
        UserName = AnonymousUser,
        Groups = [GroupUnauthenticated],
    };

    public static readonly AuthResult Rejected = new()
    {
        Status = AuthStatus.Rejected,
        UserName = AnonymousUser,
        Groups = [GroupUnauthenticated],
    };

    public required AuthStatus Status { get; init; }

    public bool IsAuthenticated => Status == AuthStatus.Authenticated;

    public required string UserName { get; init; }

    public string? Uid { get; init; }

    public required IReadOnlyList<string> Groups { get; init; }

    /// <summary>Upstream's <c>user.Info.Extra</c> (e.g. <c>authentication.kubernetes.io/pod-name</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Extra { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary>Set for service-account tokens: what the token says, e.g. to check that its bound Pod still exists.</summary>
    public TokenIdentity? ServiceAccount { get; init; }
}
