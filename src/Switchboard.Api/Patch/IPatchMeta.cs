namespace Switchboard.Api.Patch;

/// <summary>
/// Strategic-merge metadata of one kind's fields (one instance per group and kind): upstream's <c>patchStrategy</c>
/// and <c>patchMergeKey</c> struct tags. <see cref="SchemaPatchMeta"/> serves the built-in kinds.
/// </summary>
public interface IPatchMeta
{
    /// <summary>
    /// Metadata of the field at <paramref name="path"/>: JSON names joined by dots, <c>[]</c> after a list for its
    /// elements (<c>spec.ports</c>, <c>spec.template.spec.containers[].env</c>). Unknown fields have no strategy.
    /// </summary>
    PatchFieldMeta ForField(string path);
}

/// <summary>
/// A field's <c>patchStrategy</c> (<c>merge</c>, <c>replace</c>, <c>retainKeys</c> or <c>merge,retainKeys</c>) and
/// <c>patchMergeKey</c>. Without a strategy, lists are replaced and maps are merged.
/// </summary>
public readonly record struct PatchFieldMeta(string? Strategy, string? MergeKey)
{
    public static PatchFieldMeta None => default;
}
