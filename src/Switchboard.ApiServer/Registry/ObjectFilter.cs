using System.Text.Json;
using Switchboard.Api.Resources;
using Switchboard.Api.Selectors;
using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Registry;

/// <summary>The label and field selectors of a list or watch, applied to stored JSON objects.</summary>
internal sealed class ObjectFilter
{
    private static readonly ObjectFilter Everything = new(LabelSelector.Everything, FieldSelector.Everything, null);

    private readonly LabelSelector _labels;
    private readonly FieldSelector _fields;
    private readonly FieldSelectorFields? _fieldTable;

    private ObjectFilter(LabelSelector labels, FieldSelector fields, FieldSelectorFields? fieldTable)
    {
        _labels = labels;
        _fields = fields;
        _fieldTable = fieldTable;
    }

    public bool IsEmpty => _labels.IsEmpty && _fields.IsEmpty;

    /// <summary>Parses both selectors; bad ones are a 400 with upstream's message.</summary>
    public static ObjectFilter Create(ResourceInfo info, string? labelSelector, string? fieldSelector)
    {
        if (string.IsNullOrEmpty(labelSelector) && string.IsNullOrEmpty(fieldSelector))
        {
            return Everything;
        }
        try
        {
            var labels = LabelSelector.Parse(labelSelector);
            var table = FieldSelectorFields.For(info.Group, info.Plural);
            var fields = FieldSelector.Parse(fieldSelector).ValidateFor(table);
            return new ObjectFilter(labels, fields, table);
        }
        catch (SelectorException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    /// <summary>True when the stored object matches; an empty value (a create's previous state) never matches.</summary>
    public bool Matches(ReadOnlyMemory<byte> json)
    {
        if (json.IsEmpty)
        {
            return false;
        }
        if (IsEmpty)
        {
            return true;
        }
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (!_labels.IsEmpty)
        {
            var labels = root.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("labels", out var l) ? l : default;
            if (!_labels.Matches(labels))
            {
                return false;
            }
        }
        return _fields.IsEmpty || _fields.Matches(root, _fieldTable!);
    }
}
