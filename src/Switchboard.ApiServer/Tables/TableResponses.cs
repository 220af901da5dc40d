using System.Buffers;
using System.Text.Json;
using Switchboard.Api.Resources;
using Switchboard.Api.Tables;

namespace Switchboard.ApiServer.Tables;

/// <summary>Builds meta.k8s.io/v1 Table responses (kubectl get) from stored objects with upstream's printers.</summary>
internal static class TableResponses
{
    public static byte[] List(ResourceInfo info, IReadOnlyList<ReadOnlyMemory<byte>> items, string? resourceVersion, string? continueToken, long? remaining, DateTimeOffset now, string includeObject)
    {
        var printer = TablePrinters.Get(info.Group, info.Plural);
        var docs = new List<JsonDocument>(items.Count);
        try
        {
            foreach (var item in items)
            {
                docs.Add(JsonDocument.Parse(item));
            }
            var buffer = new ArrayBufferWriter<byte>(1024 + (items.Count * 256));
            using (var w = new Utf8JsonWriter(buffer))
            {
                TableWriter.WriteTable(w, printer, docs.Select(d => d.RootElement), resourceVersion, continueToken, remaining, now, Include(includeObject));
            }
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            foreach (var d in docs)
            {
                d.Dispose();
            }
        }
    }

    /// <summary>The one-row Table of a watch event (column definitions only in the first event, as upstream).</summary>
    public static byte[] WatchEvent(ResourceInfo info, ReadOnlyMemory<byte> item, bool includeColumns, DateTimeOffset now)
    {
        var printer = TablePrinters.Get(info.Group, info.Plural);
        using var doc = JsonDocument.Parse(item);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            TableWriter.WriteWatchEventTable(w, printer, doc.RootElement, includeColumns, now);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static TableIncludeObject Include(string includeObject) => includeObject switch
    {
        "None" => TableIncludeObject.None,
        "Object" => TableIncludeObject.Object,
        _ => TableIncludeObject.Metadata,
    };
}
