namespace Switchboard.ApiServer.Http;

/// <summary>What the client asked to receive.</summary>
internal enum ResponseFormat
{
    Json,
    Yaml,
    Table,
}

/// <summary>Content negotiation for the media types kubectl and client libraries send.</summary>
internal static class MediaTypes
{
    public const string Json = "application/json";
    public const string Yaml = "application/yaml";
    public const string Protobuf = "application/vnd.kubernetes.protobuf";
    public const string JsonPatch = "application/json-patch+json";
    public const string MergePatch = "application/merge-patch+json";
    public const string StrategicMergePatch = "application/strategic-merge-patch+json";
    public const string ApplyPatch = "application/apply-patch+yaml";
    public const string AggregatedDiscovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

    /// <summary>Picks the first acceptable entry of the Accept header, as upstream negotiation does.</summary>
    public static ResponseFormat Negotiate(string? accept, bool tableAllowed)
    {
        if (string.IsNullOrEmpty(accept))
        {
            return ResponseFormat.Json;
        }
        foreach (var entry in accept.Split(','))
        {
            var parts = entry.Split(';');
            var type = parts[0].Trim();
            string? asParam = null;
            string? gParam = null;
            foreach (var p in parts.AsSpan(1))
            {
                var kv = p.Split('=', 2);
                if (kv.Length != 2)
                {
                    continue;
                }
                var key = kv[0].Trim();
                var value = kv[1].Trim();
                if (key == "as")
                {
                    asParam = value;
                }
                else if (key == "g")
                {
                    gParam = value;
                }
            }
            if (asParam is not null)
            {
                if (tableAllowed && asParam == "Table" && gParam == "meta.k8s.io" && type is Json or "application/*" or "*/*")
                {
                    return ResponseFormat.Table;
                }
                // Other "as" conversions (PartialObjectMetadata, discovery) are not offered here; try the next entry.
                continue;
            }
            switch (type)
            {
                case Json or "application/*" or "*/*" or "application/json;stream=watch":
                    return ResponseFormat.Json;
                case Yaml:
                    return ResponseFormat.Yaml;
                case Protobuf:
                    // We answer in JSON; clients that send protobuf Accept also accept JSON (kubectl does).
                    continue;
                default:
                    continue;
            }
        }
        return ResponseFormat.Json;
    }

    /// <summary>The bare media type of a Content-Type header (parameters dropped), lower-case.</summary>
    public static string BareType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return "";
        }
        var semi = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semi < 0 ? contentType : contentType[..semi]).Trim().ToLowerInvariant();
    }

    public static bool WantsAggregatedDiscovery(string? accept) =>
        accept is not null && accept.Contains("as=APIGroupDiscoveryList", StringComparison.Ordinal) && accept.Contains("v=v2", StringComparison.Ordinal)
        && FirstDiscoveryEntryIsV2(accept);

    private static bool FirstDiscoveryEntryIsV2(string accept)
    {
        foreach (var entry in accept.Split(','))
        {
            if (entry.Contains("g=apidiscovery.k8s.io", StringComparison.Ordinal))
            {
                return entry.Contains("v=v2;", StringComparison.Ordinal) || entry.TrimEnd().EndsWith("v=v2", StringComparison.Ordinal) || entry.Contains("v=v2,", StringComparison.Ordinal);
            }
            if (entry.Trim().StartsWith(Json, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return false;
    }
}
