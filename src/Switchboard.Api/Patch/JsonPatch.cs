using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Api.Patch;

/// <summary>
/// RFC 6902 JSON Patch (<c>application/json-patch+json</c>) with the semantics of gopkg.in/evanphx/json-patch.v4 as
/// kube-apiserver uses it: a missing parent fails every operation; <c>remove</c> of a missing member fails;
/// <c>replace</c> of a missing object member adds it (v4 never checks); negative array indices count from the end;
/// <c>test</c> treats a missing member as null; copies may add at most 3 MiB in total.
/// </summary>
public static class JsonPatch
{
    /// <summary>Parses <paramref name="patchUtf8"/> and applies it; see <see cref="Apply(JsonNode, JsonNode?)"/>.</summary>
    public static JsonNode Apply(JsonNode document, ReadOnlySpan<byte> patchUtf8)
    {
        ArgumentNullException.ThrowIfNull(document);
        return Apply(document, PatchNodes.Parse(patchUtf8, "patch"));
    }

    /// <summary>
    /// Applies <paramref name="patch"/> to a copy of <paramref name="document"/> and returns the copy; the inputs are
    /// never changed, so a caller may retry the same patch against a newer object. A JSON <c>null</c> body is an empty
    /// patch, as upstream decodes it.
    /// </summary>
    /// <exception cref="PatchException">400 when the body is not an array of objects, 413 past 10000 operations, 422
    /// when an operation does not apply.</exception>
    public static JsonNode Apply(JsonNode document, JsonNode? patch)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (patch is null)
        {
            return document.DeepClone();
        }
        if (patch is not JsonArray operations)
        {
            throw PatchException.BadRequest(
                $"json: cannot unmarshal {GoJsonKind(patch)} into Go value of type jsonpatch.Patch");
        }
        PatchNodes.EnsurePatchShape(patch);
        foreach (var operation in operations)
        {
            if (operation is not JsonObject and not null)
            {
                throw PatchException.BadRequest(
                    $"json: cannot unmarshal {GoJsonKind(operation)} into Go value of type jsonpatch.Operation");
            }
        }
        if (operations.Count > PatchLimits.MaxJsonPatchOperations)
        {
            throw PatchException.TooLarge(
                $"The allowed maximum operations in a JSON patch is {PatchLimits.MaxJsonPatchOperations}, got {operations.Count}");
        }
        PatchNodes.EnsureDocumentShape(document);
        if (document is not (JsonObject or JsonArray))
        {
            throw PatchException.Invalid("the object to patch is not a JSON object or array");
        }

