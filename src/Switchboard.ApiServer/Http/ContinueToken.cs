using System.Text;
using System.Text.Json;

namespace Switchboard.ApiServer.Http;

/// <summary>
/// List continuation, shaped like upstream's (base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"key"}): the
/// snapshot revision and the last key served, so the next page continues the same consistent snapshot.
/// </summary>
internal static class ContinueToken
{
    public static string Encode(long revision, string lastKey)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("v", "meta.k8s.io/v1");
            w.WriteNumber("rv", revision);
            w.WriteString("start", lastKey);
            w.WriteEndObject();
        }
        return Convert.ToBase64String(buffer.WrittenSpan).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static (long Revision, string StartAfter) Decode(string token)
    {
        try
        {
            var b64 = token.Replace('-', '+').Replace('_', '/');
            b64 += (b64.Length % 4) switch { 2 => "==", 3 => "=", _ => "" };
            using var doc = JsonDocument.Parse(Convert.FromBase64String(b64));
            var root = doc.RootElement;
            if (root.GetProperty("v").GetString() != "meta.k8s.io/v1")
            {
                throw new FormatException("unknown version");
            }
            var rv = root.GetProperty("rv").GetInt64();
            var start = root.GetProperty("start").GetString() ?? throw new FormatException("no start");
            if (rv <= 0)
            {
                throw new FormatException("bad revision");
            }
            return (rv, start);
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            _ = Encoding.UTF8;
            throw ApiException.BadRequest("continue key is not valid: " + e.Message);
        }
    }
}
