using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Tests.Security;

/// <summary>One RSA key for the class: generating 2048-bit keys is the slow part.</summary>
public sealed class SigningKeyFixture : IDisposable
{
    public RSA Key { get; } = RSA.Create(2048);

    public RSA OtherKey { get; } = RSA.Create(2048);

    public void Dispose()
    {
        Key.Dispose();
        OtherKey.Dispose();
    }
}

public sealed class ServiceAccountTokensTests(SigningKeyFixture keys) : IClassFixture<SigningKeyFixture>
{
    private const string Issuer = "https://kubernetes.default.svc.cluster.local";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private ServiceAccountTokens Tokens(ServiceAccountTokenOptions? options = null, RSA? key = null)
        => new(key ?? keys.Key, options ?? new ServiceAccountTokenOptions(), _time);

    [Fact]
    public void Issue_DefaultOptions_WritesUpstreamHeaderAndClaims()
    {
        var tokens = Tokens();
        var issued = tokens.Issue("team-a", "builder", "sa-uid-1");

        var parts = issued.Token.Split('.');
        Assert.Equal(3, parts.Length);
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("RS256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(tokens.KeyId, header.RootElement.GetProperty("kid").GetString());

        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        var c = payload.RootElement;
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(Issuer, c.GetProperty("iss").GetString());
        Assert.Equal("system:serviceaccount:team-a:builder", c.GetProperty("sub").GetString());
        Assert.Equal([Issuer], c.GetProperty("aud").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(now, c.GetProperty("iat").GetInt64());
        Assert.Equal(now, c.GetProperty("nbf").GetInt64());
        Assert.Equal(now + 3600, c.GetProperty("exp").GetInt64());
        Assert.True(Guid.TryParse(c.GetProperty("jti").GetString(), out _));
        var k = c.GetProperty("kubernetes.io");
        Assert.Equal("team-a", k.GetProperty("namespace").GetString());
        Assert.Equal("builder", k.GetProperty("serviceaccount").GetProperty("name").GetString());
        Assert.Equal("sa-uid-1", k.GetProperty("serviceaccount").GetProperty("uid").GetString());
        Assert.False(k.TryGetProperty("pod", out _));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(now + 3600), issued.ExpirationTimestamp);
        Assert.True(keys.Key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public void KeyId_IsBase64UrlOfSha256OfDerPublicKey()
    {
        var expected = Convert.ToBase64String(SHA256.HashData(keys.Key.ExportSubjectPublicKeyInfo())).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(expected, Tokens().KeyId);
    }

    [Fact]
    public void TryValidate_IssuedToken_ReturnsTheServiceAccount()
    {
        var tokens = Tokens();
        var issued = tokens.Issue("team-a", "builder", "sa-uid-1", expirationSeconds: 600);

        Assert.True(tokens.TryValidate(issued.Token, out var id));
        Assert.Equal("team-a", id.Namespace);
        Assert.Equal("builder", id.ServiceAccountName);
        Assert.Equal("sa-uid-1", id.ServiceAccountUid);
        Assert.Equal("system:serviceaccount:team-a:builder", id.UserName);
        Assert.Equal(["system:serviceaccounts", "system:serviceaccounts:team-a"], id.Groups);
        Assert.Equal([Issuer], id.Audiences);
        Assert.Equal(issued.ExpirationTimestamp, id.ExpiresAt);
        Assert.Null(id.PodName);
        Assert.NotNull(id.TokenId);
    }

    [Fact]
    public void Issue_BoundToPod_CarriesPodClaimsThroughValidation()
    {
        var tokens = Tokens();
        var issued = tokens.Issue("default", "default", "sa-uid", null, 7200, new BoundObjectReference("Pod", "web-0", "pod-uid"));

        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(issued.Token.Split('.')[1]));
        var pod = payload.RootElement.GetProperty("kubernetes.io").GetProperty("pod");
        Assert.Equal("web-0", pod.GetProperty("name").GetString());
        Assert.Equal("pod-uid", pod.GetProperty("uid").GetString());
        Assert.True(tokens.TryValidate(issued.Token, out var id));
        Assert.Equal(("web-0", "pod-uid"), (id.PodName, id.PodUid));
        Assert.Equal(_time.GetUtcNow().AddSeconds(7200), id.ExpiresAt);
    }

    [Fact]
    public void Issue_BoundToUnsupportedKind_Throws()
        => Assert.Throws<ArgumentException>(() => Tokens().Issue("d", "d", "u", boundObject: new BoundObjectReference("ConfigMap", "x", "y")));

    [Theory]
    [InlineData(599)]
    [InlineData(0)]
    [InlineData(-1)]
    public void Issue_ExpirationBelowTenMinutes_Throws(long seconds)
        => Assert.Throws<ArgumentOutOfRangeException>(() => Tokens().Issue("d", "d", "u", expirationSeconds: seconds));

    [Fact]
    public void TryValidate_AfterExpiryPlusLeeway_Fails()
    {
        var tokens = Tokens();
        var token = tokens.Issue("d", "d", "u", expirationSeconds: 600).Token;

        _time.Advance(TimeSpan.FromSeconds(600 + 60));
        Assert.True(tokens.TryValidate(token, out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(tokens.TryValidate(token, out var id));
        Assert.Null(id);
    }

    [Fact]
    public void TryValidate_IssuedInTheFuture_Fails()
    {
        var future = new FakeTimeProvider(_time.GetUtcNow().AddSeconds(61));
        var token = new ServiceAccountTokens(keys.Key, new ServiceAccountTokenOptions(), future).Issue("d", "d", "u").Token;
        var nearFuture = new FakeTimeProvider(_time.GetUtcNow().AddSeconds(60));
        var tolerated = new ServiceAccountTokens(keys.Key, new ServiceAccountTokenOptions(), nearFuture).Issue("d", "d", "u").Token;

        Assert.False(Tokens().TryValidate(token, out _));
        Assert.True(Tokens().TryValidate(tolerated, out _));
    }

    [Fact]
    public void TryValidate_AudienceNotAccepted_Fails()
    {
        var tokens = Tokens();
        var vaultToken = tokens.Issue("d", "d", "u", ["vault"]).Token;
        var both = tokens.Issue("d", "d", "u", ["vault", Issuer]).Token;

        Assert.False(tokens.TryValidate(vaultToken, out _));
        Assert.True(tokens.TryValidate(both, out var id));
        Assert.Equal([Issuer], id.Audiences);
    }

    [Fact]
    public void TryValidate_CustomApiAudiences_AcceptsAnyOfThem()
    {
        var tokens = Tokens(new ServiceAccountTokenOptions { ApiAudiences = ["api", "other"] });
        var token = tokens.Issue("d", "d", "u").Token;

        Assert.True(tokens.TryValidate(token, out var id));
        Assert.Equal(["api", "other"], id.Audiences);
    }

    [Fact]
    public void TryValidate_OtherIssuerOrOtherKey_Fails()
    {
        var token = Tokens().Issue("d", "d", "u").Token;

        Assert.False(Tokens(new ServiceAccountTokenOptions { ClusterDomain = "example.internal", ApiAudiences = [Issuer] }).TryValidate(token, out _));
        Assert.False(Tokens(key: keys.OtherKey).TryValidate(token, out _));
    }

    [Fact]
    public void TryValidate_TamperedPayload_Fails()
    {
        var tokens = Tokens();
        var parts = tokens.Issue("d", "d", "u").Token.Split('.');
        var json = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])).Replace("\"d\"", "\"kube-system\"", StringComparison.Ordinal);
        var forged = parts[0] + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json)) + "." + parts[2];

