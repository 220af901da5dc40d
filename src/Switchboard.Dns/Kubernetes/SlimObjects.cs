using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Switchboard.Dns.Kubernetes;

// What the reflectors cache: the API objects with only the fields DNS reads (client-go's "transform" done at parse
// time). System.Text.Json skips every property these types do not declare, so managed fields, status, most
// annotations and the rest never become objects; the reflector store holds a few hundred bytes per object.

/// <summary>Reads only name, namespace, uid, resourceVersion and the labels/annotations DNS uses; skips the rest.</summary>
internal sealed class SlimMetadataConverter : JsonConverter<V1ObjectMeta>
{
    private static readonly HashSet<string> KeptLabels = [SliceInfo.ServiceNameLabel];
    private static readonly HashSet<string> KeptAnnotations = [ServiceInfo.TolerateUnreadyAnnotation, SliceInfo.TriggerTimeAnnotation];

    public override V1ObjectMeta Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("metadata must be an object");
        }
        var meta = new V1ObjectMeta();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var property = reader.GetString();
            reader.Read();
            switch (property)
            {
                case "name":
                    meta.Name = reader.GetString();
                    break;
                case "namespace":
                    meta.NamespaceProperty = reader.GetString();
                    break;
                case "uid":
                    meta.Uid = reader.GetString();
                    break;
                case "resourceVersion":
                    meta.ResourceVersion = reader.GetString();
                    break;
                case "labels":
                    meta.Labels = ReadSome(ref reader, KeptLabels);
                    break;
                case "annotations":
                    meta.Annotations = ReadSome(ref reader, KeptAnnotations);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
        return meta;
    }

    public override void Write(Utf8JsonWriter writer, V1ObjectMeta value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("name", value.Name);
        if (value.NamespaceProperty is { } ns)
        {
            writer.WriteString("namespace", ns);
        }
        writer.WriteEndObject();
    }

    private static Dictionary<string, string>? ReadSome(ref Utf8JsonReader reader, HashSet<string> keep)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        Dictionary<string, string>? result = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (keep.Contains(key) && reader.TokenType == JsonTokenType.String)
            {
                (result ??= new(StringComparer.Ordinal))[key] = reader.GetString()!;
            }
            else
            {
                reader.Skip();
            }
        }
        return result;
    }
}

/// <summary>A Service as DNS reads it.</summary>
[KubernetesEntity(Group = "", Kind = "Service", ApiVersion = "v1", PluralName = "services")]
internal sealed class ServiceObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Service";

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public ServiceSpecPart? Spec { get; set; }
}

internal sealed class ServiceSpecPart
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("clusterIP")]
    public string? ClusterIP { get; set; }

    [JsonPropertyName("clusterIPs")]
    public List<string>? ClusterIPs { get; set; }

    [JsonPropertyName("externalName")]
    public string? ExternalName { get; set; }

    [JsonPropertyName("publishNotReadyAddresses")]
    public bool? PublishNotReadyAddresses { get; set; }

    [JsonPropertyName("ports")]
    public List<PortPart>? Ports { get; set; }
}

/// <summary>A Service or EndpointSlice port: the fields SRV needs.</summary>
internal sealed class PortPart
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }

    [JsonPropertyName("protocol")]
    public string? Protocol { get; set; }
}

/// <summary>An EndpointSlice as DNS reads it.</summary>
[KubernetesEntity(Group = "discovery.k8s.io", Kind = "EndpointSlice", ApiVersion = "v1", PluralName = "endpointslices")]
internal sealed class EndpointSliceObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "discovery.k8s.io/v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "EndpointSlice";

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("addressType")]
    public string? AddressType { get; set; }

    [JsonPropertyName("endpoints")]
    public List<EndpointPart>? Endpoints { get; set; }

    [JsonPropertyName("ports")]
    public List<PortPart>? Ports { get; set; }
}

internal sealed class EndpointPart
{
    [JsonPropertyName("addresses")]
    public List<string>? Addresses { get; set; }

    [JsonPropertyName("hostname")]
    public string? Hostname { get; set; }

    [JsonPropertyName("conditions")]
    public ConditionsPart? Conditions { get; set; }
}

internal sealed class ConditionsPart
{
    [JsonPropertyName("ready")]
    public bool? Ready { get; set; }
}

/// <summary>A Namespace as DNS reads it: its name.</summary>
[KubernetesEntity(Group = "", Kind = "Namespace", ApiVersion = "v1", PluralName = "namespaces")]
internal sealed class NamespaceObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Namespace";

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();
}

/// <summary>A Pod as DNS reads it: where it lives and its IPs.</summary>
[KubernetesEntity(Group = "", Kind = "Pod", ApiVersion = "v1", PluralName = "pods")]
internal sealed class PodObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Pod";

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public PodSpecPart? Spec { get; set; }

    [JsonPropertyName("status")]
    public PodStatusPart? Status { get; set; }
}

internal sealed class PodSpecPart
{
    [JsonPropertyName("hostNetwork")]
    public bool? HostNetwork { get; set; }
}

internal sealed class PodStatusPart
{
    [JsonPropertyName("podIP")]
    public string? PodIP { get; set; }

    [JsonPropertyName("podIPs")]
    public List<PodIpPart>? PodIPs { get; set; }
}

internal sealed class PodIpPart
{
    [JsonPropertyName("ip")]
    public string? Ip { get; set; }
}
