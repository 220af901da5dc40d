using System.Text.Json;
using Switchboard.Api.Selectors;
using static Switchboard.Api.Tables.Cells;

namespace Switchboard.Api.Tables;

// apps/v1 printers (upstream printDeployment, printReplicaSet). spec.replicas reads as 1 when absent,
// the value API defaulting gives it.

internal sealed class DeploymentPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Ready", "Number of the pod with ready state"),
    TableColumn.String("Up-to-date", ColumnDescriptions.DeploymentUpdatedReplicas),
    TableColumn.String("Available", ColumnDescriptions.DeploymentAvailableReplicas),
    TableColumn.AgeColumn,
    TableColumn.String("Containers", "Names of each container in the template.", 1),
    TableColumn.String("Images", "Images referenced by each container in the template.", 1),
    TableColumn.String("Selector", ColumnDescriptions.DeploymentSelector, 1))
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        var status = Get(obj, "status"u8);
        WriteName(writer, obj);
        Span<byte> initial = stackalloc byte[64];
        var ready = new CellBuilder(initial);
        ready.Append(Int(Get(status, "readyReplicas"u8)));
        ready.Append((byte)'/');
        ready.Append(Int(Get(spec, "replicas"u8), missing: 1));
        ready.WriteTo(writer);
        ready.Dispose();
        writer.WriteNumberValue(Int(Get(status, "updatedReplicas"u8)));
        writer.WriteNumberValue(Int(Get(status, "availableReplicas"u8)));
        WriteAge(writer, obj, now);
        Containers.Write(writer, Get(spec, "template"u8, "spec"u8, "containers"u8));
        // selector.String() of LabelSelectorAsSelector: "" for a nil or empty selector.
        writer.WriteStringValue(Containers.SelectorString(Get(spec, "selector"u8), invalid: "<invalid>") ?? "");
    }
}

internal sealed class ReplicaSetPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.Integer("Desired", ColumnDescriptions.ReplicaSetSpecReplicas),
    TableColumn.Integer("Current", ColumnDescriptions.ReplicaSetStatusReplicas),
    TableColumn.Integer("Ready", ColumnDescriptions.ReplicaSetReadyReplicas),
    TableColumn.AgeColumn,
    TableColumn.String("Containers", "Names of each container in the template.", 1),
    TableColumn.String("Images", "Images referenced by each container in the template.", 1),
    TableColumn.String("Selector", ColumnDescriptions.ReplicaSetSelector, 1))
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        var status = Get(obj, "status"u8);
        WriteName(writer, obj);
        writer.WriteNumberValue(Int(Get(spec, "replicas"u8), missing: 1));
        writer.WriteNumberValue(Int(Get(status, "replicas"u8)));
        writer.WriteNumberValue(Int(Get(status, "readyReplicas"u8)));
        WriteAge(writer, obj, now);
        Containers.Write(writer, Get(spec, "template"u8, "spec"u8, "containers"u8));
        Containers.WriteFormattedSelector(writer, Get(spec, "selector"u8));
    }
}

/// <summary>Shared cells of workload printers.</summary>
internal static class Containers
{
    /// <summary>layoutContainerCells: container names, then images, each joined by ",".</summary>
    public static void Write(Utf8JsonWriter writer, JsonElement containers)
    {
        Span<byte> initial = stackalloc byte[128];
        var names = new CellBuilder(initial);
        foreach (var c in NodePrinter.Items(containers))
        {
            if (names.Length > 0)
            {
                names.Append((byte)',');
            }
            names.Append(Get(c, "name"u8));
        }
        names.WriteTo(writer);
        names.Dispose();

        var images = new CellBuilder(initial);
        var first = true;
        foreach (var c in NodePrinter.Items(containers))
        {
            if (!first)
            {
                images.Append((byte)',');
            }
            images.Append(Get(c, "image"u8));
            first = false;
        }
        images.WriteTo(writer);
        images.Dispose();
    }

    /// <summary>metav1.FormatLabelSelector: the selector's string, "&lt;none&gt;" when empty, "&lt;error&gt;" when invalid.</summary>
    public static void WriteFormattedSelector(Utf8JsonWriter writer, JsonElement selector)
    {
        var s = SelectorString(selector, invalid: "<error>");
        writer.WriteStringValue(string.IsNullOrEmpty(s) ? None : s);
    }

    public static string? SelectorString(JsonElement selector, string invalid)
    {
        try
        {
            return LabelSelector.FromJson(selector).ToString();
        }
        catch (SelectorException)
        {
            return invalid;
        }
    }
}
