using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using static Switchboard.Api.Tables.Cells;

namespace Switchboard.Api.Tables;

// Core/v1 printers, transcribed from kube-apiserver v1.33 pkg/printers/internalversion/printers.go
// (server side always prints wide). Where upstream reads a field that API defaulting always sets, an
// absent field reads as its default here (a Service's type ClusterIP, a port's protocol TCP, a Secret's
// type Opaque), since stored objects may not have been defaulted.

internal sealed class NamespacePrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Status", "The status of the namespace"),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        WriteString(writer, Get(obj, "status"u8, "phase"u8));
        WriteAge(writer, obj, now);
    }
}

internal sealed class ConfigMapPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Data", ColumnDescriptions.ConfigMapData),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        writer.WriteNumberValue(Count(Get(obj, "data"u8)) + Count(Get(obj, "binaryData"u8)));
        WriteAge(writer, obj, now);
    }
}

internal sealed class SecretPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Type", ColumnDescriptions.SecretType),
    TableColumn.String("Data", ColumnDescriptions.SecretData),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        WriteString(writer, Get(obj, "type"u8), "Opaque");
        writer.WriteNumberValue(Count(Get(obj, "data"u8)));
        WriteAge(writer, obj, now);
    }
}

internal sealed class ServiceAccountPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Secrets", ColumnDescriptions.ServiceAccountSecrets),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        writer.WriteNumberValue(Count(Get(obj, "secrets"u8)));
        WriteAge(writer, obj, now);
    }
}

internal sealed class NodePrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Status", "The status of the node"),
    TableColumn.String("Roles", "The roles of the node"),
    TableColumn.AgeColumn,
    TableColumn.String("Version", ColumnDescriptions.NodeKubeletVersion),
    TableColumn.String("Internal-IP", ColumnDescriptions.NodeAddresses, 1),
    TableColumn.String("External-IP", ColumnDescriptions.NodeAddresses, 1),
    TableColumn.String("OS-Image", ColumnDescriptions.NodeOsImage, 1),
    TableColumn.String("Kernel-Version", ColumnDescriptions.NodeKernelVersion, 1),
    TableColumn.String("Container-Runtime", ColumnDescriptions.NodeContainerRuntimeVersion, 1))
{
    private const string RolePrefix = "node-role.kubernetes.io/";

    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);

        // Only the Ready condition counts; the last entry of a type wins, as in upstream's map.
        JsonElement ready = default;
        foreach (var c in Items(Get(obj, "status"u8, "conditions"u8)))
        {
            if (Is(Get(c, "type"u8), "Ready"u8))
            {
                ready = c;
            }
        }
        Span<byte> initial = stackalloc byte[64];
        var status = new CellBuilder(initial);
        status.Append(ready.ValueKind == JsonValueKind.Undefined ? "Unknown"u8
            : Is(Get(ready, "status"u8), "True"u8) ? "Ready"u8 : "NotReady"u8);
        if (IsTrue(Get(obj, "spec"u8, "unschedulable"u8)))
        {
            status.Append(",SchedulingDisabled"u8);
        }
        status.WriteTo(writer);
        status.Dispose();

        // node-role.kubernetes.io/<role> labels and the legacy kubernetes.io/role=<role>, sorted and unique.
        var roles = new SortedSet<string>(StringComparer.Ordinal);
        var labels = Get(obj, "metadata"u8, "labels"u8);
        if (labels.ValueKind == JsonValueKind.Object)
        {
            foreach (var label in labels.EnumerateObject())
            {
                if (label.Name.StartsWith(RolePrefix, StringComparison.Ordinal) && label.Name.Length > RolePrefix.Length)
                {
                    roles.Add(label.Name[RolePrefix.Length..]);
                }
                else if (label.NameEquals("kubernetes.io/role"u8) && HasText(label.Value))
                {
                    roles.Add(label.Value.GetString()!);
                }
            }
        }
        writer.WriteStringValue(roles.Count == 0 ? None : string.Join(",", roles));

        WriteAge(writer, obj, now);
        var info = Get(obj, "status"u8, "nodeInfo"u8);
        WriteString(writer, Get(info, "kubeletVersion"u8));
        WriteAddress(writer, obj, "InternalIP"u8);
        WriteAddress(writer, obj, "ExternalIP"u8);
        WriteText(writer, Get(info, "osImage"u8), Unknown);
        WriteText(writer, Get(info, "kernelVersion"u8), Unknown);
        WriteText(writer, Get(info, "containerRuntimeVersion"u8), Unknown);
    }

    private static void WriteAddress(Utf8JsonWriter writer, JsonElement obj, ReadOnlySpan<byte> type)
    {
        foreach (var a in Items(Get(obj, "status"u8, "addresses"u8)))
        {
            if (Is(Get(a, "type"u8), type))
            {
                WriteString(writer, Get(a, "address"u8));
                return;
            }
        }
        writer.WriteStringValue(None);
    }

    internal static JsonElement.ArrayEnumerator Items(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array ? array.EnumerateArray() : default;
}

