using System.Collections.Frozen;
using System.Collections.Immutable;
using k8s.Models;

namespace Switchboard.Api.Resources;

/// <summary>
/// Every resource Switchboard serves, in discovery order. Names, short names and categories follow
/// upstream v1.33 discovery (kubectl api-resources).
/// </summary>
public sealed class ResourceCatalog
{
    private readonly FrozenDictionary<(string Group, string Version, string Plural), ResourceInfo> _byPath;
    private readonly FrozenDictionary<(string Group, string Kind), ResourceInfo> _byKind;

    public ResourceCatalog(IEnumerable<ResourceInfo> resources)
    {
        All = [.. resources];
        _byPath = All.ToFrozenDictionary(r => (r.Group, r.Version, r.Plural));
        _byKind = All.ToFrozenDictionary(r => (r.Group, r.Kind));
        Groups = [.. All.Select(r => r.Group).Distinct()];
    }

    public ImmutableArray<ResourceInfo> All { get; }

    /// <summary>API groups in discovery order; "" is the core group.</summary>
    public ImmutableArray<string> Groups { get; }

    public ResourceInfo? Find(string group, string version, string plural) =>
        _byPath.TryGetValue((group, version, plural), out var r) ? r : null;

    public ResourceInfo? FindKind(string group, string kind) =>
        _byKind.TryGetValue((group, kind), out var r) ? r : null;

    public IEnumerable<ResourceInfo> InGroupVersion(string group, string version) =>
        All.Where(r => r.Group == group && r.Version == version);

    /// <summary>The resources served by Switchboard (API server issue, stage 1).</summary>
    public static ResourceCatalog Default { get; } = new(
    [
        Core<V1Namespace>("namespaces", "namespace", false, ["ns"], [], ["status", "finalize"]),
        Core<V1Node>("nodes", "node", false, ["no"], [], ["status"]),
        Core<V1Pod>("pods", "pod", true, ["po"], ["all"], ["status", "binding", "exec", "attach", "log", "portforward"]),
        Core<V1Service>("services", "service", true, ["svc"], ["all"], ["status"]),
        Core<V1Endpoints>("endpoints", "endpoints", true, ["ep"], [], []),
        Core<V1Secret>("secrets", "secret", true, [], [], []),
        Core<V1ConfigMap>("configmaps", "configmap", true, ["cm"], [], []),
        Core<V1ServiceAccount>("serviceaccounts", "serviceaccount", true, ["sa"], [], ["token"]),
        Core<Corev1Event>("events", "event", true, ["ev"], [], []),
        Res<V1Deployment>("apps", "v1", "deployments", "deployment", true, ["deploy"], ["all"], ["status", "scale"]),
        Res<V1ReplicaSet>("apps", "v1", "replicasets", "replicaset", true, ["rs"], ["all"], ["status", "scale"]),
        Res<V1Lease>("coordination.k8s.io", "v1", "leases", "lease", true, [], [], []),
        Res<V1EndpointSlice>("discovery.k8s.io", "v1", "endpointslices", "endpointslice", true, [], [], []),
        Res<V1Ingress>("networking.k8s.io", "v1", "ingresses", "ingress", true, ["ing"], [], ["status"]),
        Res<V1IngressClass>("networking.k8s.io", "v1", "ingressclasses", "ingressclass", false, [], [], []),
        Res<V1NetworkPolicy>("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", true, ["netpol"], [], []),
        Res<V1IPAddress>("networking.k8s.io", "v1", "ipaddresses", "ipaddress", false, ["ip"], [], []),
        Res<V1ServiceCIDR>("networking.k8s.io", "v1", "servicecidrs", "servicecidr", false, [], [], ["status"]),
    ]);

    private static ResourceInfo Core<T>(string plural, string singular, bool namespaced, string[] shortNames, string[] categories, string[] subresources) =>
        Res<T>("", "v1", plural, singular, namespaced, shortNames, categories, subresources);

    private static ResourceInfo Res<T>(string group, string version, string plural, string singular, bool namespaced, string[] shortNames, string[] categories, string[] subresources)
    {
        var kind = typeof(T).GetCustomAttributes(typeof(KubernetesEntityAttribute), false) is [KubernetesEntityAttribute a, ..]
            ? a.Kind
            : throw new InvalidOperationException($"{typeof(T)} has no KubernetesEntity attribute");
        return new ResourceInfo
        {
            Group = group,
            Version = version,
            Kind = kind,
            Plural = plural,
            Singular = singular,
            Namespaced = namespaced,
            ModelType = typeof(T),
            ShortNames = [.. shortNames],
            Categories = [.. categories],
            Subresources = [.. subresources],
        };
    }
}
