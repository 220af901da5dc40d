using System.Collections.Frozen;
using System.Collections.Immutable;
using k8s;
using k8s.Models;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Apply;

internal enum ShapeKind : byte
{
    /// <summary>A string, number, boolean, time, quantity or int-or-string: always a leaf.</summary>
    Scalar,
    /// <summary>An untyped value (<c>object</c> in the models): treated as one atomic leaf.</summary>
    Untyped,
    /// <summary>A model type: fields by name.</summary>
    Struct,
    /// <summary>A string-keyed map: every key is its own field.</summary>
    Map,
    List,
}

internal enum ListKind : byte
{
    Atomic,
    Set,
    Map,
}

/// <summary>
/// How structured-merge-diff sees the value at one position: scalar, struct, map or list, granular or atomic, and
/// for lists their type and keys. Derived from the schema catalogue and the one patch-strategy table
/// (<see cref="PatchStrategies"/>); a list without <c>listType</c> is a map keyed by its merge key when its patch
/// strategy is <c>merge</c> (a set without a key), otherwise atomic, as upstream's schema conversion does.
/// </summary>
internal readonly struct Shape
{
    private Shape(ShapeKind kind, bool atomic, TypeSchema? type, ValueSchema? element, ListKind list, ImmutableArray<string> keys)
    {
        Kind = kind;
        Atomic = atomic;
        Type = type;
        Element = element;
        List = list;
        Keys = keys;
    }

    public ShapeKind Kind { get; }

    /// <summary>Replaced and owned as a whole (scalars and untyped values always are).</summary>
    public bool Atomic { get; }

    public TypeSchema? Type { get; }

    public ValueSchema? Element { get; }

    public ListKind List { get; }

    /// <summary>List-map keys, in declaration order.</summary>
    public ImmutableArray<string> Keys { get; }

    public static Shape Scalar { get; } = new(ShapeKind.Scalar, true, null, null, ListKind.Atomic, []);

    public static Shape Untyped { get; } = new(ShapeKind.Untyped, true, null, null, ListKind.Atomic, []);

    public static Shape OfType(TypeSchema type, bool atomic = false) =>
        new(ShapeKind.Struct, atomic || PatchStrategies.IsAtomicStruct(type.ClrType), type, null, ListKind.Atomic, []);

    public static Shape Of(ValueSchema value, FieldPatchInfo? patch)
    {
        switch (value.Kind)
        {
            case ValueKind.Object:
                return OfType(value.Object!, patch?.MapType == "atomic");
            case ValueKind.Map:
                return new(ShapeKind.Map, patch?.MapType == "atomic", null, value.Element, ListKind.Atomic, []);
            case ValueKind.Array:
                var (list, keys) = ListTypeOf(patch);
                if (list == ListKind.Map && value.Element?.Kind != ValueKind.Object)
                {
                    list = ListKind.Atomic;
                }
                return new(ShapeKind.List, list == ListKind.Atomic, null, value.Element, list, keys);
            case ValueKind.FieldsV1 or ValueKind.Any:
                return Untyped;
            default:
                return Scalar;
        }
    }

    private static (ListKind List, ImmutableArray<string> Keys) ListTypeOf(FieldPatchInfo? patch)
    {
        switch (patch?.ListType)
        {
            case "atomic":
                return (ListKind.Atomic, []);
            case "set":
                return (ListKind.Set, []);
            case "map":
                return (ListKind.Map, patch.ListMapKeys.IsDefaultOrEmpty && patch.PatchMergeKey is { } k ? [k] : patch.ListMapKeys);
        }
        if (patch?.PatchStrategy?.Contains("merge", StringComparison.Ordinal) == true)
        {
            return patch.PatchMergeKey is { } key ? (ListKind.Map, [key]) : (ListKind.Set, []);
        }
        return (ListKind.Atomic, []);
    }

    public bool IsStruct => Kind == ShapeKind.Struct;

    /// <summary>The shape of a struct field or map value; false for a field the struct does not declare.</summary>
    public bool TryChild(string name, out Shape child)
    {
        if (Kind == ShapeKind.Struct)
        {
            if (Type!.Find(name) is { } field)
            {
                child = Of(field.Value, field.Patch);
                return true;
            }
            child = default;
            return false;
        }
        if (Kind == ShapeKind.Map)
        {
            child = Element is null ? Untyped : Of(Element, null);
            return true;
        }
        child = default;
        return false;
    }

    public Shape ItemShape => Element is null ? Untyped : Of(Element, null);

    /// <summary>Whether <paramref name="name"/> is a declared field of this struct (not a map key).</summary>
    public bool Declares(string name) => Kind == ShapeKind.Struct && Type!.Find(name) is not null;

    /// <summary>
    /// Fields Go always serialises on the typed objects upstream compares: value (non-pointer) structs, which encode
    /// as <c>{}</c> even when empty, and the few collections without <c>omitempty</c>, which encode as <c>null</c>.
    /// Upstream's comparisons therefore never see these appear or vanish as containers, so neither may ours, or an
    /// Update entry would gain a <c>.</c> on, say, <c>f:spec</c>. Source: k8s.io/api types.go (v1.33).
    /// </summary>
    public bool GoAlwaysEncodes(string field, out bool isNullCollection)
    {
        isNullCollection = false;
        if (Kind != ShapeKind.Struct)
        {
            return false;
        }
        var type = Type!.ClrType;
        if (field is "metadata" or "spec" or "status" && typeof(IKubernetesObject).IsAssignableFrom(type))
        {
            return Type.Find(field) is not null;
        }
        if (GoNullCollections.Contains((type, field)))
        {
            isNullCollection = true;
            return true;
        }
        return GoValueStructs.Contains((type, field));
    }

    private static readonly FrozenSet<(Type, string)> GoValueStructs = new[]
    {
        (typeof(V1PodTemplateSpec), "metadata"), (typeof(V1PodTemplateSpec), "spec"),
        (typeof(V1DeploymentSpec), "template"), (typeof(V1DeploymentSpec), "strategy"),
        (typeof(V1ReplicaSetSpec), "template"),
        (typeof(V1StatefulSetSpec), "template"), (typeof(V1StatefulSetSpec), "updateStrategy"),
        (typeof(V1DaemonSetSpec), "template"), (typeof(V1DaemonSetSpec), "updateStrategy"),
        (typeof(V1Container), "resources"), (typeof(V1EphemeralContainer), "resources"),
        (typeof(V1ServiceStatus), "loadBalancer"), (typeof(V1IngressStatus), "loadBalancer"),
        (typeof(V1NodeStatus), "daemonEndpoints"), (typeof(V1NodeStatus), "nodeInfo"),
        (typeof(V1NodeDaemonEndpoints), "kubeletEndpoint"),
        (typeof(Corev1Event), "involvedObject"), (typeof(Corev1Event), "source"),
        (typeof(V1Endpoint), "conditions"),
    }.ToFrozenSet();

    private static readonly FrozenSet<(Type, string)> GoNullCollections = new[]
    {
        (typeof(V1PodSpec), "containers"),
        (typeof(V1EndpointSlice), "endpoints"),
    }.ToFrozenSet();

    /// <summary>
    /// Defaults of list-map key fields (OpenAPI <c>default</c>), which upstream substitutes when an item omits the
    /// key: <c>ports: [{port: 80}]</c> is the item <c>{"port":80,"protocol":"TCP"}</c>.
    /// </summary>
    public static string? KeyDefault(Type itemType, string key) =>
        key == "protocol" && (itemType == typeof(V1ServicePort) || itemType == typeof(V1ContainerPort)) ? "TCP" : null;
}