internal sealed class ServicePrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Type", ColumnDescriptions.ServiceType),
    TableColumn.String("Cluster-IP", ColumnDescriptions.ServiceClusterIP),
    TableColumn.String("External-IP", ColumnDescriptions.ServiceExternalIPs),
    TableColumn.String("Port(s)", ColumnDescriptions.ServicePorts),
    TableColumn.AgeColumn,
    TableColumn.String("Selector", ColumnDescriptions.ServiceSelector, 1))
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        WriteName(writer, obj);
        var type = Get(spec, "type"u8);
        WriteText(writer, type, "ClusterIP");

        // spec.clusterIPs[0]; spec.clusterIP for objects written before clusterIPs existed.
        var clusterIPs = Get(spec, "clusterIPs"u8);
        var clusterIP = clusterIPs.ValueKind == JsonValueKind.Array && clusterIPs.GetArrayLength() > 0 ? clusterIPs[0] : Get(spec, "clusterIP"u8);
        WriteText(writer, clusterIP, None);

        WriteExternalIP(writer, obj, spec, type);

        Span<byte> initial = stackalloc byte[128];
        var ports = new CellBuilder(initial);
        foreach (var port in NodePrinter.Items(Get(spec, "ports"u8)))
        {
            if (ports.Length > 0)
            {
                ports.Append((byte)',');
            }
            ports.Append(Int(Get(port, "port"u8)));
            var nodePort = Int(Get(port, "nodePort"u8));
            if (nodePort > 0)
            {
                ports.Append((byte)':');
                ports.Append(nodePort);
            }
            ports.Append((byte)'/');
            var protocol = Get(port, "protocol"u8);
            if (HasText(protocol))
            {
                ports.Append(protocol);
            }
            else
            {
                ports.Append("TCP"u8);
            }
        }
        if (ports.Length == 0)
        {
            writer.WriteStringValue(None);
        }
        else
        {
            ports.WriteTo(writer);
        }
        ports.Dispose();

        WriteAge(writer, obj, now);
        WriteLabelSet(writer, Get(spec, "selector"u8));
    }

    // getServiceExternalIP(svc, wide=true).
    private static void WriteExternalIP(Utf8JsonWriter writer, JsonElement obj, JsonElement spec, JsonElement type)
    {
        var externalIPs = Get(spec, "externalIPs"u8);
        var hasExternalIPs = Count(externalIPs) > 0;
        Span<byte> initial = stackalloc byte[128];
        var b = new CellBuilder(initial);
        try
        {
            if (!HasText(type) || Is(type, "ClusterIP"u8) || Is(type, "NodePort"u8))
            {
                if (!hasExternalIPs)
                {
                    writer.WriteStringValue(None);
                    return;
                }
                AppendJoined(ref b, externalIPs);
                b.WriteTo(writer);
            }
            else if (Is(type, "LoadBalancer"u8))
            {
                AppendIngressPoints(ref b, Get(obj, "status"u8, "loadBalancer"u8, "ingress"u8));
                if (hasExternalIPs)
                {
                    if (b.Length > 0)
                    {
                        b.Append((byte)',');
                    }
                    AppendJoined(ref b, externalIPs);
                }
                if (b.Length == 0)
                {
                    writer.WriteStringValue("<pending>");
                    return;
                }
                b.WriteTo(writer);
            }
            else if (Is(type, "ExternalName"u8))
            {
                WriteString(writer, Get(spec, "externalName"u8));
            }
            else
            {
                writer.WriteStringValue(Unknown);
            }
        }
        finally
        {
            b.Dispose();
        }
    }

    /// <summary>
    /// loadBalancerStatusStringer: the unique IP (else hostname) of each load-balancer ingress point, sorted (upstream
    /// collects them in a sets.String) and joined by ",". Server-side tables are always wide, so nothing is cut.
    /// </summary>
    internal static void AppendIngressPoints(ref CellBuilder b, JsonElement ingress)
    {
        var count = Count(ingress);
        if (count == 0)
        {
            return;
        }
        var values = ArrayPool<JsonElement>.Shared.Rent(count);
        try
        {
            var n = 0;
            foreach (var point in NodePrinter.Items(ingress))
            {
                var value = Get(point, "ip"u8);
                if (!HasText(value))
                {
                    value = Get(point, "hostname"u8);
                }
                if (HasText(value))
                {
                    values[n++] = value;
                }
            }
            if (n > 1)
            {
                Array.Sort(values, 0, n, RawUtf8Order.Instance);
            }
            var start = b.Length;
            for (var i = 0; i < n; i++)
            {
                if (Contains(b, start, values[i]))
                {
                    continue;
                }
                if (b.Length > start)
                {
                    b.Append((byte)',');
                }
                b.Append(values[i]);
            }
        }
        finally
        {
            ArrayPool<JsonElement>.Shared.Return(values, clearArray: true);
        }
    }

    /// <summary>Go's string order (bytes) over JSON string values.</summary>
    private sealed class RawUtf8Order : IComparer<JsonElement>
    {
        public static readonly RawUtf8Order Instance = new();

        public int Compare(JsonElement x, JsonElement y) =>
            JsonMarshal.GetRawUtf8Value(x).SequenceCompareTo(JsonMarshal.GetRawUtf8Value(y));
    }

    /// <summary>labels.FormatLabels: "k=v" pairs sorted by key, joined by ","; "&lt;none&gt;" when empty.</summary>
    internal static void WriteLabelSet(Utf8JsonWriter writer, JsonElement map)
    {
        var count = Count(map);
        if (map.ValueKind != JsonValueKind.Object || count == 0)
        {
            writer.WriteStringValue(None);
            return;
        }
        var pairs = ArrayPool<JsonProperty>.Shared.Rent(count);
        var n = 0;
        foreach (var p in map.EnumerateObject())
        {
            pairs[n++] = p;
        }
        // Go sorts keys bytewise; the raw UTF-8 names compare the same way. Selectors are short, and an
        // insertion sort avoids the comparison delegate Array.Sort would allocate per row.
        for (var i = 1; i < n; i++)
        {
            var item = pairs[i];
            var j = i - 1;
            while (j >= 0 && JsonMarshal.GetRawUtf8PropertyName(pairs[j]).SequenceCompareTo(JsonMarshal.GetRawUtf8PropertyName(item)) > 0)
            {
                pairs[j + 1] = pairs[j];
                j--;
            }
            pairs[j + 1] = item;
        }
        Span<byte> initial = stackalloc byte[128];
        var b = new CellBuilder(initial);
        for (var i = 0; i < n; i++)
        {
            if (i > 0)
            {
                b.Append((byte)',');
            }
            var name = JsonMarshal.GetRawUtf8PropertyName(pairs[i]);
            if (name.Contains((byte)'\\'))
            {
                b.Append(pairs[i].Name);
            }
            else
            {
                b.Append(name);
            }
            b.Append((byte)'=');
            b.Append(pairs[i].Value);
        }
        b.WriteTo(writer);
        b.Dispose();
        ArrayPool<JsonProperty>.Shared.Return(pairs, clearArray: true);
    }

    private static void AppendJoined(ref CellBuilder b, JsonElement strings)
    {
        var first = true;
        foreach (var s in strings.EnumerateArray())
        {
            if (!first)
            {
                b.Append((byte)',');
            }
            b.Append(s);
            first = false;
        }
    }

    private static bool Contains(CellBuilder b, int start, JsonElement value)
    {
        var list = b.Written[start..];
        while (!list.IsEmpty)
        {
            var comma = list.IndexOf((byte)',');
            var item = comma < 0 ? list : list[..comma];
            if (value.ValueEquals(item))
            {
                return true;
            }
            list = comma < 0 ? default : list[(comma + 1)..];
        }
        return false;
    }
}

