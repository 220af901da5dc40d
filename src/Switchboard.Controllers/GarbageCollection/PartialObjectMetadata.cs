using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>
/// Any object read as its metadata only: the collector needs identity, owners, finalizers and the deletion
/// timestamp, so its caches keep this rather than whole Pods and Secrets (upstream's metadata informers), and one
/// type serves every kind in the catalogue.
/// </summary>
internal sealed class PartialObjectMetadata : IKubernetesObject<V1ObjectMeta>
{
    private V1ObjectMeta _metadata = new();

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata
    {
        get => _metadata;
        set
        {
            // Dropped as soon as they are parsed: they are the bulk of most metadata (last-applied annotations,
            // managed fields) and the collector never reads them.
            value.ManagedFields = null;
            value.Annotations = null;
            value.Labels = null;
            _metadata = value;
        }
    }
}
