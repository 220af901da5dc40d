using System.Text.Json;

namespace Switchboard.Api.Tables;

/// <summary>
/// Writes meta.k8s.io/v1 Table responses (<c>Accept: application/json;as=Table;g=meta.k8s.io;v=v1</c>)
/// in upstream's shape: metadata, columnDefinitions, then one row per object with its cells and, by
/// default, a PartialObjectMetadata of the object.
/// </summary>
public static class TableWriter
{
    /// <summary>Writes a Table for a list response.</summary>
    /// <param name="resourceVersion">The list's resourceVersion (omitted when empty).</param>
    /// <param name="continueToken">The list's continue token (omitted when null or empty).</param>
    /// <param name="remainingItemCount">The list's remainingItemCount (omitted when null).</param>
    public static void WriteTable(
        Utf8JsonWriter writer,
        ITablePrinter printer,
        IEnumerable<JsonElement> objects,
        string? resourceVersion,
        string? continueToken,
        long? remainingItemCount,
        DateTimeOffset now,
        TableIncludeObject includeObject = TableIncludeObject.Metadata)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(printer);
        ArgumentNullException.ThrowIfNull(objects);
        WriteStart(writer, resourceVersion, continueToken, remainingItemCount);
        WriteColumnDefinitions(writer, printer);
        writer.WriteStartArray("rows"u8);
        foreach (var obj in objects)
        {
            WriteRow(writer, printer, obj, now, includeObject);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>
    /// Writes the one-row Table a watch event carries. kube-apiserver sends column definitions only in the
    /// first event of a watch (watchEmbeddedEncoder sets NoHeaders after it); later events carry
    /// <c>"columnDefinitions": null</c>. The Table's resourceVersion is the object's.
    /// </summary>
    public static void WriteWatchEventTable(
        Utf8JsonWriter writer,
        ITablePrinter printer,
        JsonElement obj,
        bool includeColumnDefinitions,
        DateTimeOffset now,
        TableIncludeObject includeObject = TableIncludeObject.Metadata)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(printer);
        var rv = Cells.Get(obj, "metadata"u8, "resourceVersion"u8);
        WriteStart(writer, rv.ValueKind == JsonValueKind.String ? rv.GetString() : null, null, null);
        if (includeColumnDefinitions)
        {
            WriteColumnDefinitions(writer, printer);
        }
        else
        {
            writer.WriteNull("columnDefinitions"u8);
        }
        writer.WriteStartArray("rows"u8);
        WriteRow(writer, printer, obj, now, includeObject);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Writes one TableRow object: cells, conditions when the printer has any, object.</summary>
    public static void WriteRow(Utf8JsonWriter writer, ITablePrinter printer, JsonElement obj, DateTimeOffset now, TableIncludeObject includeObject = TableIncludeObject.Metadata)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(printer);
        writer.WriteStartObject();
        writer.WriteStartArray("cells"u8);
        printer.WriteCells(writer, obj, now);
        writer.WriteEndArray();
        if (printer is ITableRowConditions conditions)
        {
            conditions.WriteConditions(writer, obj);
        }
        writer.WritePropertyName("object"u8);
        switch (includeObject)
        {
            case TableIncludeObject.Object:
                obj.WriteTo(writer);
                break;
            case TableIncludeObject.None:
                // An empty RawExtension marshals as null.
                writer.WriteNullValue();
                break;
            default:
                writer.WriteStartObject();
                writer.WriteString("kind"u8, "PartialObjectMetadata"u8);
                writer.WriteString("apiVersion"u8, "meta.k8s.io/v1"u8);
                writer.WritePropertyName("metadata"u8);
                var metadata = Cells.Get(obj, "metadata"u8);
                if (metadata.ValueKind == JsonValueKind.Object)
                {
                    metadata.WriteTo(writer);
                }
                else
                {
                    writer.WriteStartObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
                break;
        }
        writer.WriteEndObject();
    }

    /// <summary>Writes the "columnDefinitions" property.</summary>
    public static void WriteColumnDefinitions(Utf8JsonWriter writer, ITablePrinter printer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(printer);
        writer.WriteStartArray("columnDefinitions"u8);
        foreach (var column in printer.Columns)
        {
            // Every field is written, empty or not: upstream's struct has no omitempty tags.
            writer.WriteStartObject();
            writer.WriteString("name"u8, column.Name);
            writer.WriteString("type"u8, column.Type);
            writer.WriteString("format"u8, column.Format);
            writer.WriteString("description"u8, column.Description);
            writer.WriteNumber("priority"u8, column.Priority);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteStart(Utf8JsonWriter writer, string? resourceVersion, string? continueToken, long? remainingItemCount)
    {
        writer.WriteStartObject();
        writer.WriteString("kind"u8, "Table"u8);
        writer.WriteString("apiVersion"u8, "meta.k8s.io/v1"u8);
        writer.WriteStartObject("metadata"u8);
        if (!string.IsNullOrEmpty(resourceVersion))
        {
            writer.WriteString("resourceVersion"u8, resourceVersion);
        }
        if (!string.IsNullOrEmpty(continueToken))
        {
            writer.WriteString("continue"u8, continueToken);
        }
        if (remainingItemCount is { } remaining)
        {
            writer.WriteNumber("remainingItemCount"u8, remaining);
        }
        writer.WriteEndObject();
    }
}
