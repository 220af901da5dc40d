using System.Reflection;
using System.Text;
using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>What a reflector lists and watches: one resource collection, optionally narrowed by namespace and selectors.</summary>
public sealed record ResourceRequest
{
    /// <summary>API group; "" is the core group (served under /api).</summary>
    public required string Group { get; init; }

    /// <summary>API version, e.g. "v1".</summary>
    public required string Version { get; init; }

    /// <summary>Lower-case plural used in URLs, e.g. "services".</summary>
    public required string Plural { get; init; }

    /// <summary>Namespace to watch; null watches all namespaces (and is required for cluster-scoped kinds).</summary>
    public string? Namespace { get; init; }

    /// <summary>Label selector sent as <c>labelSelector</c>, e.g. "kubernetes.io/service-name=web".</summary>
    public string? LabelSelector { get; init; }

    /// <summary>Field selector sent as <c>fieldSelector</c>, e.g. "spec.nodeName=node-1".</summary>
    public string? FieldSelector { get; init; }

    /// <summary>Builds a request from the model's [KubernetesEntity] attribute (group, version, plural).</summary>
    public static ResourceRequest For<T>(string? @namespace = null)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{typeof(T)} has no [KubernetesEntity] attribute.", nameof(T));
        return new ResourceRequest
        {
            Group = entity.Group ?? "",
            Version = entity.ApiVersion,
            Plural = entity.PluralName,
            Namespace = @namespace,
        };
    }

    /// <summary>Collection path relative to the server base: api/v1/namespaces/ns/services or apis/g/v/plural.</summary>
    internal string CollectionPath
    {
        get
        {
            var sb = new StringBuilder(64);
            sb.Append(Group.Length == 0 ? "api/" : "apis/" + Uri.EscapeDataString(Group) + "/");
            sb.Append(Uri.EscapeDataString(Version)).Append('/');
            if (!string.IsNullOrEmpty(Namespace))
            {
                sb.Append("namespaces/").Append(Uri.EscapeDataString(Namespace)).Append('/');
            }

            return sb.Append(Uri.EscapeDataString(Plural)).ToString();
        }
    }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Group);
        ArgumentException.ThrowIfNullOrEmpty(Version);
        ArgumentException.ThrowIfNullOrEmpty(Plural);
    }
}
