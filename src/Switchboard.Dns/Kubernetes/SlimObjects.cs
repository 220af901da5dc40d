using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Switchboard.Dns.Kubernetes;

// What the reflectors cache: the API objects with only the fields DNS reads (client-go's "transform" done at parse
// time). System.Text.Json skips every property these types do not declare, so managed fields, status, most
// annotations and the rest never become objects; the reflector store holds a few hundred bytes per object. Lists
// are arrays: exact size, where a List would keep spare capacity in every object.

/// <summary>
/// Returns shared literals for the values nearly every object repeats (protocols, Service types, address types,
/// common port names and namespaces) instead of a new string per object; anything else is read as usual. Only a
/// fixed vocabulary is shared, so nothing grows with what the cluster sends.
/// </summary>
internal sealed class KnownStringConverter : JsonConverter<string>
{
    private static readonly System.Collections.Immutable.ImmutableArray<string> Known =
    [
        "TCP", "UDP", "SCTP", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "None", "IPv4", "IPv6",
        "http", "https", "dns", "dns-tcp", "metrics", "grpc", "web", "default", "kube-system", "kube-public", "true",
    ];

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Intern(ref reader);

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    internal static string? Intern(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (!reader.HasValueSequence && !reader.ValueIsEscaped && reader.ValueSpan.Length <= 16)
        {
            foreach (var k in Known)
            {
                if (reader.ValueTextEquals(k))
                {
                    return k;
                }
            }
        }
        return reader.GetString();
    }
}

/// <summary>Reads only name, namespace, uid, resourceVersion and the labels/annotations DNS uses; skips the rest.</summary>
internal sealed class SlimMetadataConverter : JsonConverter<V1ObjectMeta>
{
    private static readonly FrozenSet<string> KeptLabels = FrozenSet.Create(StringComparer.Ordinal, SliceInfo.ServiceNameLabel);
    private static readonly FrozenSet<string> KeptAnnotations = FrozenSet.Create(StringComparer.Ordinal, ServiceInfo.TolerateUnreadyAnnotation, SliceInfo.TriggerTimeAnnotation);

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
                    meta.NamespaceProperty = KnownStringConverter.Intern(ref reader);
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

    private static Dictionary<string, string>? ReadSome(ref Utf8JsonReader reader, FrozenSet<string> keep)
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
            // The kept key is stored as our literal, not the parsed copy.
            if (keep.TryGetValue(key, out var literal) && reader.TokenType == JsonTokenType.String)
            {
                (result ??= new(1, StringComparer.Ordinal))[literal] = reader.GetString()!;
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
    [JsonIgnore]
    public string ApiVersion { get => "v1"; set { } }

    [JsonIgnore]
    public string Kind { get => "Service"; set { } }

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public ServiceSpecPart? Spec { get; set; }
}

internal sealed class ServiceSpecPart
{
    [JsonPropertyName("type")]
    [JsonConverter(typeof(KnownStringConverter))]
    public string? Type { get; set; }

    [JsonPropertyName("clusterIP")]
    public string? ClusterIP { get; set; }

    [JsonPropertyName("clusterIPs")]
    public string[]? ClusterIPs { get; set; }

    [JsonPropertyName("externalName")]
    public string? ExternalName { get; set; }

    [JsonPropertyName("publishNotReadyAddresses")]
    public bool? PublishNotReadyAddresses { get; set; }

    [JsonPropertyName("ports")]
    public PortPart[]? Ports { get; set; }
}

/// <summary>A Service or EndpointSlice port: the fields SRV needs.</summary>
internal sealed class PortPart
{
    [JsonPropertyName("name")]
    [JsonConverter(typeof(KnownStringConverter))]
    public string? Name { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }

    [JsonPropertyName("protocol")]
    [JsonConverter(typeof(KnownStringConverter))]
    public string? Protocol { get; set; }
}

/// <summary>An EndpointSlice as DNS reads it.</summary>
[KubernetesEntity(Group = "discovery.k8s.io", Kind = "EndpointSlice", ApiVersion = "v1", PluralName = "endpointslices")]
internal sealed class EndpointSliceObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonIgnore]
    public string ApiVersion { get => "discovery.k8s.io/v1"; set { } }

    [JsonIgnore]
    public string Kind { get => "EndpointSlice"; set { } }

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("addressType")]
    [JsonConverter(typeof(KnownStringConverter))]
    public string? AddressType { get; set; }

    [JsonPropertyName("endpoints")]
    public EndpointPart[]? Endpoints { get; set; }

    [JsonPropertyName("ports")]
    public PortPart[]? Ports { get; set; }
}

internal sealed class EndpointPart
{
    [JsonPropertyName("addresses")]
    public string[]? Addresses { get; set; }

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
    [JsonIgnore]
    public string ApiVersion { get => "v1"; set { } }

    [JsonIgnore]
    public string Kind { get => "Namespace"; set { } }

    [JsonPropertyName("metadata")]
    [JsonConverter(typeof(SlimMetadataConverter))]
    public V1ObjectMeta Metadata { get; set; } = new();
}

/// <summary>A Pod as DNS reads it: where it lives and its IPs.</summary>
[KubernetesEntity(Group = "", Kind = "Pod", ApiVersion = "v1", PluralName = "pods")]
internal sealed class PodObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonIgnore]
    public string ApiVersion { get => "v1"; set { } }

    [JsonIgnore]
    public string Kind { get => "Pod"; set { } }

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
    public PodIpPart[]? PodIPs { get; set; }
}

internal sealed class PodIpPart
{
    [JsonPropertyName("ip")]
    public string? Ip { get; set; }
}
