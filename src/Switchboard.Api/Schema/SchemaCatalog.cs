using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json.Serialization;
using k8s.Models;
using Switchboard.Api.Resources;

namespace Switchboard.Api.Schema;

/// <summary>
/// OpenAPI v3 component schemas for every model type reachable from the served kinds (plus their lists, subresource
/// bodies, Status and DeleteOptions), named as upstream names them. Built by reflection over the KubernetesClient
/// models once at construction (tens of milliseconds); descriptions are loaded only when a schema is first written.
/// The same type graph drives <see cref="FieldValidator"/> and patch-metadata lookups.
/// </summary>
public sealed partial class SchemaCatalog
{
    private readonly FrozenDictionary<Type, TypeSchema> _byType;
    private readonly FrozenDictionary<string, TypeSchema> _byName;
    private readonly ModelDescriptions _descriptions;

    public SchemaCatalog(ResourceCatalog resources)
        : this(resources, ModelDescriptions.FromDefaultSources())
    {
    }

    internal SchemaCatalog(ResourceCatalog resources, ModelDescriptions descriptions)
    {
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentNullException.ThrowIfNull(descriptions);
        _descriptions = descriptions;
        Resources = resources;

        var named = NameReachableTypes(resources);
        _byType = named.ToFrozenDictionary(p => p.Type, p => new TypeSchema(p.Type, p.Name));
        _byName = _byType.Values.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var schema in _byType.Values)
        {
            schema.Complete(BuildFields(schema.ClrType));
        }
        Names = [.. _byName.Keys.Concat(SpecialSchemas.Keys).Order(StringComparer.Ordinal)];
    }

    internal ResourceCatalog Resources { get; }

    /// <summary>Every component-schema name this catalogue can write, sorted.</summary>
    public ImmutableArray<string> Names { get; }

    /// <summary>Upstream component name of a model type (io.k8s.api.core.v1.Service for V1Service).</summary>
    public bool TryGetName(Type modelType, [NotNullWhen(true)] out string? name)
    {
        ArgumentNullException.ThrowIfNull(modelType);
        name = _byType.TryGetValue(modelType, out var schema) ? schema.Name : null;
        return name is not null;
    }

    /// <summary>
    /// Patch metadata of the field at a dotted JSON path below <paramref name="rootType"/>, e.g.
    /// (V1Deployment, "spec.template.spec.containers"). List and map levels are stepped through implicitly; an
    /// index suffix ("containers[0]") is ignored. Null when the path does not exist or the field is untagged.
    /// </summary>
    public FieldPatchInfo? FindPatchInfo(Type rootType, string path)
    {
        ArgumentNullException.ThrowIfNull(rootType);
        ArgumentNullException.ThrowIfNull(path);
        if (!_byType.TryGetValue(rootType, out var current))
        {
            return null;
        }
        FieldSchema? field = null;
        foreach (var raw in path.Split('.'))
        {
            if (current is null)
            {
                return null;
            }
            var bracket = raw.IndexOf('[', StringComparison.Ordinal);
            field = current.Find(bracket < 0 ? raw : raw[..bracket]);
            if (field is null)
            {
                return null;
            }
            current = ObjectBehind(field.Value);
        }
        return field?.Patch;
    }

    internal TypeSchema? Find(Type type) => _byType.GetValueOrDefault(type);

    internal TypeSchema? Find(string name) => _byName.GetValueOrDefault(name);

    internal ModelDescriptions Descriptions => _descriptions;

    /// <summary>The object type a value ultimately holds, looking through lists and maps.</summary>
    private static TypeSchema? ObjectBehind(ValueSchema value)
    {
        while (value.Element is { } element)
        {
            value = element;
        }
        return value.Object;
    }

    /// <summary>The kind, its list, and subresource body types of a resource, in a stable order.</summary>
    internal static IEnumerable<Type> RootTypes(ResourceInfo resource)
    {
        yield return resource.ModelType;
        if (ListTypeOf(resource.ModelType) is { } list)
        {
            yield return list;
        }
        foreach (var sub in resource.Subresources)
        {
            if (SubresourceBody(resource, sub) is { } body && body != resource.ModelType)
            {
                yield return body;
            }
        }
    }

    /// <summary>V1Service → V1ServiceList, Corev1Event → Corev1EventList (the generator's convention).</summary>
    internal static Type? ListTypeOf(Type kind) => kind.Assembly.GetType(kind.FullName + "List");

    /// <summary>Request/response body type of a subresource; null when it is not object-shaped for OpenAPI.</summary>
    internal static Type? SubresourceBody(ResourceInfo resource, string subresource) => subresource switch
    {
        "status" or "finalize" => resource.ModelType,
        "scale" => typeof(V1Scale),
        "token" => typeof(Authenticationv1TokenRequest),
        _ => null,
    };

    /// <summary>
    /// Walks the model graph kind by kind (core kinds first, so shared core types are named core) and gives every
    /// reachable type a unique upstream name.
    /// </summary>
    private static List<(Type Type, string Name)> NameReachableTypes(ResourceCatalog resources)
    {
        var roots = new List<(Type Type, string Package)>();
        foreach (var resource in resources.All.OrderBy(r => r.Group.Length == 0 ? 0 : 1))
        {
            var package = SchemaNaming.PackageOfGroup(resource.Group);
            roots.AddRange(RootTypes(resource).Select(t => (t, package)));
        }
        roots.Add((typeof(V1Status), SchemaNaming.MetaPackage));
        roots.Add((typeof(V1DeleteOptions), SchemaNaming.MetaPackage));

        var result = new List<(Type, string)>();
        var seen = new HashSet<Type>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<(Type Type, string Package)>();
        foreach (var root in roots)
        {
            queue.Enqueue(root);
            while (queue.TryDequeue(out var item))
            {
                if (!seen.Add(item.Type))
                {
                    continue;
                }
                var (package, version, shortName) = SchemaNaming.Parse(item.Type);
                package ??= item.Package;
                var name = SchemaNaming.Compose(package, version, shortName);
                if (!used.Add(name))
                {
                    name = SchemaNaming.Fallback(item.Type);
                    used.Add(name);
                }
                result.Add((item.Type, name));
                foreach (var property in JsonProperties(item.Type))
                {
                    foreach (var child in ModelTypesIn(property.Property.PropertyType))
                    {
                        queue.Enqueue((child, package));
                    }
                }
            }
        }
        return result;
    }

    /// <summary>Serialised properties: those with [JsonPropertyName] and without [JsonIgnore], by JSON name.</summary>
    internal static IEnumerable<(string JsonName, PropertyInfo Property)> JsonProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => (Name: p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name, Property: p))
            .Where(p => p.Name is not null)
            .Select(p => (p.Name!, p.Property))
            .OrderBy(p => p.Item1, StringComparer.Ordinal);

    private static IEnumerable<Type> ModelTypesIn(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsModelClass(type))
        {
            yield return type;
            yield break;
        }
        if (ElementOf(type) is { } element)
        {
            foreach (var inner in ModelTypesIn(element.Type))
            {
                yield return inner;
            }
        }
    }

    private static bool IsModelClass(Type type) =>
        type.IsClass && type.Namespace == "k8s.Models" && type != typeof(IntOrString) && type != typeof(ResourceQuantity);

    /// <summary>Element type of a list (IsMap false) or string-keyed dictionary (IsMap true); null otherwise.</summary>
    private static (Type Type, bool IsMap)? ElementOf(Type type)
    {
        if (type == typeof(string) || type == typeof(byte[]))
        {
            return null;
        }
        if (type.IsArray)
        {
            return (type.GetElementType()!, false);
        }
        var candidates = type.IsInterface ? type.GetInterfaces().Append(type) : type.GetInterfaces();
        Type? list = null;
        foreach (var i in candidates)
        {
            if (!i.IsGenericType)
            {
                continue;
            }
            var definition = i.GetGenericTypeDefinition();
            if (definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>))
            {
                return (i.GetGenericArguments()[1], true);
            }
            if (definition == typeof(IEnumerable<>))
            {
                list = i.GetGenericArguments()[0];
            }
        }
        return list is null ? null : (list, false);
    }

    private ImmutableArray<FieldSchema> BuildFields(Type type)
    {
        var fields = ImmutableArray.CreateBuilder<FieldSchema>();
        foreach (var (jsonName, property) in JsonProperties(type))
        {
            fields.Add(new FieldSchema
            {
                JsonName = jsonName,
                Property = property,
                Value = Shape(property.PropertyType, type, jsonName),
                Patch = PatchStrategies.Find(type, jsonName),
                Index = fields.Count,
            });
        }
        return fields.ToImmutable();
    }

    private static readonly ValueSchema StringValue = new() { Kind = ValueKind.String };
    private static readonly ValueSchema Int32Value = new() { Kind = ValueKind.Integer, Format = "int32" };
    private static readonly ValueSchema Int64Value = new() { Kind = ValueKind.Integer, Format = "int64" };
    private static readonly ValueSchema DoubleValue = new() { Kind = ValueKind.Number, Format = "double" };
    private static readonly ValueSchema BooleanValue = new() { Kind = ValueKind.Boolean };
    private static readonly ValueSchema BytesValue = new() { Kind = ValueKind.Bytes };
    private static readonly ValueSchema TimeValue = new() { Kind = ValueKind.Time };
    private static readonly ValueSchema MicroTimeValue = new() { Kind = ValueKind.MicroTime };
    private static readonly ValueSchema IntOrStringValue = new() { Kind = ValueKind.IntOrString };
    private static readonly ValueSchema QuantityValue = new() { Kind = ValueKind.Quantity };
    private static readonly ValueSchema FieldsV1Value = new() { Kind = ValueKind.FieldsV1 };
    private static readonly ValueSchema AnyValue = new() { Kind = ValueKind.Any };

    /// <summary>
    /// Fields the models type as DateTime that upstream types as metav1.MicroTime (microsecond precision on the wire).
    /// Source: k8s.io/api core/v1 Event, EventSeries and coordination/v1 LeaseSpec.
    /// </summary>
    private static readonly FrozenSet<(Type, string)> MicroTimeFields = new[]
    {
        (typeof(Corev1Event), "eventTime"),
        (typeof(Corev1EventSeries), "lastObservedTime"),
        (typeof(V1LeaseSpec), "acquireTime"),
        (typeof(V1LeaseSpec), "renewTime"),
    }.ToFrozenSet();

    private ValueSchema Shape(Type type, Type? declaring, string? jsonName)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return StringValue;
        }
        if (type == typeof(int) || type == typeof(short) || type == typeof(byte))
        {
            return Int32Value;
        }
        if (type == typeof(long))
        {
            return Int64Value;
        }
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return DoubleValue;
        }
        if (type == typeof(bool))
        {
            return BooleanValue;
        }
        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
        {
            return declaring is not null && jsonName is not null && MicroTimeFields.Contains((declaring, jsonName)) ? MicroTimeValue : TimeValue;
        }
        if (type == typeof(byte[]))
        {
            return BytesValue;
        }
        if (type == typeof(IntOrString))
        {
            return IntOrStringValue;
        }
        if (type == typeof(ResourceQuantity))
        {
            return QuantityValue;
        }
        if (type == typeof(object))
        {
            return declaring == typeof(V1ManagedFieldsEntry) && jsonName == "fieldsV1" ? FieldsV1Value : AnyValue;
        }
        if (_byType.TryGetValue(type, out var schema))
        {
            return new ValueSchema { Kind = ValueKind.Object, Object = schema };
        }
        if (ElementOf(type) is { } element)
        {
            return new ValueSchema
            {
                Kind = element.IsMap ? ValueKind.Map : ValueKind.Array,
                Element = Shape(element.Type, null, null),
            };
        }
        return AnyValue;
    }
}