internal sealed class EndpointsPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Endpoints", ColumnDescriptions.EndpointsSubsets),
    TableColumn.AgeColumn)
{
    private const int Max = 3;

    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        WriteEndpoints(writer, Get(obj, "subsets"u8));
        WriteAge(writer, obj, now);
    }

    // formatEndpoints(endpoints, nil): "ip:port" per address and port, the first three, then "+ N more...".
    private static void WriteEndpoints(Utf8JsonWriter writer, JsonElement subsets)
    {
        if (Count(subsets) == 0)
        {
            writer.WriteStringValue(None);
            return;
        }
        Span<byte> initial = stackalloc byte[128];
        var b = new CellBuilder(initial);
        var listed = 0;
        var count = 0;
        foreach (var subset in subsets.EnumerateArray())
        {
            var addresses = Get(subset, "addresses"u8);
            var ports = Get(subset, "ports"u8);
            if (Count(ports) == 0)
            {
                // Headless services may publish addresses without ports.
                count += Count(addresses);
                foreach (var address in NodePrinter.Items(addresses))
                {
                    if (listed == Max)
                    {
                        break;
                    }
                    AppendItem(ref b, ref listed, Get(address, "ip"u8), port: null);
                }
                continue;
            }
            foreach (var port in ports.EnumerateArray())
            {
                count += Count(addresses);
                foreach (var address in NodePrinter.Items(addresses))
                {
                    if (listed == Max)
                    {
                        break;
                    }
                    AppendItem(ref b, ref listed, Get(address, "ip"u8), Int(Get(port, "port"u8)));
                }
            }
        }
        if (count > Max)
        {
            b.Append(" + "u8);
            b.Append(count - Max);
            b.Append(" more..."u8);
        }
        b.WriteTo(writer);
        b.Dispose();
    }

    // net.JoinHostPort brackets IPv6 hosts.
    private static void AppendItem(ref CellBuilder b, ref int listed, JsonElement ip, long? port)
    {
        if (listed > 0)
        {
            b.Append((byte)',');
        }
        listed++;
        if (port is null)
        {
            b.Append(ip);
            return;
        }
        var ipv6 = ip.ValueKind == JsonValueKind.String && JsonMarshal.GetRawUtf8Value(ip).Contains((byte)':');
        if (ipv6)
        {
            b.Append((byte)'[');
        }
        b.Append(ip);
        if (ipv6)
        {
            b.Append((byte)']');
        }
        b.Append((byte)':');
        b.Append(port.Value);
    }
}

