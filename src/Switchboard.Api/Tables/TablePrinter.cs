using System.Text.Json;

namespace Switchboard.Api.Tables;

/// <summary>Base of the built-in printers: fixed columns, cells written by the subclass.</summary>
internal abstract class TablePrinter(params TableColumn[] columns) : ITablePrinter
{
    public IReadOnlyList<TableColumn> Columns { get; } = columns;

    public abstract void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now);
}

/// <summary>
/// Upstream's default table convertor (k8s.io/apiserver/pkg/registry/rest/table.go), used for kinds
/// without a printer: Name and "Created At" (RFC 3339 in UTC).
/// </summary>
internal sealed class DefaultPrinter() : TablePrinter(
    TableColumn.NameColumn,
    new TableColumn("Created At", "date", "", ColumnDescriptions.CreationTimestamp))
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        Cells.WriteName(writer, obj);
        var created = Cells.TryParseTime(Cells.Get(obj, "metadata"u8, "creationTimestamp"u8), out var t) ? t.UtcDateTime : default;
        Span<char> buffer = stackalloc char[32];
        // Go's time.RFC3339 of a UTC time, which prints the zero time as 0001-01-01T00:00:00Z.
        created.TryFormat(buffer, out var n, "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        writer.WriteStringValue(buffer[..n]);
    }
}
