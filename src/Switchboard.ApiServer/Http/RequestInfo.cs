namespace Switchboard.ApiServer.Http;

/// <summary>
/// What a resource request path names, as upstream's RequestInfoFactory splits it:
/// /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]] and /apis/{group}/{version}/...
/// </summary>
internal sealed record RequestInfo(string Group, string Version, string? Namespace, string Resource, string? Name, string? Subresource)
{
    /// <summary>Parses a resource path; null when the path is not a resource path (discovery, health, ...).</summary>
    public static RequestInfo? Parse(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int i;
        string group;
        string version;
        if (segments.Length >= 3 && segments[0] == "api")
        {
            group = "";
            version = segments[1];
            i = 2;
        }
        else if (segments.Length >= 4 && segments[0] == "apis")
        {
            group = segments[1];
            version = segments[2];
            i = 3;
        }
        else
        {
            return null;
        }

        var rest = segments.AsSpan(i);
        string? ns = null;
        // namespaces/{ns}/{resource}/... is a namespaced request; namespaces[/{name}[/{sub}]] is the namespace resource itself.
        // namespaces/{name}/status and /finalize are subresources of the namespace itself (upstream namespaceSubresources).
        if (rest.Length >= 3 && rest[0] == "namespaces" && !(rest.Length == 3 && rest[2] is "status" or "finalize"))
        {
            ns = Uri.UnescapeDataString(rest[1]);
            rest = rest[2..];
        }
        if (rest.Length is 0 or > 3)
        {
            return null;
        }
        var name = rest.Length > 1 ? Uri.UnescapeDataString(rest[1]) : null;
        var sub = rest.Length > 2 ? rest[2] : null;
        return new RequestInfo(group, version, ns, rest[0], name, sub);
    }
}