internal sealed class EventPrinter() : TablePrinter(
    TableColumn.String("Last Seen", ColumnDescriptions.EventLastTimestamp),
    TableColumn.String("Type", ColumnDescriptions.EventType),
    TableColumn.String("Reason", ColumnDescriptions.EventReason),
    TableColumn.String("Object", ColumnDescriptions.EventInvolvedObject),
    TableColumn.String("Subobject", ColumnDescriptions.ObjectReferenceFieldPath, 1),
    TableColumn.String("Source", ColumnDescriptions.EventSource, 1),
    TableColumn.String("Message", ColumnDescriptions.EventMessage),
    TableColumn.String("First Seen", ColumnDescriptions.EventFirstTimestamp, 1),
    TableColumn.String("Count", ColumnDescriptions.EventCount, 1),
    new TableColumn("Name", "string", "name", ColumnDescriptions.Name, 1))
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        // First seen: firstTimestamp, else eventTime. Last seen: series.lastObservedTime, else
        // lastTimestamp, else first seen.
        var first = Get(obj, "firstTimestamp"u8);
        if (!TryParseTime(first, out _))
        {
            first = Get(obj, "eventTime"u8);
        }
        var series = Get(obj, "series"u8);
        var last = series.ValueKind == JsonValueKind.Object ? Get(series, "lastObservedTime"u8) : Get(obj, "lastTimestamp"u8);
        if (series.ValueKind != JsonValueKind.Object && !TryParseTime(last, out _))
        {
            last = first;
        }
        WriteSince(writer, last, now);
        WriteString(writer, Get(obj, "type"u8));
        WriteString(writer, Get(obj, "reason"u8));

        var involved = Get(obj, "involvedObject"u8);
        Span<byte> initial = stackalloc byte[128];
        var target = new CellBuilder(initial);
        AppendLower(ref target, Get(involved, "kind"u8));
        if (HasText(Get(involved, "name"u8)))
        {
            target.Append((byte)'/');
            target.Append(Get(involved, "name"u8));
        }
        target.WriteTo(writer);
        target.Dispose();

        WriteString(writer, Get(involved, "fieldPath"u8));

        // formatEventSource: component (else reportingComponent), then ", host" (else reportingInstance).
        var component = Get(obj, "source"u8, "component"u8);
        if (!HasText(component))
        {
            component = Get(obj, "reportingComponent"u8);
        }
        var host = Get(obj, "source"u8, "host"u8);
        if (!HasText(host))
        {
            host = Get(obj, "reportingInstance"u8);
        }
        var source = new CellBuilder(initial);
        source.Append(component);
        if (HasText(host))
        {
            source.Append(", "u8);
            source.Append(host);
        }
        source.WriteTo(writer);
        source.Dispose();

        writer.WriteStringValue(Text(Get(obj, "message"u8)).Trim());
        WriteSince(writer, first, now);
        var count = series.ValueKind == JsonValueKind.Object ? Int(Get(series, "count"u8)) : Int(Get(obj, "count"u8));
        // Singleton events of the events.k8s.io API carry no count.
        writer.WriteNumberValue(series.ValueKind != JsonValueKind.Object && count == 0 ? 1 : count);
        WriteName(writer, obj);
    }

    // strings.ToLower of the kind (ASCII in practice).
    private static void AppendLower(ref CellBuilder b, JsonElement kind)
    {
        var start = b.Length;
        b.Append(kind);
        b.ToLowerAscii(start);
    }
}
