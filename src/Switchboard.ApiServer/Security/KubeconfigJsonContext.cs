using System.Text.Json.Serialization;

namespace Switchboard.ApiServer.Security;

// Source-generated so that quoting needs no reflection (trimming, Native AOT).
[JsonSerializable(typeof(string))]
internal sealed partial class KubeconfigJsonContext : JsonSerializerContext;
