using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Tests.Security;

public sealed class BearerAuthenticatorTests : IClassFixture<SigningKeyFixture>
{
    private const string AdminToken = "s3cr3t-admin-token-value_0123456789abcdef";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ServiceAccountTokens _tokens;
    private readonly BearerAuthenticator _auth;

    public BearerAuthenticatorTests(SigningKeyFixture keys)
    {
        _tokens = new ServiceAccountTokens(keys.Key, new ServiceAccountTokenOptions(), _time);
        _auth = new BearerAuthenticator(AdminToken, _tokens);
    }

    [Theory]
    [InlineData("Bearer " + AdminToken)]
    [InlineData("bearer " + AdminToken)]
    [InlineData("  BEARER " + AdminToken + "  ")]
    [InlineData("Bearer " + AdminToken + " trailing")]
    public void Authenticate_AdminToken_IsAdminInSystemMasters(string header)
    {
        var result = _auth.Authenticate(header);

        Assert.Equal(AuthStatus.Authenticated, result.Status);
        Assert.True(result.IsAuthenticated);
        Assert.Equal("admin", result.UserName);
        Assert.Equal(["system:masters", "system:authenticated"], result.Groups);
        Assert.Null(result.ServiceAccount);
    }

    [Fact]
    public void Authenticate_ServiceAccountToken_IsTheServiceAccount()
    {
        var token = _tokens.Issue("team-a", "builder", "sa-uid", boundObject: new BoundObjectReference("Pod", "web-0", "pod-uid")).Token;

        var result = _auth.Authenticate("Bearer " + token);

        Assert.Equal(AuthStatus.Authenticated, result.Status);
        Assert.Equal("system:serviceaccount:team-a:builder", result.UserName);
        Assert.Equal("sa-uid", result.Uid);
        Assert.Equal(["system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"], result.Groups);
        Assert.Equal(["web-0"], result.Extra["authentication.kubernetes.io/pod-name"]);
        Assert.Equal(["pod-uid"], result.Extra["authentication.kubernetes.io/pod-uid"]);
        Assert.StartsWith("JTI=", result.Extra["authentication.kubernetes.io/credential-id"].Single(), StringComparison.Ordinal);
        Assert.Equal("pod-uid", result.ServiceAccount!.PodUid);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Basic YWRtaW46YWRtaW4=")]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer  " + AdminToken)]
    [InlineData(AdminToken)]
    public void Authenticate_NoBearerCredential_IsAnonymous(string? header)
    {
        var result = _auth.Authenticate(header);

        Assert.Equal(AuthStatus.Anonymous, result.Status);
        Assert.False(result.IsAuthenticated);
        Assert.Equal("system:anonymous", result.UserName);
        Assert.Equal(["system:unauthenticated"], result.Groups);
    }

    [Theory]
    [InlineData("Bearer wrong")]
    [InlineData("Bearer " + AdminToken + "x")]
    [InlineData("Bearer s3cr3t-admin-token-value_0123456789abcde")]
    [InlineData("Bearer a.b.c")]
    public void Authenticate_InvalidBearerToken_IsRejected(string header)
    {
        var result = _auth.Authenticate(header);

        Assert.Equal(AuthStatus.Rejected, result.Status);
        Assert.False(result.IsAuthenticated);
    }

    [Fact]
    public void Authenticate_ExpiredServiceAccountToken_IsRejected()
    {
        var token = _tokens.Issue("d", "d", "u", expirationSeconds: 600).Token;
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(AuthStatus.Rejected, _auth.Authenticate("Bearer " + token).Status);
    }

    [Fact]
    public void Authenticate_TokenFromAnotherKey_IsRejected()
    {
        using var other = RSA.Create(2048);
        var foreign = new ServiceAccountTokens(other, new ServiceAccountTokenOptions(), _time).Issue("d", "d", "u").Token;

        Assert.Equal(AuthStatus.Rejected, _auth.Authenticate("Bearer " + foreign).Status);
    }
}
