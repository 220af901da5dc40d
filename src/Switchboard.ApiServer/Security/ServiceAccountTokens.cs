using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Switchboard.ApiServer.Security;

/// <summary>
/// Issues and validates service-account JWTs the way upstream's TokenRequest does: RS256 with <c>sa.key</c>, the
/// key id derived from the public key, the standard claims plus the private <c>kubernetes.io</c> claim.
/// </summary>
/// <remarks>
/// Validation runs on every request, so it allocates nothing until the token proved genuine and throws nothing for
/// a bad token. The RSA key is used concurrently: the OpenSSL-backed implementation creates a context per
/// operation, so concurrent sign/verify on one loaded key is safe.
/// </remarks>
public sealed class ServiceAccountTokens
{
    public const string UserNamePrefix = "system:serviceaccount:";
    public const long MinExpirationSeconds = 600;
    public const long DefaultExpirationSeconds = 3600;

    // Upstream caps TokenRequest at 2^32 seconds.
    public const long MaxExpirationSeconds = 1L << 32;

    // go-jose's default leeway, which upstream's validator uses for exp, nbf and iat.
    internal static readonly TimeSpan Leeway = TimeSpan.FromMinutes(1);

    // Far above any token we issue; bounds the stack/pool buffers of a hostile header.
    private const int MaxTokenLength = 16 * 1024;
    private const int StackLimit = 2048;

    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private readonly RSA _key;
    private readonly TimeProvider _time;
    private readonly string _headerSegment;
    private readonly byte[] _issuerUtf8;
    private readonly byte[][] _audiencesUtf8;
    private readonly int _signatureLength;

    /// <param name="key">The service-account key (private for issuing; public suffices to validate). Not owned.</param>
    public ServiceAccountTokens(RSA key, ServiceAccountTokenOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _key = key;
        _time = time;
        Issuer = options.EffectiveIssuer;
        ApiAudiences = options.EffectiveApiAudiences;
        KeyId = ComputeKeyId(key);
        _signatureLength = key.KeySize / 8;
        _issuerUtf8 = Encoding.UTF8.GetBytes(Issuer);
        _audiencesUtf8 = [.. ApiAudiences.Select(Encoding.UTF8.GetBytes)];

        var header = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            w.WriteString("alg"u8, "RS256"u8);
            w.WriteString("kid"u8, KeyId);
            w.WriteEndObject();
        }

