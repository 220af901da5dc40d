using Switchboard.Api.Schema;

namespace Switchboard.Api.Patch;

/// <summary>
/// <see cref="IPatchMeta"/> for one served kind, read from the one patch-strategy table (<see cref="PatchStrategies"/>)
/// through the schema catalogue's type graph, so strategic merge patch and the published OpenAPI can never disagree.
/// Deliberately thin: resolution lives in <see cref="SchemaCatalog.FindPatchInfo"/>.
/// </summary>
public sealed class SchemaPatchMeta : IPatchMeta
{
    private readonly SchemaCatalog _schemas;

    /// <param name="schemas">The server's schema catalogue (built once at start-up).</param>
    /// <param name="modelType">The kind's model type, e.g. <c>typeof(V1Service)</c> (ResourceInfo.ModelType).</param>
    public SchemaPatchMeta(SchemaCatalog schemas, Type modelType)
    {
        ArgumentNullException.ThrowIfNull(schemas);
        ArgumentNullException.ThrowIfNull(modelType);
        _schemas = schemas;
        ModelType = modelType;
    }

    public Type ModelType { get; }

    public PatchFieldMeta ForField(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return _schemas.FindPatchInfo(ModelType, path) is { } info
            ? new PatchFieldMeta(info.PatchStrategy, info.PatchMergeKey)
            : PatchFieldMeta.None;
    }
}
