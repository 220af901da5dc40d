using System.Text.Json.Nodes;

namespace Switchboard.Api.Patch;

/// <summary>
/// RFC 7386 JSON Merge Patch (<c>application/merge-patch+json</c>) as evanphx/json-patch v4 implements it for
/// kube-apiserver: objects merge recursively, <c>null</c> deletes, arrays and scalars replace, and a value that lands
/// where there was no object has its nested <c>null</c> members pruned.
/// </summary>
public static class MergePatch
{
    /// <summary>Parses <paramref name="patchUtf8"/> and applies it; see <see cref="Apply(JsonNode, JsonNode?)"/>.</summary>
    public static JsonNode Apply(JsonNode document, ReadOnlySpan<byte> patchUtf8)
    {
        ArgumentNullException.ThrowIfNull(document);
        return Apply(document, PatchNodes.Parse(patchUtf8, "patch"));
    }

    /// <summary>Applies <paramref name="patch"/> to a copy of <paramref name="document"/>; the inputs are never changed.</summary>
    /// <exception cref="PatchException">400 when the patch is not a JSON object (upstream: "Invalid JSON Patch" for
    /// <c>null</c>; a strict decoding error for arrays and scalars).</exception>
    public static JsonNode Apply(JsonNode document, JsonNode? patch)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (patch is null)
        {
            throw PatchException.BadRequest("Invalid JSON Patch");
        }
        if (patch is not JsonObject patchObject)
        {
            throw PatchException.BadRequest(
                $"error decoding patch: json: cannot unmarshal {PatchNodes.KindOf(patch).ToString().ToLowerInvariant()} into Go value of type map[string]interface {{}}");
        }
        PatchNodes.EnsurePatchShape(patch);
        PatchNodes.EnsureDocumentShape(document);
        if (document is not JsonObject target)
        {
            // RFC 7386: a non-object target is replaced by the patch applied to an empty object.
            return Pruned(patchObject);
        }
        var result = (JsonObject)target.DeepClone();
        MergeInto(result, patchObject);
        return result;
    }

    /// <summary>Merges <paramref name="patch"/> into <paramref name="target"/> in place (the patch is only read).</summary>
    internal static void MergeInto(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch)
        {
            if (value is null)
            {
                target.Remove(key);
                continue;
            }
            if (target.TryGetPropertyValue(key, out var current) && current is JsonObject currentObject)
            {
                if (value is JsonObject valueObject)
                {
                    MergeInto(currentObject, valueObject);
                }
                else
                {
                    // An object replaced by an array or scalar: the value is taken as sent.
                    target[key] = value.DeepClone();
                }
                continue;
            }
            target[key] = Pruned(value);
        }
    }

    /// <summary>
    /// A copy of <paramref name="value"/> without null object members at any depth (null array elements stay), which
    /// is what merging it into nothing yields.
    /// </summary>
    internal static JsonNode Pruned(JsonNode value)
    {
        switch (value)
        {
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, member) in obj)
                {
                    if (!PatchNodes.IsNull(member))
                    {
                        copy[key] = Pruned(member!);
                    }
                }
                return copy;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(item is null ? null : Pruned(item));
                }
                return items;
            default:
                return value.DeepClone();
        }
    }
}
