using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Apply;

/// <summary>A value that does not fit its schema the way structured merge needs (missing list-map key, duplicate item).</summary>
internal sealed class StructuredValueException(string message) : Exception(message);

/// <summary>The fields one object changed relative to another (upstream typed.Comparison).</summary>
internal sealed class Comparison
{
    public FieldSet Added { get; } = new();
    public FieldSet Modified { get; } = new();
    public FieldSet Removed { get; } = new();

    public bool IsSame => Added.IsEmpty && Modified.IsEmpty && Removed.IsEmpty;
}

/// <summary>
/// The structured-merge-diff operations over JSON trees guided by a <see cref="Shape"/>: field set of a value,
/// comparison of two values, merge of a partial configuration into a value, and removal of owned items. Each
/// follows the corresponding walker of sigs.k8s.io/structured-merge-diff/typed; they never change their inputs.
/// Fields a struct does not declare are ignored (typed decoding drops them anyway).
/// </summary>
internal static class Structured
{
    // ---- list items ----

    /// <summary>
    /// The path element of a list item: its key fields for a list map (defaults filled in), its value for a set,
    /// its index otherwise. Null with <paramref name="error"/> set when the item cannot be keyed.
    /// </summary>
    public static PathElement? ItemElement(Shape list, JsonNode? item, int index, out string? error)
    {
        error = null;
        switch (list.List)
        {
            case ListKind.Map:
                if (item is null)
                {
                    error = "associative list with keys may not have a null element";
                    return null;
                }
                if (item is not JsonObject obj)
                {
                    error = "associative list with keys may not have non-map elements";
                    return null;
                }
                var fields = new List<KeyValuePair<string, JsonNode?>>(list.Keys.Length);
                foreach (var key in list.Keys)
                {
                    if (obj.TryGetPropertyValue(key, out var value))
                    {
                        fields.Add(new(key, value));
                    }
                    else if (list.Element?.Object is { } itemType && Shape.KeyDefault(itemType.ClrType, key) is { } def)
                    {
                        fields.Add(new(key, JsonValue.Create(def)));
                    }
                    else
                    {
                        error = $"associative list with keys has an element that omits key field \"{key}\" (and doesn't have default value)";
                        return null;
                    }
                }
                return PathElement.Key(fields);
            case ListKind.Set:
                if (item is JsonObject or JsonArray)
                {
                    error = "associative list without keys has an element that's a map type";
                    return null;
                }
                return PathElement.Value(item);
            default:
                return PathElement.Index(index);
        }
    }

    /// <summary>Items by element, first occurrence wins (later duplicates are what upstream tolerates in live objects).</summary>
    private static List<(PathElement Pe, JsonNode? Item)> IndexItems(Shape list, JsonArray? items, List<PathElement> path, bool strict)
    {
        var result = new List<(PathElement, JsonNode?)>();
        if (items is null)
        {
            return result;
        }
        var seen = new HashSet<PathElement>();
        for (var i = 0; i < items.Count; i++)
        {
            if (ItemElement(list, items[i], i, out var error) is not { } pe)
            {
                if (strict)
                {
                    throw new StructuredValueException($"{PathText(path)}: element {i}: {error}");
                }
                continue;
            }
            if (!seen.Add(pe))
            {
                if (strict)
                {
                    throw new StructuredValueException($"{PathText(path)}: duplicate entries for key {pe}");
                }
                continue;
            }
            result.Add((pe, items[i]));
        }
        return result;
    }

    private static string PathText(List<PathElement> path) => PathElement.PathToString(CollectionsMarshal.AsSpan(path));

    private static bool IsEmptyContainer(JsonNode? node) => node switch
    {
        null => true,
        JsonObject o => o.Count == 0,
        JsonArray a => a.Count == 0,
        _ => false,
    };

    // ---- field set ----

    /// <summary>
    /// Every leaf and item of <paramref name="value"/> (upstream TypedValue.ToFieldSet): scalars, atomic values, list
    /// items (each also a member), map keys, and struct fields that are null or empty objects. With
    /// <paramref name="strict"/>, unkeyable or duplicate list items are errors, as for an applied configuration.
    /// </summary>
    public static FieldSet ToFieldSet(JsonNode? value, Shape shape, bool strict)
    {
        var set = new FieldSet();
        var path = new List<PathElement>();
        CollectFields(value, shape, path, set, strict);
        return set;
    }

