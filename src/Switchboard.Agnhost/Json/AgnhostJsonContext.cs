using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Agnhost.Json;

/// <summary>/dial's answer; property order matches Go's sorted map keys.</summary>
internal sealed class DialResult
{
    [JsonPropertyName("errors")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Errors { get; set; }

    [JsonPropertyName("responses")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Responses { get; set; }
}

/// <summary>/shell's answer (and /upload's); keys as Go's sorted map.</summary>
internal sealed class ShellResult
{
    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; set; }

    [JsonPropertyName("output")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Output { get; set; }
}

/// <summary>porter --json-response body: Go struct field names, no tags.</summary>
internal sealed class PorterResponse
{
    public string Method { get; set; } = string.Empty;

    public string Body { get; set; } = string.Empty;
}

/// <summary>Source-generated (reflection-free, AOT-safe) serialisation for every JSON agnhost writes.</summary>
[JsonSerializable(typeof(DialResult))]
[JsonSerializable(typeof(ShellResult))]
[JsonSerializable(typeof(PorterResponse))]
[JsonSerializable(typeof(SortedDictionary<string, List<string>>))]
internal sealed partial class AgnhostJsonContext : JsonSerializerContext
{
    /// <summary>Quotes as \" and leaves non-ASCII alone, closer to Go's encoding/json than the default escaper.</summary>
    public static AgnhostJsonContext Relaxed { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
