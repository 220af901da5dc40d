using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Patch;

/// <summary>
/// The strategic-merge walk. It changes the original tree in place (callers pass a copy) and only reads the patch;
/// anything taken from the patch is copied. Element order follows upstream exactly, including how its in-place slice
/// edits shape the "live order" used for <c>$setElementOrder</c> (see <see cref="MergeList"/>).
/// </summary>
internal sealed class StrategicMerger(IPatchMeta meta)
{
    public const string DirectiveMarker = "$patch";
    public const string RetainKeysDirective = "$retainKeys";
    public const string DeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList";
    public const string SetElementOrderPrefix = "$setElementOrder";

    /// <summary>Go's sort.SliceStable runs a plain insertion sort on runs of this size; see <see cref="SortByOrder"/>.</summary>
    private const int GoInsertionSortBlock = 20;

    private enum Strategy
    {
        None,
        Merge,
        Replace,
    }

    /// <summary>Merges <paramref name="patch"/> into <paramref name="original"/>; returns the merged map (a new one for a directive).</summary>
    public JsonObject MergeMap(JsonObject original, JsonObject patch, string path)
    {
        if (patch.TryGetPropertyValue(DirectiveMarker, out var directive))
        {
            return MapDirective(directive, patch);
        }
        ApplyRetainKeys(original, patch);
        var ordered = MergeOrderedLists(original, patch, path);

        foreach (var (key, patchValue) in patch)
        {
            if (key == RetainKeysDirective
                || key.StartsWith(SetElementOrderPrefix, StringComparison.Ordinal)
                || (ordered?.Contains(key) ?? false))
            {
                continue;
            }
            var field = key;
            var isDeleteList = false;
            if (key.StartsWith(DeleteFromPrimitiveListPrefix, StringComparison.Ordinal))
            {
                field = ExtractKey(key, DeleteFromPrimitiveListPrefix);
                isDeleteList = true;
            }
            if (PatchNodes.IsNull(patchValue))
            {
                original.Remove(field);
                continue;
            }
            original.TryGetPropertyValue(field, out var current);
            if (PatchNodes.IsNull(current))
            {
                // Upstream would store the deletion list as the new list here; a deletion never adds.
                if (!isDeleteList)
                {
                    original[field] = Sanitize(patchValue);
                }
                continue;
            }
            var fieldPath = PatchPath.Field(path, field);
            if (current is JsonObject currentMap && patchValue is JsonObject patchMap)
            {
                var merged = StrategyOf(fieldPath).Strategy == Strategy.Replace
                    ? (JsonObject)Sanitize(patchMap)!
                    : MergeMap(currentMap, patchMap, fieldPath);
                if (!ReferenceEquals(merged, currentMap))
                {
                    original[field] = merged;
                }
            }
            else if (current is JsonArray currentList && patchValue is JsonArray patchList)
            {
                var (strategy, mergeKey) = StrategyOf(fieldPath);
                if (strategy == Strategy.Merge)
                {
                    original[field] = new JsonArray([.. MergeList(currentList, patchList, mergeKey, isDeleteList, fieldPath, out _)]);
                }
                else if (isDeleteList)
                {
                    // Upstream would replace the list with the deletion list; delete the values instead.
                    original[field] = new JsonArray([.. DeleteScalars(Detach(currentList), patchList)]);
                }
                else
                {
                    original[field] = Sanitize(patchList);
                }
            }
            else if (!isDeleteList)
            {
                original[field] = Sanitize(patchValue);
            }
        }
        return original;
    }