    private static void CollectFields(JsonNode? value, Shape shape, List<PathElement> path, FieldSet set, bool strict)
    {
        if (shape.Atomic)
        {
            set.Insert(CollectionsMarshal.AsSpan(path));
            return;
        }
        if (shape.Kind == ShapeKind.List)
        {
            var item = shape.ItemShape;
            foreach (var (pe, child) in IndexItems(shape, value as JsonArray, path, strict))
            {
                path.Add(pe);
                CollectFields(child, item, path, set, strict);
                set.Insert(CollectionsMarshal.AsSpan(path));
                path.RemoveAt(path.Count - 1);
            }
            return;
        }
        if (value is not JsonObject obj)
        {
            return;
        }
        foreach (var (key, child) in obj)
        {
            if (!shape.TryChild(key, out var childShape))
            {
                continue;
            }
            path.Add(PathElement.Field(key));
            if (!shape.IsStruct || child is null || child is JsonObject { Count: 0 })
            {
                set.Insert(CollectionsMarshal.AsSpan(path));
            }
            CollectFields(child, childShape, path, set, strict);
            path.RemoveAt(path.Count - 1);
        }
    }

    /// <summary>
    /// <paramref name="set"/> plus every struct field on the way to its paths (upstream EnsureNamedFieldsAreMembers),
    /// so that removing an owned struct removes it whole and owning anything inside a struct protects it.
    /// </summary>
    public static FieldSet EnsureNamedFieldsAreMembers(FieldSet set, Shape shape)
    {
        var result = new FieldSet();
        var path = new List<PathElement>();
        Ensure(set, shape, path, result);
        return result;
    }

    private static void Ensure(FieldSet set, Shape shape, List<PathElement> path, FieldSet result)
    {
        foreach (var m in set.Members)
        {
            path.Add(m);
            result.Insert(CollectionsMarshal.AsSpan(path));
            path.RemoveAt(path.Count - 1);
        }
        foreach (var (pe, child) in set.Children)
        {
            var childShape = Shape.Untyped;
            if (pe.Kind == PathElementKind.Field)
            {
                if (shape.TryChild(pe.Text, out var s))
                {
                    childShape = s;
                }
            }
            else if (shape.Kind == ShapeKind.List)
            {
                childShape = shape.ItemShape;
            }
            path.Add(pe);
            if (pe.Kind == PathElementKind.Field && shape.Declares(pe.Text))
            {
                result.Insert(CollectionsMarshal.AsSpan(path));
            }
            Ensure(child, childShape, path, result);
            path.RemoveAt(path.Count - 1);
        }
    }

    // ---- compare ----

    /// <summary>
    /// What <paramref name="rhs"/> added, modified and removed relative to <paramref name="lhs"/> (upstream
    /// TypedValue.Compare). Leaves (scalars, atomic values, containers empty on both sides) are compared by value;
    /// containers present on one side only are added or removed themselves as well. A null side is an empty object.
    /// With <paramref name="goZeroValues"/>, fields Go always encodes count as present on both sides (see
    /// <see cref="Shape.GoAlwaysEncodes"/>), as they are on the typed objects upstream compares.
    /// </summary>
    public static Comparison Compare(JsonObject? lhs, JsonObject? rhs, Shape shape, bool goZeroValues)
    {
        var result = new Comparison();
        var path = new List<PathElement>();
        CompareValues(true, lhs ?? [], true, rhs ?? [], shape, path, result, goZeroValues);
        return result;
    }

