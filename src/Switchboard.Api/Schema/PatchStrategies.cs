using System.Collections.Frozen;
using System.Collections.Immutable;
using k8s.Models;

namespace Switchboard.Api.Schema;

/// <summary>
/// How one field merges: the legacy strategic-merge-patch tags (<c>patchStrategy</c>, <c>patchMergeKey</c>) and the
/// server-side-apply markers (<c>listType</c>, <c>listMapKey</c>, <c>mapType</c>). Null members mean "not tagged":
/// lists then replace under SMP and, under SSA, a merge key stands in for a missing list-map key.
/// </summary>
public sealed record FieldPatchInfo
{
    /// <summary><c>merge</c>, <c>retainKeys</c> or <c>merge,retainKeys</c>.</summary>
    public string? PatchStrategy { get; init; }
    public string? PatchMergeKey { get; init; }
    /// <summary><c>atomic</c>, <c>set</c> or <c>map</c>.</summary>
    public string? ListType { get; init; }
    public ImmutableArray<string> ListMapKeys { get; init; } = [];
    /// <summary><c>atomic</c> for maps (and structs) that are replaced as a whole.</summary>
    public string? MapType { get; init; }
}

/// <summary>
/// The one table of patch metadata for the fields of the kinds we serve, keyed by the model type that declares the
/// field and the field's JSON name. The OpenAPI documents publish it (<c>x-kubernetes-patch-strategy</c>,
/// <c>x-kubernetes-patch-merge-key</c>, <c>x-kubernetes-list-type</c>, <c>x-kubernetes-list-map-keys</c>,
/// <c>x-kubernetes-map-type</c>) and the strategic-merge-patch / apply code reads the same entries, so the two can
/// never disagree.
/// </summary>
/// <remarks>
/// Source: the struct tags and <c>+listType</c>/<c>+listMapKey</c>/<c>+mapType</c>/<c>+structType</c> markers in
/// k8s.io/api (core/v1, apps/v1, discovery/v1, networking/v1 types.go) and k8s.io/apimachinery meta/v1 types.go, as
/// rendered into kubernetes/kubernetes api/openapi-spec/v3 (v1.33). Where a list marker could not be confirmed only the
/// SMP tags are listed; SSA then treats the merge key as the list-map key, which is what upstream does for untagged
/// lists. Service <c>spec.ports</c> deliberately merges by <c>port</c> alone under SMP (upstream bug #39188 et al.):
/// we match it rather than fix it.
/// </remarks>
public static class PatchStrategies
{
    /// <summary>Structs upstream marks <c>+structType=atomic</c> / <c>+mapType=atomic</c>: replaced whole by apply.</summary>
    private static readonly FrozenSet<Type> AtomicStructs = new[]
    {
        typeof(V1LabelSelector), typeof(V1ObjectReference), typeof(V1LocalObjectReference),
        typeof(V1TypedLocalObjectReference), typeof(V1NodeSelector), typeof(V1NodeSelectorTerm),
        typeof(V1ConfigMapKeySelector), typeof(V1SecretKeySelector), typeof(V1ObjectFieldSelector),
        typeof(V1ResourceFieldSelector), typeof(Discoveryv1EndpointPort), typeof(V1ConfigMapEnvSource),
        typeof(V1SecretEnvSource),
    }.ToFrozenSet();

    /// <summary>Patch metadata of field <paramref name="jsonField"/> declared on <paramref name="declaringType"/>.</summary>
    public static FieldPatchInfo? Find(Type declaringType, string jsonField)
    {
        ArgumentNullException.ThrowIfNull(declaringType);
        ArgumentNullException.ThrowIfNull(jsonField);
        return Fields.TryGetValue((declaringType, jsonField), out var info) ? info : null;
    }

    /// <summary>True when upstream publishes <c>x-kubernetes-map-type: atomic</c> on the type itself.</summary>
    public static bool IsAtomicStruct(Type type) => AtomicStructs.Contains(type);

    /// <summary>Every entry, for tests and for generators that want the whole table.</summary>
    public static IEnumerable<KeyValuePair<(Type Type, string Field), FieldPatchInfo>> All => Fields;

    private static FieldPatchInfo MergeMap(string key, params string[] mapKeys) => new()
    {
        PatchStrategy = "merge",
        PatchMergeKey = key,
        ListType = "map",
        ListMapKeys = mapKeys.Length == 0 ? [key] : [.. mapKeys],
    };

