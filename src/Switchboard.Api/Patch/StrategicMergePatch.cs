using System.Text.Json.Nodes;

namespace Switchboard.Api.Patch;

/// <summary>
/// Strategic merge patch (<c>application/strategic-merge-patch+json</c>) for built-in kinds, following
/// k8s.io/apimachinery/pkg/util/strategicpatch as kube-apiserver applies it (StrategicMergeMapPatch): maps merge,
/// <c>null</c> deletes, lists whose field is tagged <c>patchStrategy: merge</c> merge by <c>patchMergeKey</c> (or as
/// a set, for scalars) and every other list is replaced. Directives: <c>$patch: replace|delete</c> in maps and list
/// elements, <c>$retainKeys</c>, <c>$deleteFromPrimitiveList/&lt;field&gt;</c> and <c>$setElementOrder/&lt;field&gt;</c>.
/// Service <c>spec.ports</c> merges by <c>port</c> alone, so TCP and UDP on one port collapse: upstream bug #39188,
/// matched on purpose.
/// </summary>
public static class StrategicMergePatch
{
    /// <summary>Parses <paramref name="patchUtf8"/> and applies it; see <see cref="Apply(JsonNode, JsonNode?, IPatchMeta)"/>.</summary>
    public static JsonNode Apply(JsonNode document, ReadOnlySpan<byte> patchUtf8, IPatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(meta);
        return Apply(document, PatchNodes.Parse(patchUtf8, "patch"), meta);
    }

    /// <summary>
    /// Applies <paramref name="patch"/> to a copy of <paramref name="document"/> and returns the copy; the inputs are
    /// never changed. A JSON <c>null</c> body is an empty patch, as upstream decodes it.
    /// </summary>
    /// <exception cref="PatchException">400 for a body that is not an object or a malformed directive, 422 for lists of
    /// lists, 500 (empty reason) for the other errors upstream leaves unconverted, e.g. a missing merge key.</exception>
    public static JsonNode Apply(JsonNode document, JsonNode? patch, IPatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(meta);
        if (patch is null)
        {
            return document.DeepClone();
        }
        if (patch is not JsonObject patchObject)
        {
            throw PatchException.BadRequest(
                $"json: cannot unmarshal {PatchNodes.KindOf(patch).ToString().ToLowerInvariant()} into Go value of type map[string]interface {{}}");
        }
        PatchNodes.EnsurePatchShape(patch);
        PatchNodes.EnsureDocumentShape(document);
        if (document is not JsonObject original)
        {
            throw PatchException.Invalid("the object to patch is not a JSON object");
        }
        return new StrategicMerger(meta).MergeMap((JsonObject)original.DeepClone(), patchObject, "");
    }
}
