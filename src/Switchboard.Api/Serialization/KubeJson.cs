using System.Text.Json;
using k8s;

namespace Switchboard.Api.Serialization;

/// <summary>
/// The one JSON codec for Kubernetes objects, shared by the server and the clients: KubernetesClient's
/// serializer options (Kubernetes time formats, IntOrString, Quantity), used through System.Text.Json.
/// </summary>
public static class KubeJson
{
    /// <summary>KubernetesClient's options; read once and never changed here.</summary>
    public static JsonSerializerOptions Options { get; } = CaptureOptions();

    public static object? Deserialize(ReadOnlySpan<byte> utf8, Type type) => JsonSerializer.Deserialize(utf8, type, Options);

    public static T? Deserialize<T>(ReadOnlySpan<byte> utf8) => JsonSerializer.Deserialize<T>(utf8, Options);

    public static object? Deserialize(JsonElement element, Type type) => element.Deserialize(type, Options);

    public static byte[] Serialize(object value, Type type) => JsonSerializer.SerializeToUtf8Bytes(value, type, Options);

    public static void Serialize(Utf8JsonWriter writer, object value, Type type) => JsonSerializer.Serialize(writer, value, type, Options);

    private static JsonSerializerOptions CaptureOptions()
    {
        // KubernetesJson keeps its options private and only hands them to AddJsonOptions callbacks;
        // we take the reference without changing it so both sides share one encoding.
        JsonSerializerOptions? captured = null;
        KubernetesJson.AddJsonOptions(o => captured = o);
        return captured ?? throw new InvalidOperationException("KubernetesJson did not expose its serializer options");
    }
}