    private static void CompareValues(bool lp, JsonNode? l, bool rp, JsonNode? r, Shape shape, List<PathElement> path, Comparison result, bool goZero)
    {
        if (!lp && !rp)
        {
            return;
        }
        var leaf = shape.Atomic || (IsEmptyContainer(l) && IsEmptyContainer(r))
            || (shape.Kind == ShapeKind.List ? !(l is JsonArray || r is JsonArray) : !(l is JsonObject || r is JsonObject));
        if (leaf)
        {
            if (!lp)
            {
                result.Added.Insert(CollectionsMarshal.AsSpan(path));
            }
            else if (!rp)
            {
                result.Removed.Insert(CollectionsMarshal.AsSpan(path));
            }
            else if (!JsonValues.DeepEquals(l, r))
            {
                result.Modified.Insert(CollectionsMarshal.AsSpan(path));
            }
            return;
        }

        if (shape.Kind == ShapeKind.List)
        {
            var item = shape.ItemShape;
            var left = IndexItems(shape, l as JsonArray, path, strict: false);
            var right = IndexItems(shape, r as JsonArray, path, strict: false).ToDictionary(p => p.Pe, p => p.Item);
            foreach (var (pe, li) in left)
            {
                path.Add(pe);
                var inRight = right.Remove(pe, out var ri);
                CompareValues(true, li, inRight, ri, item, path, result, goZero);
                path.RemoveAt(path.Count - 1);
            }
            foreach (var (pe, ri) in IndexItems(shape, r as JsonArray, path, strict: false))
            {
                if (right.ContainsKey(pe))
                {
                    path.Add(pe);
                    CompareValues(false, null, true, ri, item, path, result, goZero);
                    path.RemoveAt(path.Count - 1);
                }
            }
        }
        else
        {
            var lo = l as JsonObject;
            var ro = r as JsonObject;
            foreach (var key in KeysOf(lo, ro))
            {
                if (!shape.TryChild(key, out var childShape))
                {
                    continue;
                }
                var inL = lo?.ContainsKey(key) == true;
                var inR = ro?.ContainsKey(key) == true;
                JsonNode? lv = inL ? lo![key] : null;
                JsonNode? rv = inR ? ro![key] : null;
                if (goZero && inL != inR && shape.GoAlwaysEncodes(key, out var nullCollection))
                {
                    // The typed object upstream compares has this field on the side that lacks it here.
                    if (!inL && lp)
                    {
                        inL = true;
                        lv = nullCollection ? null : new JsonObject();
                    }
                    if (!inR && rp)
                    {
                        inR = true;
                        rv = nullCollection ? null : new JsonObject();
                    }
                }
                path.Add(PathElement.Field(key));
                CompareValues(inL, lv, inR, rv, childShape, path, result, goZero);
                path.RemoveAt(path.Count - 1);
            }
        }

        if (path.Count > 0)
        {
            if (!lp)
            {
                result.Added.Insert(CollectionsMarshal.AsSpan(path));
            }
            else if (!rp)
            {
                result.Removed.Insert(CollectionsMarshal.AsSpan(path));
            }
        }
    }

    private static IEnumerable<string> KeysOf(JsonObject? a, JsonObject? b)
    {
        if (a is not null)
        {
            foreach (var (key, _) in a)
            {
                yield return key;
            }
        }
        if (b is not null)
        {
            foreach (var (key, _) in b)
            {
                if (a?.ContainsKey(key) != true)
                {
                    yield return key;
                }
            }
        }
    }

    // ---- merge ----

    /// <summary>
    /// <paramref name="config"/> merged into <paramref name="live"/> (upstream TypedValue.Merge with keep-right):
    /// leaves and atomic values take the configuration's value, maps and structs merge key by key, list maps merge
    /// item by item by key and sets by value. A list keeps the live order for items the configuration does not
    /// mention and follows the configuration's order for the ones it does.
    /// </summary>
    public static JsonObject Merge(JsonObject? live, JsonObject config, Shape shape) =>
        (JsonObject)MergeValues(true, live ?? [], true, config, shape)!;

    private static JsonNode? MergeValues(bool lp, JsonNode? l, bool rp, JsonNode? r, Shape shape)
    {
        if (!rp)
        {
            return l?.DeepClone();
        }
        if (!lp)
        {
            return r?.DeepClone();
        }
        var leaf = shape.Atomic || (IsEmptyContainer(l) && IsEmptyContainer(r))
            || (shape.Kind == ShapeKind.List ? !(l is JsonArray || r is JsonArray) : !(l is JsonObject || r is JsonObject));
        if (leaf)
        {
            return r?.DeepClone();
        }
        if (shape.Kind == ShapeKind.List)
        {
            return MergeLists(l as JsonArray, r as JsonArray, shape);
        }

        var lo = l as JsonObject;
        var ro = r as JsonObject;
        var result = new JsonObject();
        foreach (var key in KeysOf(lo, ro))
        {
            var inL = lo?.ContainsKey(key) == true;
            var inR = ro?.ContainsKey(key) == true;
            var childShape = shape.TryChild(key, out var s) ? s : Shape.Untyped;
            result[key] = MergeValues(inL, inL ? lo![key] : null, inR, inR ? ro![key] : null, childShape);
        }
        return result;
    }