        Assert.False(tokens.TryValidate(forged, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("a.b")]
    [InlineData("a.b.c")]
    [InlineData("a.b.c.d")]
    [InlineData("..")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]
    [InlineData("a b.c.d")]
    [InlineData("a=.b.c")]
    [InlineData("ä.b.c")]
    public void TryValidate_Garbage_FailsWithoutThrowing(string token)
        => Assert.False(Tokens().TryValidate(token, out _));

    [Fact]
    public void TryValidate_HugeToken_Fails()
        => Assert.False(Tokens().TryValidate(new string('a', 100_000) + ".b.c", out _));

    [Fact]
    public void TryValidate_AlgNoneHeaderWithValidSignature_Fails()
    {
        var token = Sign("""{"alg":"none"}""", ValidPayload());
        Assert.False(Tokens().TryValidate(token, out _));
    }

    [Fact]
    public void TryValidate_ForeignKidWithValidSignature_Fails()
    {
        var token = Sign("""{"alg":"RS256","kid":"someone-else"}""", ValidPayload());
        Assert.False(Tokens().TryValidate(token, out _));
    }

    [Fact]
    public void TryValidate_HandCraftedTokenWithStringAudAndNoKid_Succeeds()
    {
        // RFC 7519 allows "aud" as a single string; upstream's go-jose accepts both forms.
        var token = Sign("""{"alg":"RS256"}""", ValidPayload(aud: $"\"{Issuer}\""));
        Assert.True(Tokens().TryValidate(token, out var id));
        Assert.Equal("ns", id.Namespace);
    }

    [Fact]
    public void TryValidate_SubjectDisagreesWithPrivateClaims_Fails()
    {
        var token = Sign("""{"alg":"RS256"}""", ValidPayload(sub: "system:serviceaccount:kube-system:admin"));
        Assert.False(Tokens().TryValidate(token, out _));
    }

    [Fact]
    public void TryValidate_MissingExpiry_Fails()
    {
        var token = Sign("""{"alg":"RS256"}""", ValidPayload().Replace("\"exp\":", "\"nope\":", StringComparison.Ordinal));
        Assert.False(Tokens().TryValidate(token, out _));
    }

    [Fact]
    public void TryValidate_SignedMalformedJson_FailsWithoutThrowing()
    {
        Assert.False(Tokens().TryValidate(Sign("""{"alg":"RS256"}""", """{"iss":"""), out _));
        Assert.False(Tokens().TryValidate(Sign("""{"alg":""", ValidPayload()), out _));
    }

    [Fact]
    public void TryValidate_BadSignature_AllocatesAlmostNothing()
    {
        var tokens = Tokens();
        var token = tokens.Issue("d", "d", "u").Token;
        var bad = token[..^4] + "AAAA";
        tokens.TryValidate(bad, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var ok = tokens.TryValidate(bad, out _);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.False(ok);
        Assert.InRange(allocated, 0, 256); // OpenSSL interop may allocate a handle; the parser itself nothing
    }

    private string ValidPayload(string? aud = null, string sub = "system:serviceaccount:ns:sa")
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var audJson = aud ?? "[\"" + Issuer + "\"]";
        return "{\"aud\":" + audJson + ",\"exp\":" + (now + 600) + ",\"iat\":" + now + ",\"iss\":\"" + Issuer
            + "\",\"kubernetes.io\":{\"namespace\":\"ns\",\"serviceaccount\":{\"name\":\"sa\",\"uid\":\"u\"}},\"nbf\":" + now
            + ",\"sub\":\"" + sub + "\",\"extra\":[1,{\"a\":2}]}";
    }

    private string Sign(string header, string payload)
    {
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        var sig = keys.Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64Url.EncodeToString(sig);
    }
}
