using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Serialization;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Patch;

/// <summary>
/// <see cref="IPatchMeta"/> over <see cref="PatchStrategies"/>, the one table of per-field patch tags: a path is
/// resolved by walking the KubernetesClient model types of the kind (via their <c>[JsonPropertyName]</c>s) to the
/// type that declares the field, which is how the table is keyed. Create one per served kind and keep it: it caches.
/// </summary>
public sealed class ModelPatchMeta : IPatchMeta
{
    /// <summary>Paths are user-controlled (unknown fields, map keys): the cache stops growing here.</summary>
    private const int MaxCachedPaths = 4096;

    private readonly ConcurrentDictionary<string, PatchFieldMeta> _byPath = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, Type>> _fieldsByType = new();

    /// <param name="modelType">The kind's model type, e.g. <c>typeof(V1Service)</c> (ResourceInfo.ModelType).</param>
    public ModelPatchMeta(Type modelType)
    {
        ArgumentNullException.ThrowIfNull(modelType);
        ModelType = modelType;
    }

    public Type ModelType { get; }

    public PatchFieldMeta ForField(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_byPath.TryGetValue(path, out var cached))
        {
            return cached;
        }
        var meta = Resolve(path);
        if (_byPath.Count < MaxCachedPaths)
        {
            _byPath.TryAdd(path, meta);
        }
        return meta;
    }

    private PatchFieldMeta Resolve(string path)
    {
        Type? current = ModelType;
        Type? declaring = null;
        string? field = null;
        foreach (var (name, itemLevels) in PatchPath.Steps(path))
        {
            if (current is null)
            {
                return PatchFieldMeta.None;
            }
            if (MapValueType(current) is { } valueType)
            {
                // A map key is data, not a field: nothing under it is tagged in the table.
                declaring = null;
                field = null;
                current = valueType;
            }
            else if (FieldsOf(current).TryGetValue(name, out var fieldType))
            {
                declaring = current;
                field = name;
                current = fieldType;
            }
            else
            {
                return PatchFieldMeta.None;
            }
            for (var i = 0; i < itemLevels; i++)
            {
                // Asking about an element ("containers[]") is not asking about a field.
                declaring = null;
                current = current is null ? null : ListElementType(current);
            }
        }
        if (declaring is null || field is null)
        {
            return PatchFieldMeta.None;
        }
        var info = PatchStrategies.Find(declaring, field);
        return info is null ? PatchFieldMeta.None : new PatchFieldMeta(info.PatchStrategy, info.PatchMergeKey);
    }

    private IReadOnlyDictionary<string, Type> FieldsOf(Type type) => _fieldsByType.GetOrAdd(type, static t =>
    {
        var fields = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var property in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonPropertyNameAttribute>() is { } json)
            {
                fields.TryAdd(json.Name, Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType);
            }
        }
        return fields;
    });

    private static Type? MapValueType(Type type) =>
        GenericInterface(type, typeof(IDictionary<,>)) is { } map && map.GetGenericArguments()[0] == typeof(string)
            ? map.GetGenericArguments()[1]
            : null;

    private static Type? ListElementType(Type type) =>
        type == typeof(string) || MapValueType(type) is not null
            ? null
            : GenericInterface(type, typeof(IEnumerable<>))?.GetGenericArguments()[0];

    private static Type? GenericInterface(Type type, Type definition)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == definition)
        {
            return type;
        }
        foreach (var candidate in type.GetInterfaces())
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == definition)
            {
                return candidate;
            }
        }
        return null;
    }
}