    private static JsonArray MergeLists(JsonArray? l, JsonArray? r, Shape shape)
    {
        var item = shape.ItemShape;
        var lhs = IndexForMerge(shape, l, out var duplicates);
        var rhs = IndexForMerge(shape, r, out _);
        var lhsItems = lhs.ToDictionary(p => p.Pe, p => p.Item);
        var rhsItems = rhs.ToDictionary(p => p.Pe, p => p.Item);
        // Items in both, in the configuration's order: the live list is walked in step with it.
        var shared = new Queue<PathElement>(rhs.Where(p => lhsItems.ContainsKey(p.Pe)).Select(p => p.Pe));
        var emitted = new HashSet<PathElement>();
        var result = new JsonArray();
        var li = 0;
        var ri = 0;
        while (li < lhs.Count || ri < rhs.Count)
        {
            if (li < lhs.Count && emitted.Contains(lhs[li].Pe))
            {
                li++;
                continue;
            }
            if (li < lhs.Count && ri < rhs.Count)
            {
                var pe = lhs[li].Pe;
                if (pe == rhs[ri].Pe)
                {
                    result.Add(MergeValues(true, lhs[li].Item, true, rhs[ri].Item, item));
                    emitted.Add(pe);
                    li++;
                    ri++;
                    if (shared.Count > 0 && shared.Peek() == pe)
                    {
                        shared.Dequeue();
                    }
                    continue;
                }
                if (rhsItems.ContainsKey(pe) && shared.Count > 0 && shared.Peek() != pe)
                {
                    // A shared item the configuration places later: it is emitted when the configuration reaches it.
                    li++;
                    continue;
                }
            }
            if (li < lhs.Count && !rhsItems.ContainsKey(lhs[li].Pe))
            {
                var pe = lhs[li].Pe;
                result.Add(lhs[li].Item?.DeepClone());
                // Live duplicates the configuration does not mention stay as they are.
                if (duplicates.TryGetValue(pe, out var more))
                {
                    foreach (var extra in more)
                    {
                        result.Add(extra?.DeepClone());
                    }
                }
                emitted.Add(pe);
                li++;
                continue;
            }
            if (ri < rhs.Count)
            {
                var pe = rhs[ri].Pe;
                var inL = lhsItems.TryGetValue(pe, out var lv);
                result.Add(MergeValues(inL, lv, true, rhs[ri].Item, item));
                emitted.Add(pe);
                ri++;
                if (shared.Count > 0 && shared.Peek() == pe)
                {
                    shared.Dequeue();
                }
                continue;
            }
            // Only already-emitted live items remain.
            li++;
        }
        return result;
    }

    /// <summary>
    /// Items by element for merging. Unlike <see cref="IndexItems"/> nothing live is lost: an item that cannot be
    /// keyed is carried by its position, and later duplicates of a key are kept aside.
    /// </summary>
    private static List<(PathElement Pe, JsonNode? Item)> IndexForMerge(Shape list, JsonArray? items, out Dictionary<PathElement, List<JsonNode?>> duplicates)
    {
        duplicates = [];
        var result = new List<(PathElement, JsonNode?)>();
        if (items is null)
        {
            return result;
        }
        var seen = new HashSet<PathElement>();
        for (var i = 0; i < items.Count; i++)
        {
            var pe = ItemElement(list, items[i], i, out _) ?? PathElement.Index(i);
            if (!seen.Add(pe))
            {
                if (!duplicates.TryGetValue(pe, out var more))
                {
                    duplicates[pe] = more = [];
                }
                more.Add(items[i]);
                continue;
            }
            result.Add((pe, items[i]));
        }
        return result;
    }

    // ---- remove ----

    /// <summary>
    /// <paramref name="value"/> without the fields and items in <paramref name="toRemove"/> (upstream RemoveItems):
    /// a member removes the field or item with everything in it. A map or list emptied this way is dropped, as
    /// upstream's null is once the object is typed again.
    /// </summary>
    public static JsonObject RemoveItems(JsonObject value, FieldSet toRemove, Shape shape) =>
        (JsonObject)(RemoveFrom(value, toRemove, shape) ?? new JsonObject());

    private static JsonNode? RemoveFrom(JsonNode? value, FieldSet toRemove, Shape shape)
    {
        if (shape.Atomic)
        {
            return value?.DeepClone();
        }
        if (shape.Kind == ShapeKind.List)
        {
            if (value is not JsonArray items)
            {
                return value?.DeepClone();
            }
            var result = new JsonArray();
            var item = shape.ItemShape;
            for (var i = 0; i < items.Count; i++)
            {
                var pe = ItemElement(shape, items[i], i, out _);
                if (pe is { } p && toRemove.HasMember(p))
                {
                    continue;
                }
                result.Add(pe is { } q && toRemove.Child(q) is { } below ? RemoveFrom(items[i], below, item) : items[i]?.DeepClone());
            }
            return result;
        }
        if (value is not JsonObject obj)
        {
            return value?.DeepClone();
        }
        var output = new JsonObject();
        foreach (var (key, child) in obj)
        {
            var pe = PathElement.Field(key);
            if (toRemove.HasMember(pe))
            {
                continue;
            }
            if (toRemove.Child(pe) is { } below && shape.TryChild(key, out var childShape))
            {
                var pruned = RemoveFrom(child, below, childShape);
                if (IsEmptyContainer(pruned) && !IsEmptyContainer(child))
                {
                    continue;
                }
                output[key] = pruned;
            }
            else
            {
                output[key] = child?.DeepClone();
            }
        }
        return output;
    }
}
