using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>
/// Issues the two requests a reflector needs — a list page and a watch — over a KubernetesClient
/// <see cref="Kubernetes"/>: its HttpClient carries TLS from the kubeconfig or in-cluster config and its
/// Credentials add (and refresh) the bearer token, so the same code talks to Switchboard and to kube-apiserver.
/// Requests are built by path because the generated operations are per kind and CustomObjects cannot address
/// the core group (/api/v1).
/// </summary>
internal sealed class ListWatchClient<T>(Kubernetes client, ResourceRequest request)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly string _collectionPath = request.CollectionPath;

    public async Task<ListPage<T>> ListAsync(int limit, string? continueToken, CancellationToken cancellationToken)
    {
        var query = Query();
        query.Add(("limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (!string.IsNullOrEmpty(continueToken))
        {
            query.Add(("continue", continueToken));
        }

        using var response = await SendAsync(query, cancellationToken).ConfigureAwait(false);

        // Buffer the page (≤ limit objects) so KubernetesJson's synchronous Stream overload never blocks on the network.
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var list = KubernetesJson.Deserialize<ObjectList>(stream)
                ?? throw new JsonException("empty list response");
            return new ListPage<T>(list.Items ?? [], list.Metadata?.ResourceVersion, list.Metadata?.ContinueProperty);
        }
    }

    /// <summary>Streams events until the server closes the response; HTTP errors surface as <see cref="ApiStatusException"/>.</summary>
    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(
        string? resourceVersion,
        int timeoutSeconds,
        bool sendInitialEvents,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var query = Query();
        query.Add(("watch", "true"));
        query.Add(("allowWatchBookmarks", "true"));
        query.Add(("timeoutSeconds", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (!string.IsNullOrEmpty(resourceVersion))
        {
            query.Add(("resourceVersion", resourceVersion));
        }

        if (sendInitialEvents)
        {
            query.Add(("sendInitialEvents", "true"));
            query.Add(("resourceVersionMatch", "NotOlderThan"));
        }

        using var response = await SendAsync(query, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                yield return Parse(line);
            }
        }
    }

    internal static WatchEvent<T> Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var type = root.GetProperty("type").GetString() switch
        {
            "ADDED" => WatchEventType.Added,
            "MODIFIED" => WatchEventType.Modified,
            "DELETED" => WatchEventType.Deleted,
            "BOOKMARK" => WatchEventType.Bookmark,
            "ERROR" => WatchEventType.Error,
            var other => throw new JsonException($"unknown watch event type '{other}'"),
        };
        var obj = root.GetProperty("object");
        return type == WatchEventType.Error
            ? new WatchEvent<T>(type, null, KubernetesJson.Deserialize<V1Status>(obj))
            : new WatchEvent<T>(type, KubernetesJson.Deserialize<T>(obj), null);
    }

    private List<(string Name, string Value)> Query()
    {
        var query = new List<(string, string)>(8);
        if (!string.IsNullOrEmpty(request.LabelSelector))
        {
            query.Add(("labelSelector", request.LabelSelector));
        }

        if (!string.IsNullOrEmpty(request.FieldSelector))
        {
            query.Add(("fieldSelector", request.FieldSelector));
        }

        return query;
    }

    private async Task<HttpResponseMessage> SendAsync(List<(string Name, string Value)> query, CancellationToken cancellationToken)
    {
        var uri = new StringBuilder(_collectionPath);
        for (var i = 0; i < query.Count; i++)
        {
            uri.Append(i == 0 ? '?' : '&')
                .Append(query[i].Name).Append('=').Append(Uri.EscapeDataString(query[i].Value));
        }

        using var httpRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(client.BaseUri, uri.ToString()));
        httpRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (client.Credentials is { } credentials)
        {
            await credentials.ProcessHttpRequestAsync(httpRequest, cancellationToken).ConfigureAwait(false);
        }

        // Headers only: a watch body is open-ended. HttpClient.Timeout (infinite in KubernetesClient) does not
        // cover the body; the reflector bounds the watch with its own deadline.
        var response = await client.HttpClient
            .SendAsync(httpRequest, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            .ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ToExceptionAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<ApiStatusException> ToExceptionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var retryAfter = response.Headers.RetryAfter?.Delta;
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            body = "";
        }

        V1Status? status = null;
        if (body.StartsWith('{'))
        {
            try
            {
                status = KubernetesJson.Deserialize<V1Status>(body);
            }
            catch (JsonException)
            {
                // Not a Status (a proxy's error page, say); the HTTP code alone is enough.
            }
        }

        var code = (int)response.StatusCode;
        return new ApiStatusException(
            code,
            status?.Reason ?? response.ReasonPhrase,
            status?.Message ?? (body.Length > 200 ? body[..200] : body),
            retryAfter);
    }

    /// <summary>Any *List kind: only metadata and items matter, so one generic shape reads them all.</summary>
    private sealed class ObjectList
    {
        [JsonPropertyName("metadata")]
        public V1ListMeta? Metadata { get; set; }

        [JsonPropertyName("items")]
        public List<T>? Items { get; set; }
    }
}
