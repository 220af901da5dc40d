using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Tests.Functional;

internal static class HttpExtensions
{
    public static async Task<(int Code, JsonNode? Body)> SendJsonAsync(this HttpClient http, HttpMethod method, string path, string? body = null, string contentType = "application/json", string? accept = null)
    {
        using var req = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            req.Content = new StringContent(body, Encoding.UTF8);
            req.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        }
        if (accept is not null)
        {
            req.Headers.TryAddWithoutValidation("Accept", accept);
        }
        using var resp = await http.SendAsync(req);
        var text = await resp.Content.ReadAsStringAsync();
        JsonNode? node = null;
        if (text.Length > 0 && (resp.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? false))
        {
            node = JsonNode.Parse(text);
        }
        return ((int)resp.StatusCode, node);
    }

    public static Task<(int Code, JsonNode? Body)> GetJsonAsync(this HttpClient http, string path, string? accept = null) =>
        http.SendJsonAsync(HttpMethod.Get, path, accept: accept);

    public static Task<(int Code, JsonNode? Body)> PostJsonAsync(this HttpClient http, string path, object body) =>
        http.SendJsonAsync(HttpMethod.Post, path, body as string ?? JsonSerializer.Serialize(body));

    public static async Task CreateNamespaceAsync(this HttpClient http, string name)
    {
        var (code, body) = await http.PostJsonAsync("/api/v1/namespaces", $$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{name}}}"}}""");
        Assert.True(code == 201, $"create namespace {name}: {code} {body}");
    }

    public static string Rv(this JsonNode? obj) => obj!["metadata"]!["resourceVersion"]!.GetValue<string>();

    public static JsonContent Json(object o) => JsonContent.Create(o);
}
