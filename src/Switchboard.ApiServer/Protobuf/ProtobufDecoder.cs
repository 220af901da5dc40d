using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Api.Resources;
using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Protobuf;

/// <summary>
/// Decodes Kubernetes protobuf request bodies into the JSON the normal decode path takes. The body is the 4-byte magic
/// <c>k8s\0</c> and a <c>runtime.Unknown</c> {typeMeta {apiVersion, kind}, raw, contentEncoding, contentType}, whose raw
/// bytes are the typed message (e.g. v1.Namespace {metadata, spec, status}). kubectl's imperative generators
/// (<c>create namespace|configmap|secret|service|serviceaccount|deployment</c>, <c>expose</c>, <c>run</c>) send these and do
/// not fall back to JSON. Kinds outside <see cref="KubeProtoSchema"/> get upstream's 415; damaged bodies get a 400.
/// </summary>
internal static class ProtobufDecoder
{
    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    /// <summary>The object as UTF-8 JSON with apiVersion and kind set, ready for field validation and decoding.</summary>
    public static byte[] Decode(ResourceInfo info, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(body);
        var schema = KubeProtoSchema.Instance;
        var root = schema.FindRoot(info.GroupVersion, info.Kind) ?? throw ApiException.UnsupportedMediaType(MediaTypes.Protobuf);
        if (body.Length < Magic.Length || !body.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            // Upstream's wording (transformDecodeError around the protobuf serializer's prefix check).
            throw ApiException.BadRequest(
                $"the object provided is unrecognized (must be of type {info.Kind}): " +
                (body.Length == 0 ? "empty data" : "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"));
        }

        var converter = new ProtoJsonConverter(schema);
        try
        {
            var raw = ReadEnvelope(schema, body.AsSpan(Magic.Length), out var apiVersion, out var kind);
            // An empty apiVersion or kind defaults to the endpoint's, as upstream's decoder does.
            apiVersion = apiVersion.Length == 0 ? info.GroupVersion : apiVersion;
            kind = kind.Length == 0 ? info.Kind : kind;
            if (apiVersion != info.GroupVersion)
            {
                throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({info.GroupVersion})");
            }
            if (kind != info.Kind)
            {
                throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({info.Kind})");
            }

            var json = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
            converter.DecodeInto(raw, root, json, depth: 1);
            var buffer = new ArrayBufferWriter<byte>(Math.Max(256, raw.Length * 2));
            using (var writer = new Utf8JsonWriter(buffer))
            {
                json.WriteTo(writer);
            }
            return buffer.WrittenSpan.ToArray();
        }
        catch (ProtoFormatException e)
        {
            var at = converter.Path;
            throw ApiException.BadRequest(
                $"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: protobuf: {e.Message}" +
                (at.Length == 0 ? "" : $" at {at}"));
        }
    }

    /// <summary>Reads runtime.Unknown: the type it names, and the raw object message it returns.</summary>
    private static ReadOnlySpan<byte> ReadEnvelope(KubeProtoSchema schema, ReadOnlySpan<byte> data, out string apiVersion, out string kind)
    {
        apiVersion = "";
        kind = "";
        ReadOnlySpan<byte> raw = default;
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out var number, out var wireType))
        {
            switch (schema.Unknown.Find(number)?.JsonName)
            {
                case "typeMeta":
                    var typeMeta = new JsonObject();
                    new ProtoJsonConverter(schema).DecodeInto(
                        LengthDelimited(ref reader, wireType, "typeMeta"), schema.Message("runtime.TypeMeta"), typeMeta, depth: 1);
                    apiVersion = (string?)typeMeta["apiVersion"] ?? "";
                    kind = (string?)typeMeta["kind"] ?? "";
                    break;
                case "raw":
                    raw = LengthDelimited(ref reader, wireType, "raw");
                    break;
                default:
                    // contentEncoding and contentType are not acted on, as upstream's decoder ignores them.
                    reader.Skip(number, wireType, ProtoJsonConverter.MaxDepth);
                    break;
            }
        }
        return raw;
    }

    private static ReadOnlySpan<byte> LengthDelimited(scoped ref ProtoReader reader, WireType wireType, string field) =>
        wireType == WireType.LengthDelimited
            ? reader.ReadLengthDelimited()
            : throw new ProtoFormatException($"wrong wire type {(int)wireType} for envelope field {field}");
}
