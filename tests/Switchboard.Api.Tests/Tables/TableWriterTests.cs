using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Api.Tables;

namespace Switchboard.Api.Tests.Tables;

public class TableWriterTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private const string Service = """
        {"kind":"Service","apiVersion":"v1",
         "metadata":{"name":"web","namespace":"default","uid":"u1","resourceVersion":"42","creationTimestamp":"2025-06-01T11:00:00Z","labels":{"app":"web"}},
         "spec":{"type":"ClusterIP","clusterIPs":["10.96.0.1"],"ports":[{"port":80,"protocol":"TCP"}],"selector":{"app":"web"}}}
        """;

    private static JsonNode Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }
        return JsonNode.Parse(buffer.WrittenSpan)!;
    }

    [Fact]
    public void WriteTable_List_HasUpstreamShape()
    {
        using var doc = JsonDocument.Parse(Service);
        var printer = TablePrinters.Get("", "services");
        var table = Render(w => TableWriter.WriteTable(w, printer, [doc.RootElement], "100", "token", 5, Now));

        Assert.Equal("Table", (string?)table["kind"]);
        Assert.Equal("meta.k8s.io/v1", (string?)table["apiVersion"]);
        Assert.Equal("""{"resourceVersion":"100","continue":"token","remainingItemCount":5}""", table["metadata"]!.ToJsonString());

        var columns = table["columnDefinitions"]!.AsArray();
        Assert.Equal(7, columns.Count);
        Assert.Equal("""{"name":"Name","type":"string","format":"name","description":""" + JsonSerializer.Serialize(printer.Columns[0].Description) + ""","priority":0}""", columns[0]!.ToJsonString());
        Assert.Equal(1, (int)columns[6]!["priority"]!);
        Assert.Equal("", (string?)columns[1]!["format"]);

        var row = table["rows"]![0]!;
        Assert.Equal("""["web","ClusterIP","10.96.0.1","\u003Cnone\u003E","80/TCP","60m","app=web"]""", row["cells"]!.ToJsonString());
        Assert.Null(row["conditions"]);
        Assert.Equal("PartialObjectMetadata", (string?)row["object"]!["kind"]);
        Assert.Equal("meta.k8s.io/v1", (string?)row["object"]!["apiVersion"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Service)!["metadata"], row["object"]!["metadata"]));
        Assert.Null(row["object"]!["spec"]);
    }

    [Fact]
    public void WriteTable_OmitsEmptyListMetaFieldsAndWritesEmptyRows()
    {
        var table = Render(w => TableWriter.WriteTable(w, TablePrinters.Get("", "configmaps"), [], "", null, null, Now));
        Assert.Equal("{}", table["metadata"]!.ToJsonString());
        Assert.Equal("[]", table["rows"]!.ToJsonString());
        Assert.Equal(3, table["columnDefinitions"]!.AsArray().Count);
    }

    [Fact]
    public void WriteTable_IncludeObject_NoneAndObject()
    {
        using var doc = JsonDocument.Parse(Service);
        var printer = TablePrinters.Get("", "services");
        var none = Render(w => TableWriter.WriteTable(w, printer, [doc.RootElement], "1", null, null, Now, TableIncludeObject.None));
        Assert.Equal("null", none["rows"]![0]!["object"]?.ToJsonString() ?? "null");
        Assert.True(none["rows"]![0]!.AsObject().ContainsKey("object"));
        var full = Render(w => TableWriter.WriteTable(w, printer, [doc.RootElement], "1", null, null, Now, TableIncludeObject.Object));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Service), full["rows"]![0]!["object"]));
    }

    [Fact]
    public void WriteTable_CompletedPod_CarriesRowCondition()
    {
        using var doc = JsonDocument.Parse("""{"metadata":{"name":"job-x"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Succeeded"}}""");
        var table = Render(w => TableWriter.WriteTable(w, TablePrinters.Get("", "pods"), [doc.RootElement], "1", null, null, Now));
        Assert.Equal("""[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}]""", table["rows"]![0]!["conditions"]!.ToJsonString());
    }

    [Fact]
    public void WriteWatchEventTable_ColumnsOnlyWhenAsked()
    {
        using var doc = JsonDocument.Parse(Service);
        var printer = TablePrinters.Get("", "services");
        var first = Render(w => TableWriter.WriteWatchEventTable(w, printer, doc.RootElement, includeColumnDefinitions: true, Now));
        var later = Render(w => TableWriter.WriteWatchEventTable(w, printer, doc.RootElement, includeColumnDefinitions: false, Now));
        Assert.Equal(7, first["columnDefinitions"]!.AsArray().Count);
        Assert.True(later.AsObject().ContainsKey("columnDefinitions"));
        Assert.Null(later["columnDefinitions"]);
        Assert.Equal("""{"resourceVersion":"42"}""", later["metadata"]!.ToJsonString());
        Assert.Single(later["rows"]!.AsArray());
    }

    [Fact]
    public void WriteTable_TenThousandServices_IsFastAndLean()
    {
        const string template = """{"metadata":{"name":"svc-#","namespace":"ns-#","resourceVersion":"#","creationTimestamp":"2025-05-01T00:00:00Z","labels":{"app":"a#"}},"spec":{"type":"LoadBalancer","clusterIPs":["10.0.0.1"],"ports":[{"port":80,"protocol":"TCP","nodePort":30080},{"port":443,"protocol":"TCP","nodePort":30443}],"selector":{"app":"a#","tier":"web"}},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}}""";
        var items = string.Join(",", Enumerable.Range(0, 10_000).Select(i => template.Replace("#", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        using var doc = JsonDocument.Parse("[" + items + "]");
        var objects = doc.RootElement.EnumerateArray().ToArray();
        var printer = TablePrinters.Get("", "services");
        var buffer = new ArrayBufferWriter<byte>(16 << 20);
        void Write()
        {
            buffer.ResetWrittenCount();
            using var writer = new Utf8JsonWriter(buffer);
            TableWriter.WriteTable(writer, printer, objects, "10000", null, null, Now);
        }

        Write();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        Write();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        using var table = JsonDocument.Parse(buffer.WrittenMemory);
        Assert.Equal(10_000, table.RootElement.GetProperty("rows").GetArrayLength());
        Assert.Equal("80:30080/TCP,443:30443/TCP", table.RootElement.GetProperty("rows")[9999].GetProperty("cells")[4].GetString());
        // Guards against per-cell allocations creeping in; speed is for benchmarks.
        Assert.True(allocated < 100_000, $"allocated {allocated} bytes");
    }
}