    private static FieldPatchInfo MergeKeyOnly(string key) => new() { PatchStrategy = "merge", PatchMergeKey = key };

    private static readonly FieldPatchInfo Atomic = new() { ListType = "atomic" };
    private static readonly FieldPatchInfo Set = new() { ListType = "set" };
    private static readonly FieldPatchInfo MergeSet = new() { PatchStrategy = "merge", ListType = "set" };
    private static readonly FieldPatchInfo AtomicMap = new() { MapType = "atomic" };

    // Declared after the shared entries above: static initialisers run in text order.
    private static readonly FrozenDictionary<(Type Type, string Field), FieldPatchInfo> Fields = BuildFields();

    private static FrozenDictionary<(Type, string), FieldPatchInfo> BuildFields()
    {
        var retainByName = new FieldPatchInfo
        {
            PatchStrategy = "merge,retainKeys",
            PatchMergeKey = "name",
            ListType = "map",
            ListMapKeys = ["name"],
        };
        var byType = MergeMap("type");

        (Type, string, FieldPatchInfo)[] entries =
        [
            // meta/v1
            (typeof(V1ObjectMeta), "finalizers", MergeSet),
            (typeof(V1ObjectMeta), "ownerReferences", MergeMap("uid")),
            (typeof(V1ObjectMeta), "managedFields", Atomic),
            (typeof(V1LabelSelector), "matchExpressions", Atomic),
            (typeof(V1LabelSelectorRequirement), "values", Atomic),
            (typeof(V1StatusDetails), "causes", Atomic),
            (typeof(V1DeleteOptions), "dryRun", Atomic),

            // core/v1 Pod
            (typeof(V1PodSpec), "volumes", retainByName),
            (typeof(V1PodSpec), "initContainers", MergeMap("name")),
            (typeof(V1PodSpec), "containers", MergeMap("name")),
            (typeof(V1PodSpec), "ephemeralContainers", MergeMap("name")),
            (typeof(V1PodSpec), "imagePullSecrets", MergeMap("name")),
            (typeof(V1PodSpec), "hostAliases", MergeMap("ip")),
            (typeof(V1PodSpec), "tolerations", Atomic),
            (typeof(V1PodSpec), "topologySpreadConstraints", MergeMap("topologyKey", "topologyKey", "whenUnsatisfiable")),
            (typeof(V1PodSpec), "readinessGates", Atomic),
            (typeof(V1PodSpec), "resourceClaims", retainByName),
            (typeof(V1PodSpec), "schedulingGates", MergeMap("name")),
            (typeof(V1PodSpec), "nodeSelector", AtomicMap),
            (typeof(V1PodDNSConfig), "nameservers", Atomic),
            (typeof(V1PodDNSConfig), "searches", Atomic),
            (typeof(V1PodDNSConfig), "options", Atomic),
            (typeof(V1PodSecurityContext), "supplementalGroups", Atomic),
            (typeof(V1PodSecurityContext), "sysctls", Atomic),
            (typeof(V1Capabilities), "add", Atomic),
            (typeof(V1Capabilities), "drop", Atomic),
            (typeof(V1PodStatus), "conditions", byType),
            (typeof(V1PodStatus), "podIPs", MergeMap("ip")),
            (typeof(V1PodStatus), "hostIPs", new FieldPatchInfo { PatchStrategy = "merge", PatchMergeKey = "ip", ListType = "atomic" }),
            (typeof(V1PodStatus), "initContainerStatuses", Atomic),
            (typeof(V1PodStatus), "containerStatuses", Atomic),
            (typeof(V1PodStatus), "ephemeralContainerStatuses", Atomic),
            (typeof(V1PodStatus), "resourceClaimStatuses", retainByName),

            // core/v1 Container and EphemeralContainer carry the same tags.
            (typeof(V1Container), "ports", MergeMap("containerPort", "containerPort", "protocol")),
            (typeof(V1Container), "env", MergeMap("name")),
            (typeof(V1Container), "envFrom", Atomic),
            (typeof(V1Container), "volumeMounts", MergeMap("mountPath")),
            (typeof(V1Container), "volumeDevices", MergeMap("devicePath")),
            (typeof(V1Container), "command", Atomic),
            (typeof(V1Container), "args", Atomic),
            (typeof(V1Container), "resizePolicy", Atomic),
            (typeof(V1Container), "restartPolicyRules", Atomic),
            (typeof(V1EphemeralContainer), "ports", MergeMap("containerPort", "containerPort", "protocol")),
            (typeof(V1EphemeralContainer), "env", MergeMap("name")),
            (typeof(V1EphemeralContainer), "envFrom", Atomic),
            (typeof(V1EphemeralContainer), "volumeMounts", MergeMap("mountPath")),
            (typeof(V1EphemeralContainer), "volumeDevices", MergeMap("devicePath")),
            (typeof(V1EphemeralContainer), "command", Atomic),
            (typeof(V1EphemeralContainer), "args", Atomic),
            (typeof(V1EphemeralContainer), "resizePolicy", Atomic),
            (typeof(V1EphemeralContainer), "restartPolicyRules", Atomic),

            // core/v1 Service; ports merge by port only under SMP, apply keys on port+protocol.
            (typeof(V1ServiceSpec), "ports", MergeMap("port", "port", "protocol")),
            (typeof(V1ServiceSpec), "selector", AtomicMap),
            (typeof(V1ServiceSpec), "clusterIPs", Atomic),
            (typeof(V1ServiceSpec), "externalIPs", Atomic),
            (typeof(V1ServiceSpec), "loadBalancerSourceRanges", Atomic),
            (typeof(V1ServiceSpec), "ipFamilies", Atomic),
            (typeof(V1ServiceStatus), "conditions", byType),
            (typeof(V1LoadBalancerStatus), "ingress", Atomic),
            (typeof(V1LoadBalancerIngress), "ports", Atomic),

            // core/v1 Node, Namespace, Endpoints, ServiceAccount
            (typeof(V1NodeSpec), "podCIDRs", MergeSet),
            (typeof(V1NodeSpec), "taints", Atomic),
            (typeof(V1NodeStatus), "conditions", MergeKeyOnly("type")),
            (typeof(V1NodeStatus), "addresses", MergeKeyOnly("type")),
            (typeof(V1NodeStatus), "images", Atomic),
            (typeof(V1NodeStatus), "volumesInUse", Atomic),
            (typeof(V1NodeStatus), "volumesAttached", Atomic),
            (typeof(V1NamespaceSpec), "finalizers", Atomic),
            (typeof(V1NamespaceStatus), "conditions", MergeKeyOnly("type")),
            (typeof(V1Endpoints), "subsets", Atomic),
            (typeof(V1EndpointSubset), "addresses", Atomic),
            (typeof(V1EndpointSubset), "notReadyAddresses", Atomic),
            (typeof(V1EndpointSubset), "ports", Atomic),
            (typeof(V1ServiceAccount), "secrets", MergeKeyOnly("name")),
            (typeof(V1ServiceAccount), "imagePullSecrets", Atomic),

            // apps/v1
            (typeof(V1DeploymentStatus), "conditions", MergeKeyOnly("type")),
            (typeof(V1ReplicaSetStatus), "conditions", MergeKeyOnly("type")),

            // discovery/v1
            (typeof(V1EndpointSlice), "endpoints", Atomic),
            (typeof(V1EndpointSlice), "ports", Atomic),
            (typeof(V1Endpoint), "addresses", Set),
            (typeof(V1EndpointHints), "forZones", Atomic),
            (typeof(V1EndpointHints), "forNodes", Atomic),

            // networking/v1
            (typeof(V1IngressSpec), "tls", Atomic),
            (typeof(V1IngressSpec), "rules", Atomic),
            (typeof(V1IngressTLS), "hosts", Atomic),
            (typeof(V1HTTPIngressRuleValue), "paths", Atomic),
            (typeof(V1IngressLoadBalancerStatus), "ingress", Atomic),
            (typeof(V1IngressLoadBalancerIngress), "ports", Atomic),
            (typeof(V1NetworkPolicySpec), "ingress", Atomic),
            (typeof(V1NetworkPolicySpec), "egress", Atomic),
            (typeof(V1NetworkPolicySpec), "policyTypes", Atomic),
            (typeof(V1NetworkPolicyIngressRule), "ports", Atomic),
            (typeof(V1NetworkPolicyIngressRule), "from", Atomic),
            (typeof(V1NetworkPolicyEgressRule), "ports", Atomic),
            (typeof(V1NetworkPolicyEgressRule), "to", Atomic),
            (typeof(V1IPBlock), "except", Atomic),
        ];
        return entries.ToFrozenDictionary(e => (e.Item1, e.Item2), e => e.Item3);
    }
}
