using System.Text.Json;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Schema;

/// <summary>One catalogue, document set and validator per test class: building them walks ~250 model types.</summary>
public sealed class SchemaFixture
{
    public SchemaCatalog Catalog { get; } = new(ResourceCatalog.Default);

    public OpenApiDocuments Documents { get; }

    public FieldValidator Validator { get; }

    public SchemaFixture()
    {
        Documents = new OpenApiDocuments(Catalog);
        Validator = new FieldValidator(Catalog);
    }

    /// <summary>The parsed group-version document, e.g. "api/v1".</summary>
    public JsonDocument Document(string groupVersionPath)
    {
        Assert.True(Documents.TryGet(groupVersionPath, out var bytes, out _), groupVersionPath);
        return JsonDocument.Parse(bytes);
    }

    /// <summary>The component schema <paramref name="name"/> as upstream would serve it.</summary>
    public JsonElement Schema(string name)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            Catalog.WriteSchema(writer, name);
            writer.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.GetProperty(name).Clone();
    }
}
