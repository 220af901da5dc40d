using Switchboard.Api.Resources;
using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Protobuf;

/// <summary>
/// Decodes Kubernetes protobuf request bodies (the `k8s\0` envelope) into JSON.
/// Not implemented yet (API server issue, stage 2): every protobuf body is answered with upstream's 415.
/// </summary>
internal static class ProtobufDecoder
{
    public static byte[] Decode(ResourceInfo info, byte[] body)
    {
        _ = info;
        _ = body;
        throw ApiException.UnsupportedMediaType(MediaTypes.Protobuf);
    }
}
