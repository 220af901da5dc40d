using System.Net.Http.Headers;
using System.Text;
using k8s;

namespace Switchboard.Client;

/// <summary>A raw API response: status code and body text.</summary>
public readonly record struct RawResponse(int StatusCode, string Body)
{
    public bool IsSuccess => StatusCode is >= 200 and < 300;
}

/// <summary>
/// Requests by path through a KubernetesClient's HttpClient and credentials, for the verbs the generated client
/// has no generic form of (deletecollection, subresources by name). Works against any API server.
/// </summary>
public static class RawApi
{
    public static async Task<RawResponse> SendAsync(Kubernetes client, HttpMethod method, string path, string? body = null, string contentType = "application/json", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var request = new HttpRequestMessage(method, new Uri(client.BaseUri, path.TrimStart('/')));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        request.Headers.Accept.ParseAdd("application/json");
        if (client.Credentials is { } credentials)
        {
            await credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        }
        using var response = await client.HttpClient.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return new RawResponse((int)response.StatusCode, text);
    }
}