        var state = new State(document.DeepClone());
        foreach (var operation in operations)
        {
            // A null array element decodes to an operation without members upstream: its kind is "unknown".
            state.Apply(operation as JsonObject ?? new JsonObject());
        }
        return state.Root;
    }

    private static string GoJsonKind(JsonNode? node) => PatchNodes.KindOf(node) switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        _ => "bool",
    };

    /// <summary>The document being patched and the copy budget; one per request.</summary>
    private sealed class State(JsonNode root)
    {
        private long _copiedBytes;

        public JsonNode Root { get; private set; } = root;

        public void Apply(JsonObject operation)
        {
            var kind = PatchNodes.AsString(operation["op"]) ?? "unknown";
            switch (kind)
            {
                case "add":
                    Add(operation);
                    break;
                case "remove":
                    Remove(operation);
                    break;
                case "replace":
                    Replace(operation);
                    break;
                case "move":
                    Move(operation);
                    break;
                case "copy":
                    Copy(operation);
                    break;
                case "test":
                    Test(operation);
                    break;
                default:
                    throw PatchException.Invalid("Unexpected kind: " + kind);
            }
        }

        private void Add(JsonObject operation)
        {
            var path = Pointer(operation, "path", "add operation failed to decode path");
            var (parent, key, tokens) = FindParent(path, "add operation does not apply: doc is missing path: \"" + path + "\"");
            // Upstream adds null when "value" is absent.
            var value = operation["value"]?.DeepClone();
            EnsureDepth(tokens.Length, value);
            Insert(parent, key, value, "error in add for path: '" + path + "'");
        }

        private void Remove(JsonObject operation)
        {
            var path = Pointer(operation, "path", "remove operation failed to decode path");
            var (parent, key, _) = FindParent(path, "remove operation does not apply: doc is missing path: \"" + path + "\"");
            Detach(parent, key, "error in remove for path: '" + path + "'");
        }

        private void Replace(JsonObject operation)
        {
            var path = Pointer(operation, "path", "replace operation failed to decode path");
            var value = operation["value"]?.DeepClone();
            if (path.Length == 0)
            {
                if (value is not (JsonObject or JsonArray))
                {
                    throw PatchException.Invalid("replace operation value must be object or array");
                }
                EnsureDepth(0, value);
                Root = value;
                return;
            }
            var (parent, key, tokens) = FindParent(path, "replace operation does not apply: doc is missing path: " + path);
            EnsureDepth(tokens.Length, value);
            if (parent is JsonObject obj)
            {
                // v4 never checks that the member exists: replacing a missing member adds it.
                obj[key] = value;
                return;
            }
            var array = (JsonArray)parent;
            if (!TryIndex(array, key, out var index))
            {
                throw PatchException.Invalid("replace operation does not apply: doc is missing key: " + path);
            }
            array[index] = value;
        }

        private void Move(JsonObject operation)
        {
            var from = Pointer(operation, "from", "move operation failed to decode from");
            var (source, sourceKey, _) = FindParent(from, "move operation does not apply: doc is missing from path: " + from);
            var value = Detach(source, sourceKey, "error in move for path: '" + sourceKey + "'");
            var path = Pointer(operation, "path", "move operation failed to decode path");
            var (parent, key, tokens) = FindParent(path, "move operation does not apply: doc is missing destination path: " + path);
            EnsureDepth(tokens.Length, value);
            Insert(parent, key, value, "error in move for path: '" + path + "'");
        }

        private void Copy(JsonObject operation)
        {
            var from = Pointer(operation, "from", "copy operation failed to decode from");
            var (source, sourceKey, _) = FindParent(from, "copy operation does not apply: doc is missing from path: " + from);
            // v4 copies a missing object member as null.
            var value = Get(source, sourceKey, "error in copy for from: '" + from + "'")?.DeepClone();
            var path = Pointer(operation, "path", "copy operation failed to decode path");
            var (parent, key, tokens) = FindParent(path, "copy operation does not apply: doc is missing destination path: " + path);
            if (value is not null)
            {
                _copiedBytes += JsonSerializer.SerializeToUtf8Bytes(value).LongLength;
                if (_copiedBytes > PatchLimits.MaxJsonPatchCopyBytes)
                {
                    throw PatchException.Invalid(
                        $"Unable to complete the copy, the accumulated size increase of copy is {_copiedBytes}, exceeding the limit {PatchLimits.MaxJsonPatchCopyBytes}");
                }
            }
            EnsureDepth(tokens.Length, value);
            Insert(parent, key, value, "error while adding value during copy");
        }

        private void Test(JsonObject operation)
        {
            var path = Pointer(operation, "path", "test operation failed to decode path");
            var hasValue = operation.TryGetPropertyValue("value", out var expected);
            JsonNode? actual;
            if (path.Length == 0)
            {
                actual = Root;
            }
            else
            {
                var (parent, key, _) = FindParent(path, "test operation does not apply: is missing path: " + path);
                actual = Get(parent, key, "error in test for path: '" + path + "'");
            }
            // A missing member and null are the same to v4; a test without "value" never passes.
            if (!hasValue || !PatchNodes.JsonEquals(actual, expected))
            {
                throw PatchException.Invalid("testing value " + path + " failed: test failed");
            }
        }

        private static string Pointer(JsonObject operation, string member, string error)
        {
            if (PatchNodes.AsString(operation[member]) is not { } pointer)
            {
                throw PatchException.Invalid(error + ": missing value");
            }
            return pointer;
        }

        /// <summary>
        /// The container holding the last token of <paramref name="path"/>. Every step before it must exist and be an
        /// object or array: JSON patch never creates parents.
        /// </summary>
        private (JsonNode Parent, string Key, string[] Tokens) FindParent(string path, string error)
        {
            if (!JsonPointer.TryParse(path, out var tokens) || tokens.Length == 0)
            {
                throw PatchException.Invalid(error);
            }
            var current = Root;
            for (var i = 0; i < tokens.Length - 1; i++)
            {
                JsonNode? next = null;
                if (current is JsonObject obj)
                {
                    obj.TryGetPropertyValue(tokens[i], out next);
                }
                else if (current is JsonArray array && TryIndex(array, tokens[i], out var index))
                {
                    next = array[index];
                }
                if (next is not (JsonObject or JsonArray))
                {
                    throw PatchException.Invalid(error);
                }
                current = next;
            }
            return (current, tokens[^1], tokens);
        }

        private static JsonNode? Get(JsonNode parent, string key, string error)
        {
            if (parent is JsonObject obj)
            {
                return obj.TryGetPropertyValue(key, out var value) ? value : null;
            }
            var array = (JsonArray)parent;
            if (!TryIndex(array, key, out var index))
            {
                throw PatchException.Invalid(error + ": Unable to access invalid index: " + key + ": invalid index referenced");
            }
            return array[index];
        }

        private static void Insert(JsonNode parent, string key, JsonNode? value, string error)
        {
            if (parent is JsonObject obj)
            {
                obj[key] = value;
                return;
            }
            var array = (JsonArray)parent;
            if (key == "-")
            {
                array.Add(value);
                return;
            }
            if (!int.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
            {
                throw PatchException.Invalid(error + ": value was not a proper array index: '" + key + "'");
            }
            // Inserting may address one past the end; negative indices count back from that position.
            var size = array.Count + 1;
            if (index >= size || index < -size)
            {
                throw PatchException.Invalid(error + ": Unable to access invalid index: " + key + ": invalid index referenced");
            }
            array.Insert(index < 0 ? index + size : index, value);
        }

        private static JsonNode? Detach(JsonNode parent, string key, string error)
        {
            if (parent is JsonObject obj)
            {
                if (!obj.TryGetPropertyValue(key, out var value))
                {
                    throw PatchException.Invalid(error + ": Unable to remove nonexistent key: " + key + ": missing value");
                }
                obj.Remove(key);
                return value;
            }
            var array = (JsonArray)parent;
            if (!TryIndex(array, key, out var index))
            {
                throw PatchException.Invalid(error + ": Unable to access invalid index: " + key + ": invalid index referenced");
            }
            var item = array[index];
            array.RemoveAt(index);
            return item;
        }

        /// <summary>An existing element's index; negative indices count from the end, "-" is never an element.</summary>
        private static bool TryIndex(JsonArray array, string key, out int index)
        {
            if (!int.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out index))
            {
                return false;
            }
            if (index < 0)
            {
                index += array.Count;
            }
            return index >= 0 && index < array.Count;
        }

        /// <summary>
        /// Keeps the document within <see cref="PatchLimits.MaxDepth"/> after every insertion, so later operations
        /// (and the copy and compare above) never walk an unbounded tree.
        /// </summary>
        private static void EnsureDepth(int insertionDepth, JsonNode? value)
        {
            if (insertionDepth + PatchNodes.Depth(value, PatchLimits.MaxDepth) > PatchLimits.MaxDepth)
            {
                throw PatchException.Invalid($"the patched object would nest deeper than {PatchLimits.MaxDepth} levels");
            }
        }
    }
}
