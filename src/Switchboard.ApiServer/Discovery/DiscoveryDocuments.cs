using System.Text.Json;
using Switchboard.Api.Resources;

namespace Switchboard.ApiServer.Discovery;

/// <summary>
/// Discovery answers, built once from the catalogue: aggregated discovery v2 (KEP-3352, what kubectl asks for
/// first, so a cold cache costs two requests) and the legacy APIVersions / APIGroupList / APIResourceList.
/// </summary>
internal sealed class DiscoveryDocuments
{
    private readonly ResourceCatalog _catalog;
    private readonly Dictionary<string, byte[]> _resourceLists = new(StringComparer.Ordinal);

    public DiscoveryDocuments(ResourceCatalog catalog)
    {
        _catalog = catalog;
        AggregatedCore = Write(w => WriteAggregated(w, core: true));
        AggregatedGroups = Write(w => WriteAggregated(w, core: false));
        LegacyCore = Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "APIVersions");
            w.WriteStartArray("versions");
            w.WriteStringValue("v1");
            w.WriteEndArray();
            w.WriteStartArray("serverAddressByClientCIDRs");
            w.WriteStartObject();
            w.WriteString("clientCIDR", "0.0.0.0/0");
            w.WriteString("serverAddress", "127.0.0.1:6443");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
        LegacyGroups = Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "APIGroupList");
            w.WriteString("apiVersion", "v1");
            w.WriteStartArray("groups");
            foreach (var g in catalog.Groups.Where(g => g.Length > 0))
            {
                WriteLegacyGroup(w, g);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        foreach (var (group, version) in catalog.All.Select(r => (r.Group, r.Version)).Distinct())
        {
            var path = group.Length == 0 ? "/api/" + version : "/apis/" + group + "/" + version;
            _resourceLists[path] = Write(w => WriteResourceList(w, group, version));
            if (group.Length > 0)
            {
                _resourceLists["/apis/" + group] = Write(w => WriteLegacyGroup(w, group, asDocument: true));
            }
        }
    }

    public byte[] AggregatedCore { get; }

    public byte[] AggregatedGroups { get; }

    public byte[] LegacyCore { get; }

    public byte[] LegacyGroups { get; }

    /// <summary>/api/v1, /apis/{g}, /apis/{g}/{v}.</summary>
    public bool TryGetLegacy(string path, out byte[] document) => _resourceLists.TryGetValue(path.TrimEnd('/'), out document!);

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }
        return buffer.ToArray();
    }

    private void WriteLegacyGroup(Utf8JsonWriter w, string group, bool asDocument = false)
    {
        w.WriteStartObject();
        if (asDocument)
        {
            w.WriteString("kind", "APIGroup");
            w.WriteString("apiVersion", "v1");
        }
        w.WriteString("name", group);
        var versions = _catalog.All.Where(r => r.Group == group).Select(r => r.Version).Distinct().ToList();
        w.WriteStartArray("versions");
        foreach (var v in versions)
        {
            w.WriteStartObject();
            w.WriteString("groupVersion", group + "/" + v);
            w.WriteString("version", v);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("preferredVersion");
        w.WriteString("groupVersion", group + "/" + versions[0]);
        w.WriteString("version", versions[0]);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteResourceList(Utf8JsonWriter w, string group, string version)
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIResourceList");
        w.WriteString("apiVersion", "v1");
        w.WriteString("groupVersion", group.Length == 0 ? version : group + "/" + version);
        w.WriteStartArray("resources");
        foreach (var r in _catalog.InGroupVersion(group, version))
        {
            w.WriteStartObject();
            w.WriteString("name", r.Plural);
            w.WriteString("singularName", r.Singular);
            w.WriteBoolean("namespaced", r.Namespaced);
            w.WriteString("kind", r.Kind);
            WriteStrings(w, "verbs", ResourceVerbs(r));
            if (r.ShortNames.Length > 0)
            {
                WriteStrings(w, "shortNames", r.ShortNames);
            }
            if (r.Categories.Length > 0)
            {
                WriteStrings(w, "categories", r.Categories);
            }
            w.WriteEndObject();
            foreach (var sub in r.Subresources)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Plural + "/" + sub);
                w.WriteString("singularName", "");
                w.WriteBoolean("namespaced", r.Namespaced);
                var (kind, g, v) = SubresourceKind(r, sub);
                if (g != r.Group)
                {
                    w.WriteString("group", g);
                    w.WriteString("version", v);
                }
                w.WriteString("kind", kind);
                WriteStrings(w, "verbs", SubresourceVerbs(sub));
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteAggregated(Utf8JsonWriter w, bool core)
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIGroupDiscoveryList");
        w.WriteString("apiVersion", "apidiscovery.k8s.io/v2");
        w.WriteStartObject("metadata");
        w.WriteEndObject();
        w.WriteStartArray("items");
        foreach (var group in _catalog.Groups.Where(g => (g.Length == 0) == core))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            if (group.Length > 0)
            {
                w.WriteString("name", group);
            }
            w.WriteEndObject();
            w.WriteStartArray("versions");
            foreach (var version in _catalog.All.Where(r => r.Group == group).Select(r => r.Version).Distinct())
            {
                w.WriteStartObject();
                w.WriteString("version", version);
                w.WriteStartArray("resources");
                foreach (var r in _catalog.InGroupVersion(group, version))
                {
                    w.WriteStartObject();
                    w.WriteString("resource", r.Plural);
                    WriteKind(w, "responseKind", r.Group, r.Version, r.Kind);
                    w.WriteString("scope", r.Namespaced ? "Namespaced" : "Cluster");
                    w.WriteString("singularResource", r.Singular);
                    WriteStrings(w, "verbs", ResourceVerbs(r));
                    if (r.ShortNames.Length > 0)
                    {
                        WriteStrings(w, "shortNames", r.ShortNames);
                    }
                    if (r.Categories.Length > 0)
                    {
                        WriteStrings(w, "categories", r.Categories);
                    }
                    if (r.Subresources.Length > 0)
                    {
                        w.WriteStartArray("subresources");
                        foreach (var sub in r.Subresources)
                        {
                            w.WriteStartObject();
                            w.WriteString("subresource", sub);
                            var (kind, g, v) = SubresourceKind(r, sub);
                            WriteKind(w, "responseKind", g, v, kind);
                            WriteStrings(w, "verbs", SubresourceVerbs(sub));
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("freshness", "Current");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static (string Kind, string Group, string Version) SubresourceKind(ResourceInfo r, string sub) => sub switch
    {
        "scale" => ("Scale", "autoscaling", "v1"),
        "token" => ("TokenRequest", "authentication.k8s.io", "v1"),
        "binding" => ("Binding", "", "v1"),
        "exec" => ("PodExecOptions", r.Group, r.Version),
        "attach" => ("PodAttachOptions", r.Group, r.Version),
        "portforward" => ("PodPortForwardOptions", r.Group, r.Version),
        _ => (r.Kind, r.Group, r.Version),
    };

    private static string[] ResourceVerbs(ResourceInfo r) => ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    private static string[] SubresourceVerbs(string sub) => sub switch
    {
        "token" or "binding" => ["create"],
        "finalize" => ["update"],
        "exec" or "attach" or "portforward" => ["create", "get"],
        "log" => ["get"],
        _ => ["get", "patch", "update"],
    };

    private static void WriteKind(Utf8JsonWriter w, string name, string group, string version, string kind)
    {
        w.WriteStartObject(name);
        w.WriteString("group", group);
        w.WriteString("version", version);
        w.WriteString("kind", kind);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }
}
