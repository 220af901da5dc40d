using System.Text.Json.Nodes;

namespace Switchboard.Api.Apply;

/// <summary>
/// A set of field paths as a trie (upstream fieldpath.Set): at each level the elements that are members (whole paths
/// ending here) and the children (paths continuing below). A path can be both, e.g. a list-map item that is owned
/// (<c>.</c>) and has owned fields. Built by <see cref="Insert"/>; the set operations return new sets and leave their
/// inputs alone, so a built set can be shared freely.
/// </summary>
internal sealed class FieldSet
{
    private readonly HashSet<PathElement> _members = [];
    // Invariant: no empty child is stored.
    private readonly Dictionary<PathElement, FieldSet> _children = [];

    public bool IsEmpty => _members.Count == 0 && _children.Count == 0;

    public IReadOnlyCollection<PathElement> Members => _members;

    public IReadOnlyDictionary<PathElement, FieldSet> Children => _children;

    public void Insert(ReadOnlySpan<PathElement> path)
    {
        if (path.IsEmpty)
        {
            return;
        }
        var node = this;
        for (var i = 0; i < path.Length - 1; i++)
        {
            if (!node._children.TryGetValue(path[i], out var child))
            {
                child = new FieldSet();
                node._children.Add(path[i], child);
            }
            node = child;
        }
        node._members.Add(path[^1]);
    }

    public bool Has(ReadOnlySpan<PathElement> path)
    {
        if (path.IsEmpty)
        {
            return false;
        }
        var node = this;
        for (var i = 0; i < path.Length - 1; i++)
        {
            if (!node._children.TryGetValue(path[i], out node))
            {
                return false;
            }
        }
        return node._members.Contains(path[^1]);
    }

    public bool HasMember(PathElement pe) => _members.Contains(pe);

    /// <summary>The paths below <paramref name="pe"/>, relative to it (upstream WithPrefix); null when none.</summary>
    public FieldSet? Child(PathElement pe) => _children.GetValueOrDefault(pe);

    public FieldSet Union(FieldSet other)
    {
        var result = Clone();
        result.UnionWith(other);
        return result;
    }

    public FieldSet Difference(FieldSet other)
    {
        var result = new FieldSet();
        result._members.UnionWith(_members);
        result._members.ExceptWith(other._members);
        foreach (var (pe, child) in _children)
        {
            var rest = other._children.TryGetValue(pe, out var o) ? child.Difference(o) : child.Clone();
            if (!rest.IsEmpty)
            {
                result._children.Add(pe, rest);
            }
        }
        return result;
    }

    public FieldSet Intersection(FieldSet other)
    {
        var result = new FieldSet();
        result._members.UnionWith(_members);
        result._members.IntersectWith(other._members);
        foreach (var (pe, child) in _children)
        {
            if (other._children.TryGetValue(pe, out var o))
            {
                var both = child.Intersection(o);
                if (!both.IsEmpty)
                {
                    result._children.Add(pe, both);
                }
            }
        }
        return result;
    }

    /// <summary>This set without <paramref name="pe"/> and everything below it.</summary>
    public FieldSet Without(PathElement pe)
    {
        var result = Clone();
        result._members.Remove(pe);
        result._children.Remove(pe);
        return result;
    }

    /// <summary>Only <paramref name="pe"/> and what is below it.</summary>
    public FieldSet Only(PathElement pe)
    {
        var result = new FieldSet();
        if (_members.Contains(pe))
        {
            result._members.Add(pe);
        }
        if (_children.TryGetValue(pe, out var child))
        {
            result._children.Add(pe, child.Clone());
        }
        return result;
    }

    public FieldSet Clone()
    {
        var result = new FieldSet();
        result.UnionWith(this);
        return result;
    }

    public bool SetEquals(FieldSet other)
    {
        if (!_members.SetEquals(other._members) || _children.Count != other._children.Count)
        {
            return false;
        }
        foreach (var (pe, child) in _children)
        {
            if (!other._children.TryGetValue(pe, out var o) || !child.SetEquals(o))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Every member path in upstream's iteration order: a level's members sorted, then its children sorted.</summary>
    public IEnumerable<PathElement[]> Paths() => PathsBelow([]);

    private IEnumerable<PathElement[]> PathsBelow(PathElement[] prefix)
    {
        foreach (var m in _members.Order())
        {
            yield return [.. prefix, m];
        }
        foreach (var pe in _children.Keys.Order())
        {
            foreach (var path in _children[pe].PathsBelow([.. prefix, pe]))
            {
                yield return path;
            }
        }
    }

    /// <summary>
    /// The FieldsV1 object: elements sorted as upstream sorts them, <c>{}</c> for a member without children,
    /// and <c>".": {}</c> first inside an element that is a member and also has children.
    /// </summary>
    public JsonObject ToFieldsV1()
    {
        var obj = new JsonObject();
        WriteContents(obj, includeSelf: false, self: false);
        return obj;
    }

    private void WriteContents(JsonObject obj, bool includeSelf, bool self)
    {
        if (includeSelf && self)
        {
            obj["."] = new JsonObject();
        }
        var elements = new SortedSet<PathElement>(_members);
        elements.UnionWith(_children.Keys);
        foreach (var pe in elements)
        {
            var inner = new JsonObject();
            if (_children.TryGetValue(pe, out var child))
            {
                child.WriteContents(inner, includeSelf: true, self: _members.Contains(pe));
            }
            obj[pe.Token] = inner;
        }
    }

    /// <summary>Reads a FieldsV1 object; throws <see cref="FormatException"/> when it is not one.</summary>
    public static FieldSet FromFieldsV1(JsonNode? node)
    {
        var set = new FieldSet();
        if (node is null)
        {
            return set;
        }
        if (node is not JsonObject obj)
        {
            throw new FormatException("fieldsV1 must be an object");
        }
        set.ReadContents(obj);
        return set;
    }

    private void ReadContents(JsonObject obj)
    {
        foreach (var (token, value) in obj)
        {
            if (token == ".")
            {
                continue;
            }
            var pe = PathElement.Parse(token);
            if (value is not JsonObject inner)
            {
                throw new FormatException($"the value of \"{token}\" must be an object");
            }
            if (inner.Count == 0 || inner.ContainsKey("."))
            {
                _members.Add(pe);
            }
            var child = new FieldSet();
            child.ReadContents(inner);
            if (!child.IsEmpty)
            {
                if (_children.TryGetValue(pe, out var existing))
                {
                    existing.UnionWith(child);
                }
                else
                {
                    _children.Add(pe, child);
                }
            }
        }
    }

    private void UnionWith(FieldSet other)
    {
        _members.UnionWith(other._members);
        foreach (var (pe, child) in other._children)
        {
            if (_children.TryGetValue(pe, out var mine))
            {
                mine.UnionWith(child);
            }
            else
            {
                _children.Add(pe, child.Clone());
            }
        }
    }

    /// <summary>For debugging and test failure messages: the FieldsV1 text.</summary>
    public override string ToString() => ToFieldsV1().ToJsonString();
}
