using System.Text.Json;

namespace Switchboard.Api.Tables;

/// <summary>
/// Server-side Table rendering of one resource, as kube-apiserver's printers produce it
/// (pkg/printers/internalversion/printers.go, always in wide mode).
/// </summary>
public interface ITablePrinter
{
    /// <summary>The column definitions, in cell order.</summary>
    IReadOnlyList<TableColumn> Columns { get; }

    /// <summary>
    /// Writes one row's cells for a stored object: exactly one JSON value per column, in column order,
    /// without the enclosing array. <paramref name="now"/> is the reference time for ages.
    /// </summary>
    void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now);
}

/// <summary>Printers whose rows can carry metav1.TableRowCondition entries (pods mark completed rows).</summary>
internal interface ITableRowConditions
{
    /// <summary>Writes the "conditions" property when the row has any.</summary>
    void WriteConditions(Utf8JsonWriter writer, JsonElement obj);
}

/// <summary>The <c>includeObject</c> table option: what each row's "object" carries.</summary>
public enum TableIncludeObject
{
    /// <summary>A meta.k8s.io/v1 PartialObjectMetadata with the object's metadata (upstream's default).</summary>
    Metadata,

    /// <summary>No object ("object": null).</summary>
    None,

    /// <summary>The whole object.</summary>
    Object,
}
