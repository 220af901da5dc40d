using System.Buffers;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.Json;
using Switchboard.Api.Resources;

namespace Switchboard.Api.Schema;

/// <summary>
/// The bytes served under <c>/openapi/v3</c>: the index and one OpenAPI 3.0 document per group-version, built once
/// on first use and immutable afterwards. kubectl needs these for default <c>--validate=strict</c> (it looks for the
/// <c>fieldValidation</c> parameter on the operation carrying the kind's <c>x-kubernetes-group-version-kind</c> and
/// then leaves validation to the server) and for <c>kubectl explain</c> (component schemas with descriptions).
/// </summary>
public sealed partial class OpenApiDocuments
{
    private readonly ResourceCatalog _resources;
    private readonly SchemaCatalog _schemas;
    private readonly Lazy<Built> _built;

    /// <summary>Documents for every resource the schema catalogue was built from.</summary>
    public OpenApiDocuments(SchemaCatalog schemas)
        : this((schemas ?? throw new ArgumentNullException(nameof(schemas))).Resources, schemas)
    {
    }

    /// <summary>Documents for <paramref name="resources"/>; kinds <paramref name="schemas"/> does not know are left out.</summary>
    public OpenApiDocuments(ResourceCatalog resources, SchemaCatalog schemas)
    {
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentNullException.ThrowIfNull(schemas);
        _resources = resources;
        _schemas = schemas;
        _built = new Lazy<Built>(Build, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary><c>GET /openapi/v3</c>: <c>{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=…"},…}}</c>.</summary>
    public ReadOnlyMemory<byte> Index => _built.Value.Index;

    /// <summary>Group-version paths with a document, in discovery order ("api/v1", "apis/apps/v1", ...).</summary>
    public ImmutableArray<string> GroupVersionPaths => _built.Value.Paths;

    /// <summary>
    /// The document for <c>GET /openapi/v3/{groupVersionPath}</c> and its hash (upper-case hex SHA-512 of the bytes,
    /// stable across restarts while the served API is unchanged; clients cache by it).
    /// </summary>
    public bool TryGet(string groupVersionPath, out ReadOnlyMemory<byte> doc, out string hash)
    {
        ArgumentNullException.ThrowIfNull(groupVersionPath);
        if (_built.Value.Documents.TryGetValue(groupVersionPath.Trim('/'), out var entry))
        {
            doc = entry.Bytes;
            hash = entry.Hash;
            return true;
        }
        doc = default;
        hash = "";
        return false;
    }

    private sealed record Built(
        ReadOnlyMemory<byte> Index,
        ImmutableArray<string> Paths,
        FrozenDictionary<string, (ReadOnlyMemory<byte> Bytes, string Hash)> Documents);

    private Built Build()
    {
        var resources = _resources;
        var documents = new Dictionary<string, (ReadOnlyMemory<byte>, string)>(StringComparer.Ordinal);
        var paths = ImmutableArray.CreateBuilder<string>();
        foreach (var (group, version) in resources.All.Select(r => (r.Group, r.Version)).Distinct())
        {
            var path = group.Length == 0 ? "api/" + version : "apis/" + group + "/" + version;
            var bytes = BuildDocument(group, version, [.. resources.InGroupVersion(group, version)]);
            documents[path] = (bytes, Convert.ToHexString(SHA512.HashData(bytes)));
            paths.Add(path);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("paths"u8);
            foreach (var path in paths)
            {
                writer.WriteStartObject(path);
                writer.WriteString("serverRelativeURL"u8, "/openapi/v3/" + path + "?hash=" + documents[path].Item2);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return new Built(buffer.WrittenSpan.ToArray(), paths.ToImmutable(), documents.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private byte[] BuildDocument(string group, string version, ImmutableArray<ResourceInfo> resources)
    {
        var buffer = new ArrayBufferWriter<byte>(256 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            // Keys in sorted order like upstream's documents: components, info, openapi, paths.
            writer.WriteStartObject();
            writer.WriteStartObject("components"u8);
            writer.WriteStartObject("schemas"u8);
            foreach (var name in _schemas.Closure(resources.SelectMany(SchemaCatalog.RootTypes)))
            {
                _schemas.WriteSchema(writer, name);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();

            writer.WriteStartObject("info"u8);
            writer.WriteString("title"u8, "Kubernetes"u8);
            writer.WriteString("version"u8, "unversioned"u8);
            writer.WriteEndObject();
            writer.WriteString("openapi"u8, "3.0.0"u8);

            writer.WriteStartObject("paths"u8);
            foreach (var item in PathItems(group, version, resources).OrderBy(p => p.Path, StringComparer.Ordinal))
            {
                WritePathItem(writer, item);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