        _headerSegment = Base64Url.EncodeToString(header.WrittenSpan);
    }

    public string Issuer { get; }

    public IReadOnlyList<string> ApiAudiences { get; }

    /// <summary>The JWT <c>kid</c>: base64url (unpadded) of SHA-256 of the DER public key, as upstream.</summary>
    public string KeyId { get; }

    public static string ComputeKeyId(RSA key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(key.ExportSubjectPublicKeyInfo(), hash);
        return Base64Url.EncodeToString(hash);
    }

    /// <summary>Signs a token for a service account.</summary>
    /// <param name="audiences">Null or empty means the API audiences, as upstream.</param>
    /// <param name="expirationSeconds">At least <see cref="MinExpirationSeconds"/>; the HTTP layer rejects less with 422 first.</param>
    /// <param name="boundObject">The Pod, Secret or Node the token dies with.</param>
    public IssuedToken Issue(string @namespace, string serviceAccountName, string serviceAccountUid,
        IReadOnlyList<string>? audiences = null, long expirationSeconds = DefaultExpirationSeconds,
        BoundObjectReference? boundObject = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        ArgumentException.ThrowIfNullOrEmpty(serviceAccountName);
        ArgumentException.ThrowIfNullOrEmpty(serviceAccountUid);
        ArgumentOutOfRangeException.ThrowIfLessThan(expirationSeconds, MinExpirationSeconds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(expirationSeconds, MaxExpirationSeconds);
        var boundKind = boundObject is null ? null : BoundClaimName(boundObject.Kind);
        if (audiences is null || audiences.Count == 0)
        {
            audiences = ApiAudiences;
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var exp = now + expirationSeconds;

        // Keys in the order Go's encoder writes them (sorted), so tokens look like upstream's.
        var payload = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(payload))
        {
            w.WriteStartObject();
            w.WriteStartArray("aud"u8);
            foreach (var a in audiences)
            {
                w.WriteStringValue(a);
            }

            w.WriteEndArray();
            w.WriteNumber("exp"u8, exp);
            w.WriteNumber("iat"u8, now);
            w.WriteString("iss"u8, Issuer);
            w.WriteString("jti"u8, Guid.NewGuid().ToString());
            w.WriteStartObject("kubernetes.io"u8);
            w.WriteString("namespace"u8, @namespace);
            if (boundObject is not null)
            {
                w.WriteStartObject(boundKind!);
                w.WriteString("name"u8, boundObject.Name);
                w.WriteString("uid"u8, boundObject.Uid);
                w.WriteEndObject();
            }

            w.WriteStartObject("serviceaccount"u8);
            w.WriteString("name"u8, serviceAccountName);
            w.WriteString("uid"u8, serviceAccountUid);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteNumber("nbf"u8, now);
            w.WriteString("sub"u8, UserNamePrefix + @namespace + ":" + serviceAccountName);
            w.WriteEndObject();
        }

        var signingInput = _headerSegment + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return new IssuedToken(signingInput + "." + Base64Url.EncodeToString(signature), DateTimeOffset.FromUnixTimeSeconds(exp));
    }

    /// <summary>
    /// True when <paramref name="token"/> is a service-account token signed by this key, within its lifetime
    /// (with upstream's one-minute leeway), from this issuer, for one of the API audiences.
    /// </summary>
    public bool TryValidate(string? token, [NotNullWhen(true)] out TokenIdentity? identity)
        => TryValidate(token.AsSpan(), out identity);

    /// <inheritdoc cref="TryValidate(string?, out TokenIdentity?)"/>
    public bool TryValidate(ReadOnlySpan<char> token, [NotNullWhen(true)] out TokenIdentity? identity)
    {
        identity = null;
        var span = token;
        if (span.IsEmpty || span.Length > MaxTokenLength || span.ContainsAnyExcept(TokenChars))
        {
            return false;
        }

        var dot1 = span.IndexOf('.');
        var dot2 = dot1 < 0 ? -1 : span[(dot1 + 1)..].IndexOf('.') + dot1 + 1;
        if (dot1 <= 0 || dot2 <= dot1 + 1 || dot2 == span.Length - 1 || span[(dot2 + 1)..].Contains('.'))
        {
            return false;
        }

        // The signature first: nothing a stranger wrote is parsed.
        var sigChars = span[(dot2 + 1)..];
        if (Base64Url.GetMaxDecodedLength(sigChars.Length) > StackLimit)
        {
            return false;
        }

        Span<byte> signature = stackalloc byte[StackLimit];
        if (!TryDecode(sigChars, signature, out var sigLength) || sigLength != _signatureLength)
        {
            return false;
        }

        byte[]? rented = null;
        try
        {
            // One buffer: the ASCII signing input (exact, the alphabet was checked), then the decoded payload.
            var inputLength = dot2;
            var payloadChars = span[(dot1 + 1)..dot2];
            var payloadMax = Base64Url.GetMaxDecodedLength(payloadChars.Length);
            var needed = inputLength + payloadMax;
            Span<byte> buffer = needed <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(needed));
            var input = buffer[..inputLength];
            Encoding.ASCII.GetBytes(span[..dot2], input);
            if (!_key.VerifyData(input, signature[..sigLength], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                return false;
            }

            Span<byte> header = stackalloc byte[256];
            if (Base64Url.GetMaxDecodedLength(dot1) > header.Length
                || !TryDecode(span[..dot1], header, out var headerLength)
                || !HeaderIsOurs(header[..headerLength]))
            {
                return false;
            }

            var payload = buffer.Slice(inputLength, payloadMax);
            if (!TryDecode(payloadChars, payload, out var payloadLength))
            {
                return false;
            }

            return TryReadClaims(payload[..payloadLength], out identity);
        }
        catch (JsonException)
        {
            // Only reachable for JSON that our key signed; kept so that the bad-token path never throws.
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Base64Url.TryDecodeFromChars throws on malformed input; the OperationStatus form does not.
    private static bool TryDecode(ReadOnlySpan<char> source, Span<byte> destination, out int written)
        => Base64Url.DecodeFromChars(source, destination, out var consumed, out written) == OperationStatus.Done
            && consumed == source.Length;

    private static string BoundClaimName(string kind) => kind switch
    {
        "Pod" => "pod",
        "Secret" => "secret",
        "Node" => "node",
        _ => throw new ArgumentException($"a token cannot be bound to kind '{kind}' (Pod, Secret or Node)", nameof(kind)),
    };

    private bool HeaderIsOurs(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var algOk = false;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("alg"u8))
            {
                reader.Read();
                algOk = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("RS256"u8);
            }
            else if (reader.ValueTextEquals("kid"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals(KeyId))
                {
                    return false;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return algOk;
    }

    private bool TryReadClaims(ReadOnlySpan<byte> json, [NotNullWhen(true)] out TokenIdentity? identity)
    {
        identity = null;
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        bool issuerOk = false, subjectSeen = false;
        long? exp = null, nbf = null, iat = null;
        var audienceMask = 0UL;
        string? sub = null, jti = null;
        var k = new KubernetesClaims();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("iss"u8))
            {
                reader.Read();
                issuerOk = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(_issuerUtf8);
            }
            else if (reader.ValueTextEquals("aud"u8))
            {
                reader.Read();
                audienceMask = ReadAudiences(ref reader);
            }
            else if (reader.ValueTextEquals("exp"u8))
            {
                exp = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("nbf"u8))
            {
                nbf = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("iat"u8))
            {
                iat = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("sub"u8))
            {
                reader.Read();
                subjectSeen = true;
                sub = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("jti"u8))
            {
                reader.Read();
                jti = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("kubernetes.io"u8))
            {
                reader.Read();
                if (!k.Read(ref reader))
                {
                    return false;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var now = _time.GetUtcNow();
        var leeway = (long)Leeway.TotalSeconds;
        var nowSeconds = now.ToUnixTimeSeconds();
        if (!issuerOk || audienceMask == 0 || exp is not { } expires
            || nowSeconds > expires + leeway
            || (nbf is { } notBefore && nowSeconds < notBefore - leeway)
            || (iat is { } issuedAt && nowSeconds < issuedAt - leeway)
            || string.IsNullOrEmpty(k.Namespace) || string.IsNullOrEmpty(k.ServiceAccountName) || string.IsNullOrEmpty(k.ServiceAccountUid)
            || (subjectSeen && sub != UserNamePrefix + k.Namespace + ":" + k.ServiceAccountName))
        {
            return false;
        }

        var audiences = new List<string>(1);
        for (var i = 0; i < ApiAudiences.Count && i < 64; i++)
        {
            if ((audienceMask & (1UL << i)) != 0)
            {
                audiences.Add(ApiAudiences[i]);
            }
        }

        identity = new TokenIdentity
        {
            Namespace = k.Namespace,
            ServiceAccountName = k.ServiceAccountName,
            ServiceAccountUid = k.ServiceAccountUid,
            TokenId = jti,
            PodName = k.PodName,
            PodUid = k.PodUid,
            SecretName = k.SecretName,
            SecretUid = k.SecretUid,
            NodeName = k.NodeName,
            NodeUid = k.NodeUid,
            ExpiresAt = DateTimeOffset.FromUnixTimeSeconds(expires),
            Audiences = audiences,
        };
        return true;
    }

    /// <summary>A bit per API audience the token names; <c>aud</c> may be a string or an array (RFC 7519).</summary>
    private ulong ReadAudiences(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return MatchAudience(ref reader);
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return 0;
        }

        var mask = 0UL;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                mask |= MatchAudience(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return mask;
    }

    private ulong MatchAudience(ref Utf8JsonReader reader)
    {
        var mask = 0UL;
        for (var i = 0; i < _audiencesUtf8.Length && i < 64; i++)
        {
            if (reader.ValueTextEquals(_audiencesUtf8[i]))
            {
                mask |= 1UL << i;
            }
        }

        return mask;
    }

    private static long? ReadNumber(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number)
        {
            reader.Skip();
            return null;
        }

        // NumericDate may be fractional (RFC 7519); whole seconds are what we compare.
        return reader.TryGetInt64(out var whole) ? whole
            : reader.TryGetDouble(out var fractional) && double.IsFinite(fractional) && Math.Abs(fractional) < long.MaxValue ? (long)fractional
            : null;
    }

    /// <summary>The private <c>kubernetes.io</c> claim.</summary>
    private struct KubernetesClaims
    {
        public string? Namespace;
        public string? ServiceAccountName, ServiceAccountUid;
        public string? PodName, PodUid;
        public string? SecretName, SecretUid;
        public string? NodeName, NodeUid;

        public bool Read(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("namespace"u8))
                {
                    reader.Read();
                    Namespace = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("serviceaccount"u8))
                {
                    reader.Read();
                    (ServiceAccountName, ServiceAccountUid) = ReadRef(ref reader);
                }
                else if (reader.ValueTextEquals("pod"u8))
                {
                    reader.Read();
                    (PodName, PodUid) = ReadRef(ref reader);
                }
                else if (reader.ValueTextEquals("secret"u8))
                {
                    reader.Read();
                    (SecretName, SecretUid) = ReadRef(ref reader);
                }
                else if (reader.ValueTextEquals("node"u8))
                {
                    reader.Read();
                    (NodeName, NodeUid) = ReadRef(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            return true;
        }

        private static (string? Name, string? Uid) ReadRef(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return (null, null);
            }

            string? name = null, uid = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isName = reader.ValueTextEquals("name"u8);
                var isUid = reader.ValueTextEquals("uid"u8);
                reader.Read();
                if (isName && reader.TokenType == JsonTokenType.String)
                {
                    name = reader.GetString();
                }
                else if (isUid && reader.TokenType == JsonTokenType.String)
                {
                    uid = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }

            return (name, uid);
        }
    }
}
