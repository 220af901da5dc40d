namespace Switchboard.Api.Tables;

/// <summary>
/// One metav1.TableColumnDefinition. <see cref="Priority"/> 0 columns are what <c>kubectl get</c> shows,
/// priority 1 columns are the extra <c>-o wide</c> ones; the server always sends both.
/// </summary>
public sealed record TableColumn(string Name, string Type, string Format, string Description, int Priority = 0)
{
    internal static TableColumn NameColumn { get; } = new("Name", "string", "name", ColumnDescriptions.Name);

    internal static TableColumn AgeColumn { get; } = new("Age", "string", "", ColumnDescriptions.CreationTimestamp);

    internal static TableColumn String(string name, string description, int priority = 0) => new(name, "string", "", description, priority);

    internal static TableColumn Integer(string name, string description, int priority = 0) => new(name, "integer", "", description, priority);
}
