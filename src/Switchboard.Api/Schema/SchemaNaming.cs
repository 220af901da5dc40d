using System.Collections.Frozen;
using System.Reflection;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Switchboard.Api.Schema;

/// <summary>
/// Maps KubernetesClient model types (V1Service, Corev1Event, Discoveryv1EndpointPort, ...) to upstream OpenAPI
/// component names (io.k8s.api.core.v1.Service, ...). The C# names carry the version but, for nested types, not the
/// API group, so the group comes from (in order): the meta table, [KubernetesEntity], a "Corev1"-style name prefix,
/// a short override table, and finally the package of the type through which the walk first reached it.
/// </summary>
internal static partial class SchemaNaming
{
    public const string MetaPackage = "meta";
    public const string MetaV1Prefix = "io.k8s.apimachinery.pkg.apis.meta.v1.";
    public const string IntOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
    public const string Quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
    public const string Time = MetaV1Prefix + "Time";
    public const string MicroTime = MetaV1Prefix + "MicroTime";
    public const string FieldsV1 = MetaV1Prefix + "FieldsV1";
    public const string Patch = MetaV1Prefix + "Patch";
    public const string Status = MetaV1Prefix + "Status";
    public const string DeleteOptions = MetaV1Prefix + "DeleteOptions";

    /// <summary>k8s.io/apimachinery/pkg/apis/meta/v1 types; some carry a core-looking [KubernetesEntity] (Status).</summary>
    private static readonly FrozenSet<Type> MetaTypes = new[]
    {
        typeof(V1ObjectMeta), typeof(V1ListMeta), typeof(V1OwnerReference), typeof(V1ManagedFieldsEntry),
        typeof(V1LabelSelector), typeof(V1LabelSelectorRequirement), typeof(V1Condition), typeof(V1Status),
        typeof(V1StatusDetails), typeof(V1StatusCause), typeof(V1DeleteOptions), typeof(V1Preconditions),
        typeof(V1WatchEvent),
    }.ToFrozenSet();

    /// <summary>core/v1 types that other groups embed and that a non-core kind may reach first.</summary>
    private static readonly FrozenDictionary<Type, string> NestedPackages = new Dictionary<Type, string>
    {
        [typeof(V1PodTemplateSpec)] = "core",
        [typeof(V1ObjectReference)] = "core",
        [typeof(V1LocalObjectReference)] = "core",
        [typeof(V1TypedLocalObjectReference)] = "core",
    }.ToFrozenDictionary();

    /// <summary>"Corev1Event" → (core, v1, Event): the generator's disambiguation prefix names the group.</summary>
    [GeneratedRegex("^(?<pkg>[A-Z][a-z]+)(?<ver>v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)(?<name>[A-Z].*)$", RegexOptions.CultureInvariant)]
    private static partial Regex PackagePrefixed();

    /// <summary>"V1ServiceSpec" → (v1, ServiceSpec).</summary>
    [GeneratedRegex("^V(?<ver>[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)(?<name>[A-Z].*)$", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPrefixed();

    /// <summary>Upstream package segment of an API group: "" → core, "discovery.k8s.io" → discovery.</summary>
    public static string PackageOfGroup(string group)
    {
        if (group.Length == 0)
        {
            return "core";
        }
        var dot = group.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? group : group[..dot];
    }

    /// <summary>
    /// Package (null when it must be inherited from the referencing type), version and short name of a model type.
    /// </summary>
    public static (string? Package, string Version, string ShortName) Parse(Type type)
    {
        if (MetaTypes.Contains(type))
        {
            var m = VersionPrefixed().Match(type.Name);
            return (MetaPackage, "v1", m.Success ? m.Groups["name"].Value : type.Name);
        }
        if (type.GetCustomAttribute<KubernetesEntityAttribute>() is { } entity)
        {
            return (PackageOfGroup(entity.Group ?? ""), entity.ApiVersion, entity.Kind);
        }
        var prefixed = PackagePrefixed().Match(type.Name);
        if (prefixed.Success)
        {
            return (prefixed.Groups["pkg"].Value.ToLowerInvariant(), prefixed.Groups["ver"].Value, prefixed.Groups["name"].Value);
        }
        var versioned = VersionPrefixed().Match(type.Name);
        if (versioned.Success)
        {
            return (NestedPackages.GetValueOrDefault(type), "v" + versioned.Groups["ver"].Value, versioned.Groups["name"].Value);
        }
        return (NestedPackages.GetValueOrDefault(type), "v1", type.Name);
    }

    public static string Compose(string package, string version, string shortName) =>
        package == MetaPackage ? MetaV1Prefix + shortName : "io.k8s.api." + package + "." + version + "." + shortName;

    /// <summary>Last resort when two model types would share an upstream name: unique by construction.</summary>
    public static string Fallback(Type type) => "io.k8s.switchboard.models." + type.Name;
}
