using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Switchboard.Controllers.Tests.Support;

/// <summary>Builders and reads for the functional tests, through the typed KubernetesClient.</summary>
internal static class Objects
{
    public const string HoldFinalizer = "test.switchboard.dev/hold";

    public static string UniqueNamespace(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    public static async Task<string> CreateNamespaceAsync(IKubernetes client, string prefix)
    {
        var name = UniqueNamespace(prefix);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { ApiVersion = "v1", Kind = "Namespace", Metadata = new V1ObjectMeta { Name = name } });
        return name;
    }

    public static V1OwnerReference OwnerOf(IKubernetesObject<V1ObjectMeta> owner, bool block = true, bool controller = false) =>
        new() { ApiVersion = owner.ApiVersion, Kind = owner.Kind, Name = owner.Metadata.Name, Uid = owner.Metadata.Uid, BlockOwnerDeletion = block, Controller = controller };

    public static Task<V1ConfigMap> CreateConfigMapAsync(IKubernetes client, string ns, string name, IEnumerable<V1OwnerReference>? owners = null, IEnumerable<string>? finalizers = null) =>
        client.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap
            {
                ApiVersion = "v1",
                Kind = "ConfigMap",
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, OwnerReferences = owners?.ToList(), Finalizers = finalizers?.ToList() },
                Data = new Dictionary<string, string> { ["k"] = "v" },
            },
            ns);

    public static Task<V1ConfigMap?> TryGetConfigMapAsync(IKubernetes client, string ns, string name) =>
        TryReadAsync(() => client.CoreV1.ReadNamespacedConfigMapAsync(name, ns));

    public static Task<V1Pod> CreatePodAsync(IKubernetes client, string ns, string name, IKubernetesObject<V1ObjectMeta> owner, IEnumerable<string>? finalizers = null) =>
        client.CoreV1.CreateNamespacedPodAsync(
            new V1Pod
            {
                ApiVersion = "v1",
                Kind = "Pod",
                Metadata = new V1ObjectMeta
                {
                    Name = name,
                    NamespaceProperty = ns,
                    Labels = new Dictionary<string, string> { ["app"] = "gc" },
                    OwnerReferences = [OwnerOf(owner, controller: true)],
                    Finalizers = finalizers?.ToList(),
                },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
            },
            ns);

    public static V1PodTemplateSpec PodTemplate() => new()
    {
        Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "gc" } },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
    };

    public static Task<V1ReplicaSet> CreateReplicaSetAsync(IKubernetes client, string ns, string name, IKubernetesObject<V1ObjectMeta>? owner = null) =>
        client.AppsV1.CreateNamespacedReplicaSetAsync(
            new V1ReplicaSet
            {
                ApiVersion = "apps/v1",
                Kind = "ReplicaSet",
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, OwnerReferences = owner is null ? null : [OwnerOf(owner, controller: true)] },
                Spec = new V1ReplicaSetSpec
                {
                    // No replica controller runs in these tests; zero keeps the object honest if one ever does.
                    Replicas = 0,
                    Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "gc" } },
                    Template = PodTemplate(),
                },
            },
            ns);

    public static Task<V1Deployment> CreateDeploymentAsync(IKubernetes client, string ns, string name) =>
        client.AppsV1.CreateNamespacedDeploymentAsync(
            new V1Deployment
            {
                ApiVersion = "apps/v1",
                Kind = "Deployment",
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                Spec = new V1DeploymentSpec
                {
                    Replicas = 0,
                    Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "gc" } },
                    Template = PodTemplate(),
                },
            },
            ns);

    /// <summary>Drops every finalizer (the test's hold) with a merge patch.</summary>
    public static V1Patch ClearFinalizers() => new("{\"metadata\":{\"finalizers\":null}}", V1Patch.PatchType.MergePatch);

    public static async Task<T?> TryReadAsync<T>(Func<Task<T>> read)
        where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
