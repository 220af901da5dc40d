using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>The API objects a container's environment and service-account files come from (faked in tests).</summary>
internal interface IPodDependencies
{
    Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct);

    Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct);

    /// <summary>Services of one namespace (for service links and the master <c>default/kubernetes</c>).</summary>
    Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct);

    /// <summary>A bound service-account token for the Pod (TokenRequest), or null when it cannot be issued.</summary>
    Task<string?> ServiceAccountTokenAsync(V1Pod pod, CancellationToken ct);
}

/// <summary>A container's configuration cannot be made (a missing ConfigMap/Secret/key): CreateContainerConfigError.</summary>
internal sealed class ContainerConfigException(string message) : Exception(message);
