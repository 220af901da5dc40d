using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// The remote-command WebSocket protocol of upstream's kubelet streaming server (k8s.io/apimachinery
/// util/httpstream/wsstream, util/remotecommand): every binary message starts with one channel byte; the status of
/// the command is a metav1.Status JSON on the error channel; v5 adds a close signal for a client's half-close.
/// </summary>
internal static class StreamProtocol
{
    public const string V5 = "v5.channel.k8s.io";
    public const string V4 = "v4.channel.k8s.io";

    /// <summary>Subprotocols in order of preference; v5 is v4 plus the close signal.</summary>
    public static readonly IReadOnlyList<string> Supported = [V5, V4];

    public const byte Stdin = 0;
    public const byte Stdout = 1;
    public const byte Stderr = 2;
    public const byte Error = 3;
    public const byte Resize = 4;

    /// <summary>v5: a message [255, channel] says the client will send nothing more on that channel.</summary>
    public const byte Close = 255;

    /// <summary>Picks the first subprotocol we speak in the client's order of offer; null when none.</summary>
    public static string? Negotiate(IEnumerable<string> offered)
    {
        foreach (var raw in offered)
        {
            foreach (var p in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (Supported.Contains(p, StringComparer.Ordinal))
                {
                    return p;
                }
            }
        }
        return null;
    }

    /// <summary>Upstream's success status, exactly as Go marshals metav1.Status{Status: "Success"}.</summary>
    public static byte[] SuccessStatus() => """{"metadata":{},"status":"Success"}"""u8.ToArray();

    /// <summary>
    /// The status of a command that exited non-zero: reason NonZeroExitCode with an ExitCode cause, which
    /// client-go turns into an exit error carrying the code (kubectl exits with it).
    /// </summary>
    public static byte[] ExitStatus(int exitCode, IReadOnlyList<string> command)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteEndObject();
            w.WriteString("status", "Failure");
            w.WriteString("message", string.Create(CultureInfo.InvariantCulture,
                $"command terminated with non-zero exit code: error executing command [{string.Join(' ', command)}], exit code {exitCode}"));
            w.WriteString("reason", "NonZeroExitCode");
            w.WriteStartObject("details");
            w.WriteStartArray("causes");
            w.WriteStartObject();
            w.WriteString("reason", "ExitCode");
            w.WriteString("message", exitCode.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An internal error as upstream's apierrors.NewInternalError (code 500, reason InternalError).</summary>
    public static byte[] InternalErrorStatus(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteEndObject();
            w.WriteString("status", "Failure");
            w.WriteString("message", "Internal error occurred: " + message);
            w.WriteString("reason", "InternalError");
            w.WriteStartObject("details");
            w.WriteStartArray("causes");
            w.WriteStartObject();
            w.WriteString("message", message);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNumber("code", 500);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Parses a resize message (remotecommand.TerminalSize: {"Width":w,"Height":h}; Go matches field names
    /// case-insensitively). False for anything else, so a bad message is ignored rather than fatal.
    /// </summary>
    public static bool TryParseResize(ReadOnlySpan<byte> json, out ushort width, out ushort height)
    {
        width = 0;
        height = 0;
        bool sawWidth = false, sawHeight = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                if (!reader.Read())
                {
                    return false;
                }
                if (string.Equals(name, "width", StringComparison.OrdinalIgnoreCase) && reader.TokenType == JsonTokenType.Number && reader.TryGetUInt16(out var w))
                {
                    width = w;
                    sawWidth = true;
                }
                else if (string.Equals(name, "height", StringComparison.OrdinalIgnoreCase) && reader.TokenType == JsonTokenType.Number && reader.TryGetUInt16(out var h))
                {
                    height = h;
                    sawHeight = true;
                }
                else
                {
                    reader.Skip();
                }
            }
            return sawWidth && sawHeight && reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