    /// <summary>
    /// A copy of a value inserted as sent (new fields, replaced lists, <c>$patch: replace</c>) without what upstream's
    /// typed decoding would drop: null members and directive keys.
    /// </summary>
    internal static JsonNode? Sanitize(JsonNode? value)
    {
        switch (value)
        {
            case null:
                return null;
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, member) in obj)
                {
                    if (!PatchNodes.IsNull(member) && !IsDirectiveKey(key))
                    {
                        copy[key] = Sanitize(member);
                    }
                }
                return copy;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(Sanitize(item));
                }
                return items;
            default:
                return value.DeepClone();
        }
    }

    private static bool IsDirectiveKey(string key) =>
        key is DirectiveMarker or RetainKeysDirective
        || key.StartsWith(SetElementOrderPrefix + "/", StringComparison.Ordinal)
        || key.StartsWith(DeleteFromPrimitiveListPrefix + "/", StringComparison.Ordinal);

    private static JsonObject MapDirective(JsonNode? directive, JsonObject patch) => PatchNodes.AsString(directive) switch
    {
        // Upstream takes the rest of the patch as the new map.
        "replace" => (JsonObject)Sanitize(patch)!,
        "delete" => new JsonObject(),
        // "merge" included: upstream accepts it in no map.
        _ => throw PatchException.Unknown(
            $"unknown patch type: {PatchNodes.Describe(directive)} in map: {PatchNodes.Describe(patch)}"),
    };

    /// <summary>
    /// <c>$retainKeys</c>: every non-null field the patch sets must be listed, and the original keeps only listed keys.
    /// </summary>
    private static void ApplyRetainKeys(JsonObject original, JsonObject patch)
    {
        if (!patch.TryGetPropertyValue(RetainKeysDirective, out var directive))
        {
            return;
        }
        if (directive is not JsonArray list)
        {
            throw PatchException.BadRequest("invalid patch format of retainKeys");
        }
        var retained = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in list)
        {
            if (PatchNodes.AsString(item) is { } name)
            {
                retained.Add(name);
            }
        }
        foreach (var (key, value) in patch)
        {
            if (key == RetainKeysDirective
                || PatchNodes.IsNull(value)
                || key.StartsWith(DeleteFromPrimitiveListPrefix, StringComparison.Ordinal)
                || key.StartsWith(SetElementOrderPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            if (!retained.Contains(key))
            {
                throw PatchException.BadRequest("invalid patch format of retainKeys");
            }
        }
        foreach (var key in original.Select(m => m.Key).Where(k => !retained.Contains(k)).ToList())
        {
            original.Remove(key);
        }
    }

    /// <summary>
    /// Handles every <c>$setElementOrder/&lt;field&gt;</c>: merges the field's patch list (if any) into the original and
    /// puts the result in the directive's order, with server-only items kept near their live neighbours. Returns the
    /// fields done, which the main walk then skips.
    /// </summary>
    private HashSet<string>? MergeOrderedLists(JsonObject original, JsonObject patch, string path)
    {
        HashSet<string>? done = null;
        foreach (var (key, directive) in patch)
        {
            if (!key.StartsWith(SetElementOrderPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            var field = ExtractKey(key, SetElementOrderPrefix);
            if (directive is not JsonArray order)
            {
                throw BadArgType("[]interface {}", directive);
            }
            if (patch.TryGetPropertyValue(field, out var patchNode) && PatchNodes.IsNull(patchNode))
            {
                // The field is being deleted; there is nothing to order. (Upstream errors here.)
                continue;
            }
            original.TryGetPropertyValue(field, out var originalNode);
            var originalList = ListOrNull(originalNode);
            var patchList = ListOrNull(patchNode);
            if (originalList is null && patchList is null)
            {
                continue;
            }
            var fieldPath = PatchPath.Field(path, field);
            var (strategy, mergeKey) = StrategyOf(fieldPath);
            ValidateOrder(patchList, order, mergeKey);
            var kind = ElementKind(originalList ?? [], patchList ?? []);

            List<JsonNode?> merged;
            IList<JsonNode?> liveOrder;
            var fromPatchAsSent = false;
            if (patchList is null)
            {
                merged = Detach(originalList!);
                liveOrder = merged;
            }
            else if (originalList is null)
            {
                // The list is new: upstream takes it as sent. Copies keep their directives until sorted (delete
                // markers sort last) and are sanitized below.
                merged = [.. patchList.Select(item => item?.DeepClone())];
                liveOrder = [];
                fromPatchAsSent = true;
            }
            else if (strategy == Strategy.Merge)
            {
                merged = MergeList(originalList, patchList, mergeKey, isDeleteList: false, fieldPath, out var live);
                liveOrder = live;
            }
            else
            {
                liveOrder = Detach(originalList);
                merged = [.. patchList.Select(Sanitize)];
            }

            List<JsonNode?> result;
            if (kind is null)
            {
                // Nothing to order. (Upstream errors with "no elements in any of the given slices".)
                result = merged;
            }
            else
            {
                var (inOrder, serverOnly) = Partition(merged, order, mergeKey, kind.Value);
                result = NormalizeElementOrder(inOrder, serverOnly, order, liveOrder, mergeKey, kind.Value);
            }
            original[field] = new JsonArray([.. fromPatchAsSent ? result.Select(Sanitize) : result]);
            (done ??= new HashSet<string>(StringComparer.Ordinal)).Add(field);
        }
        return done;
    }

    /// <summary>
    /// Merges a <c>patchStrategy: merge</c> list. Maps merge with the original element whose merge key is equal
    /// (the first one), new ones are appended, <c>$patch: delete</c> removes the first match, <c>$patch: replace</c>
    /// drops the original list; scalars form a set (or lose values, for <c>$deleteFromPrimitiveList</c>). The result
    /// is ordered like upstream's mergeSlice: patch items in patch order, interleaved with server-only items by live
    /// position.
    /// </summary>
    /// <param name="liveOrder">
    /// Upstream sorts <c>$setElementOrder</c> server-only items by the original slice, which its merge has edited in
    /// place by then: deletions shift it left and appended items fill its tail. This is that view: the list after
    /// deletions and appends, cut to the original length.
    /// </param>
    private List<JsonNode?> MergeList(
        JsonArray originalArray, JsonArray patch, string? mergeKey, bool isDeleteList, string path, out List<JsonNode?> liveOrder)
    {
        var original = Detach(originalArray);
        var originalCount = original.Count;
        liveOrder = original;
        if (original.Count == 0 && patch.Count == 0)
        {
            return original;
        }
        var kind = ElementKind(original, patch)!.Value;
        if (kind != JsonValueKind.Object)
        {
            if (isDeleteList)
            {
                return DeleteScalars(original, patch);
            }
            var patchItems = patch.ToList();
            var union = Deduplicate(original.Concat(patchItems.Select(item => item?.DeepClone())));
            var (fromPatch, serverOnly) = Partition(union, patchItems, mergeKey: null, kind);
            return NormalizeElementOrder(fromPatch, serverOnly, patchItems, original, mergeKey: null, kind);
        }
        if (string.IsNullOrEmpty(mergeKey))
        {
            throw PatchException.Unknown("cannot merge lists without merge key for " + path);
        }

        var plain = new List<JsonNode?>(patch.Count);
        var deletions = new Dictionary<ScalarKey, int>();
        var replace = false;
        foreach (var node in patch)
        {
            var item = (JsonObject)node!;
            if (!item.TryGetPropertyValue(DirectiveMarker, out var directive))
            {
                plain.Add(item);
                continue;
            }
            switch (PatchNodes.AsString(directive))
            {
                case "delete":
                    if (!item.TryGetPropertyValue(mergeKey, out var deleted))
                    {
                        throw NoMergeKey(item, mergeKey);
                    }
                    if (ScalarKey.TryCreate(deleted, out var deletedKey))
                    {
                        deletions[deletedKey] = deletions.GetValueOrDefault(deletedKey) + 1;
                    }
                    break;
                case "replace":
                    replace = true;
                    break;
                case "merge":
                    throw PatchException.Unknown("merging lists cannot yet be specified in the patch");
                default:
                    throw PatchException.Unknown(
                        $"unknown patch type: {PatchNodes.Describe(directive)} in map: {PatchNodes.Describe(item)}");
            }
        }
        // Each delete directive removes the first remaining match; counting per key does that in one pass.
        var working = new List<JsonNode?>(original.Count + plain.Count);
        foreach (var item in original)
        {
            if (deletions.Count > 0 && KeyOf(item, mergeKey) is { } key && deletions.TryGetValue(key, out var pending) && pending > 0)
            {
                deletions[key] = pending - 1;
                continue;
            }
            working.Add(item);
        }

        List<JsonNode?> merged;
        List<JsonNode?> serverOrder;
        List<JsonNode?> patchOrder;
        if (replace)
        {
            liveOrder = working.Take(originalCount).ToList();
            merged = [.. plain.Select(Sanitize)];
            serverOrder = merged;
            patchOrder = [];
        }
        else
        {
            var postDeletionCount = working.Count;
            var positions = new Dictionary<ScalarKey, int>();
            for (var i = 0; i < working.Count; i++)
            {
                if (KeyOf(working[i], mergeKey) is { } key)
                {
                    positions.TryAdd(key, i);
                }
            }
            foreach (var node in plain)
            {
                var item = (JsonObject)node!;
                if (!item.TryGetPropertyValue(mergeKey, out var keyValue))
                {
                    throw NoMergeKey(item, mergeKey);
                }
                var hasKey = ScalarKey.TryCreate(keyValue, out var key);
                if (hasKey && positions.TryGetValue(key, out var at))
                {
                    working[at] = MergeMap((JsonObject)working[at]!, item, PatchPath.Items(path));
                }
                else
                {
                    working.Add(Sanitize(item));
                    if (hasKey)
                    {
                        positions.TryAdd(key, working.Count - 1);
                    }
                }
            }
            merged = working;
            liveOrder = working.Take(originalCount).ToList();
            serverOrder = working.GetRange(0, postDeletionCount);
            patchOrder = plain;
        }
        var (inPatch, onServer) = Partition(merged, patchOrder, mergeKey, kind);
        return NormalizeElementOrder(inPatch, onServer, patchOrder, serverOrder, mergeKey, kind);
    }

    /// <summary>
    /// Sorts patch items by <paramref name="patchOrder"/> and server-only items by <paramref name="serverOrder"/>, then
    /// interleaves them: a server-only item goes first only when both it and the next patch item are in the live order
    /// and it is ahead there (so new items land before the server-only items that follow them).
    /// </summary>
    private static List<JsonNode?> NormalizeElementOrder(
        List<JsonNode?> patchItems, List<JsonNode?> serverOnly, IList<JsonNode?> patchOrder,
        IList<JsonNode?> serverOrder, string? mergeKey, JsonValueKind kind)
    {
        var sortedPatch = SortByOrder(patchItems, patchOrder, mergeKey, kind);
        var sortedServer = SortByOrder(serverOnly, serverOrder, mergeKey, kind);
        var live = Positions(serverOrder, mergeKey, kind);
        var result = new List<JsonNode?>(sortedPatch.Count + sortedServer.Count);
        int i = 0, j = 0;
        while (i < sortedServer.Count || j < sortedPatch.Count)
        {
            if (i >= sortedServer.Count)
            {
                result.Add(sortedPatch[j++]);
            }
            else if (j >= sortedPatch.Count)
            {
                result.Add(sortedServer[i++]);
            }
            else
            {
                var left = Position(live, sortedServer[i], mergeKey, kind);
                var right = Position(live, sortedPatch[j], mergeKey, kind);
                result.Add(left >= 0 && right >= 0 && left < right ? sortedServer[i++] : sortedPatch[j++]);
            }
        }
        return result;
    }

    /// <summary>
    /// Stable sort by first position in <paramref name="order"/>; for maps, items carrying <c>$patch: delete</c> go
    /// last. Items missing from the order only occur in malformed patches: for those, up to
    /// <see cref="GoInsertionSortBlock"/> items are sorted exactly like Go's insertion sort with upstream's
    /// "missing sorts first" comparator, longer lists put missing items last.
    /// </summary>
    private static List<JsonNode?> SortByOrder(List<JsonNode?> items, IList<JsonNode?> order, string? mergeKey, JsonValueKind kind)
    {
        List<JsonNode?>? deletes = null;
        if (kind == JsonValueKind.Object)
        {
            RequireMergeKeys(items, mergeKey ?? "");
            RequireMergeKeys(order, mergeKey ?? "");
            var kept = new List<JsonNode?>(items.Count);
            foreach (var item in items)
            {
                if (PatchNodes.AsString(((JsonObject)item!)[DirectiveMarker]) == "delete")
                {
                    (deletes ??= []).Add(item);
                }
                else
                {
                    kept.Add(item);
                }
            }
            items = kept;
        }
        var positions = Positions(order, mergeKey, kind);
        var ranks = items.Select(item => Position(positions, item, mergeKey, kind)).ToArray();
        List<JsonNode?> sorted;
        if (Array.TrueForAll(ranks, r => r >= 0) || items.Count > GoInsertionSortBlock)
        {
            sorted = [.. Enumerable.Range(0, items.Count)
                .OrderBy(i => ranks[i] >= 0 ? ranks[i] : int.MaxValue)
                .Select(i => items[i])];
        }
        else
        {
            var index = Enumerable.Range(0, items.Count).ToArray();
            for (var i = 1; i < index.Length; i++)
            {
                for (var j = i; j > 0 && GoLess(ranks[index[j]], ranks[index[j - 1]]); j--)
                {
                    (index[j], index[j - 1]) = (index[j - 1], index[j]);
                }
            }
            sorted = [.. index.Select(i => items[i])];
        }
        if (deletes is not null)
        {
            sorted.AddRange(deletes);
        }
        return sorted;

        static bool GoLess(int a, int b) => a < 0 || b < 0 || a < b;
    }

    /// <summary>First position of every key in <paramref name="list"/> (merge-key value for maps, the value for scalars).</summary>
    private static Dictionary<ScalarKey, int> Positions(IList<JsonNode?> list, string? mergeKey, JsonValueKind kind)
    {
        var positions = new Dictionary<ScalarKey, int>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            if (ItemKey(list[i], mergeKey, kind) is { } key)
            {
                positions.TryAdd(key, i);
            }
        }
        return positions;
    }

    private static int Position(Dictionary<ScalarKey, int> positions, JsonNode? item, string? mergeKey, JsonValueKind kind) =>
        ItemKey(item, mergeKey, kind) is { } key && positions.TryGetValue(key, out var position) ? position : -1;

    private static ScalarKey? ItemKey(JsonNode? item, string? mergeKey, JsonValueKind kind) =>
        kind == JsonValueKind.Object
            ? KeyOf(item, mergeKey ?? "")
            : ScalarKey.TryCreate(item, out var key) ? key : null;

    /// <summary>The merge-key value of a map item, when the item is a map that has one.</summary>
    private static ScalarKey? KeyOf(JsonNode? item, string mergeKey) =>
        item is JsonObject map && map.TryGetPropertyValue(mergeKey, out var value) && ScalarKey.TryCreate(value, out var key)
            ? key
            : null;

    /// <summary>Splits <paramref name="items"/> into those present in <paramref name="by"/> and the rest (server-only).</summary>
    private static (List<JsonNode?> Present, List<JsonNode?> Absent) Partition(
        List<JsonNode?> items, IList<JsonNode?> by, string? mergeKey, JsonValueKind kind)
    {
        var present = new List<JsonNode?>(items.Count);
        var absent = new List<JsonNode?>(items.Count);
        if (items.Count == 0)
        {
            return (present, absent);
        }
        var keys = new HashSet<ScalarKey>();
        foreach (var candidate in by)
        {
            if (kind == JsonValueKind.Object && !string.IsNullOrEmpty(mergeKey) && candidate is not JsonObject)
            {
                throw PatchException.Unknown("value for key " + PatchNodes.Describe(candidate) + " is not a map");
            }
            if (ItemKey(candidate, mergeKey, kind) is { } key)
            {
                keys.Add(key);
            }
        }
        foreach (var item in items)
        {
            if (kind == JsonValueKind.Object)
            {
                RequireMergeKey(item, mergeKey ?? "");
            }
            (ItemKey(item, mergeKey, kind) is { } key && keys.Contains(key) ? present : absent).Add(item);
        }
        return (present, absent);
    }

    /// <summary>
    /// Upstream's check that a patch list agrees with its <c>$setElementOrder</c>: the patch's items (deletions
    /// aside) must appear in the order list, in the same relative order.
    /// </summary>
    private static void ValidateOrder(JsonArray? patchList, JsonArray order, string? mergeKey)
    {
        if (order.Count == 0 || patchList is null || patchList.Count == 0)
        {
            return;
        }
        var items = new List<JsonNode?>(patchList.Count);
        foreach (var item in patchList)
        {
            if (!string.IsNullOrEmpty(mergeKey))
            {
                if (item is not JsonObject map)
                {
                    throw BadArgType("map[string]interface {}", item);
                }
                if (PatchNodes.AsString(map[DirectiveMarker]) == "delete")
                {
                    continue;
                }
            }
            items.Add(item);
        }
        int p = 0, o = 0;
        while (p < items.Count && o < order.Count)
        {
            if (items[p] is JsonObject marked && marked.ContainsKey(DirectiveMarker))
            {
                p++;
                continue;
            }
            if (MergeKeyValueEqual(items[p], order[o], mergeKey))
            {
                p++;
            }
            o++;
        }
        if (p < items.Count && o >= order.Count)
        {
            throw PatchException.Unknown(
                $"The order in patch list:\n{PatchNodes.Describe(patchList)}\n doesn't match {SetElementOrderPrefix} list:\n{PatchNodes.Describe(order)}\n");
        }
    }

    private static bool MergeKeyValueEqual(JsonNode? left, JsonNode? right, string? mergeKey)
    {
        if (string.IsNullOrEmpty(mergeKey))
        {
            return ScalarKey.TryCreate(left, out var l) && ScalarKey.TryCreate(right, out var r) && l == r;
        }
        if (left is not JsonObject leftMap)
        {
            throw BadArgType("map[string]interface {}", left);
        }
        if (right is not JsonObject rightMap)
        {
            throw BadArgType("map[string]interface {}", right);
        }
        RequireMergeKey(leftMap, mergeKey);
        RequireMergeKey(rightMap, mergeKey);
        return KeyOf(leftMap, mergeKey) is { } lk && KeyOf(rightMap, mergeKey) is { } rk && lk == rk;
    }

    /// <summary>
    /// The common kind of the elements of both lists (booleans are one kind), null when both are empty. Lists of lists
    /// are refused with 422 and mixed kinds with 500, as upstream does.
    /// </summary>
    private static JsonValueKind? ElementKind(IEnumerable<JsonNode?> first, IEnumerable<JsonNode?> second)
    {
        JsonValueKind? kind = null;
        foreach (var item in first.Concat(second))
        {
            var itemKind = PatchNodes.KindOf(item) is JsonValueKind.False ? JsonValueKind.True : PatchNodes.KindOf(item);
            if (kind is null)
            {
                if (itemKind == JsonValueKind.Array)
                {
                    throw PatchException.Invalid("lists of lists are not supported");
                }
                kind = itemKind;
            }
            else if (itemKind != kind)
            {
                throw PatchException.Unknown(
                    $"list element types are not identical: [{PatchNodes.Describe(new JsonArray([.. first.Select(n => n?.DeepClone())]))} {PatchNodes.Describe(new JsonArray([.. second.Select(n => n?.DeepClone())]))}]");
            }
        }
        return kind;
    }

    private static List<JsonNode?> Deduplicate(IEnumerable<JsonNode?> items)
    {
        var seen = new HashSet<ScalarKey>();
        var unique = new List<JsonNode?>();
        foreach (var item in items)
        {
            if (!ScalarKey.TryCreate(item, out var key) || seen.Add(key))
            {
                unique.Add(item);
            }
        }
        return unique;
    }

    private static List<JsonNode?> DeleteScalars(List<JsonNode?> current, JsonArray toDelete)
    {
        var doomed = new HashSet<ScalarKey>();
        foreach (var item in toDelete)
        {
            if (ScalarKey.TryCreate(item, out var key))
            {
                doomed.Add(key);
            }
        }
        return [.. current.Where(item => !ScalarKey.TryCreate(item, out var key) || !doomed.Contains(key))];
    }

    /// <summary>Takes the items out of <paramref name="array"/> so they can be put into a new one.</summary>
    private static List<JsonNode?> Detach(JsonArray array)
    {
        var items = new List<JsonNode?>(array);
        array.Clear();
        return items;
    }

    private static JsonArray? ListOrNull(JsonNode? node) => node switch
    {
        null => null,
        JsonArray array => array,
        _ when PatchNodes.IsNull(node) => null,
        _ => throw BadArgType("[]interface {}", node),
    };

    /// <summary>"$setElementOrder/containers" → "containers"; a malformed directive name is a 400, as upstream.</summary>
    private static string ExtractKey(string key, string prefix)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !key.AsSpan(0, slash).SequenceEqual(prefix))
        {
            throw PatchException.BadRequest(prefix == DeleteFromPrimitiveListPrefix
                ? "invalid patch format of primitive list"
                : "invalid patch format of setElementOrder list");
        }
        return key[(slash + 1)..];
    }

    private (Strategy Strategy, string? MergeKey) StrategyOf(string path)
    {
        var field = meta.ForField(path);
        return (ParseStrategy(field.Strategy), field.MergeKey);
    }

    /// <summary>Upstream's extractRetainKeysPatchStrategy: retainKeys only matters to the patch's author, never here.</summary>
    private static Strategy ParseStrategy(string? tag)
    {
        if (string.IsNullOrEmpty(tag))
        {
            return Strategy.None;
        }
        var parts = tag.Split(',');
        var other = parts.Length switch
        {
            1 => parts[0] == "retainKeys" ? "" : parts[0],
            2 when parts[0] == "retainKeys" => parts[1],
            2 when parts[1] == "retainKeys" => parts[0],
            _ => throw PatchException.Unknown("unexpected patch strategy: [" + string.Join(' ', parts) + "]"),
        };
        return other switch
        {
            "merge" => Strategy.Merge,
            "replace" => Strategy.Replace,
            _ => Strategy.None,
        };
    }

    private static void RequireMergeKeys(IEnumerable<JsonNode?> items, string mergeKey)
    {
        foreach (var item in items)
        {
            RequireMergeKey(item, mergeKey);
        }
    }

    private static void RequireMergeKey(JsonNode? item, string mergeKey)
    {
        if (item is not JsonObject map)
        {
            throw BadArgType("map[string]interface {}", item);
        }
        if (!map.ContainsKey(mergeKey))
        {
            throw NoMergeKey(map, mergeKey);
        }
    }

    private static PatchException NoMergeKey(JsonObject map, string mergeKey) =>
        PatchException.Unknown($"map: {PatchNodes.Describe(map)} does not contain declared merge key: {mergeKey}");

    private static PatchException BadArgType(string expected, JsonNode? actual) =>
        PatchException.Unknown($"expected a {expected}, but received a {PatchNodes.GoTypeName(actual)}");
}
