using System.Globalization;

namespace Switchboard.Node.KubeletApi;

/// <summary>What a kubelet API request asks for.</summary>
internal enum KubeletEndpoint
{
    Healthz,
    ContainerLogs,
    Exec,
    Attach,
    PortForward,
}

/// <summary>
/// A parsed kubelet API path, as upstream's pkg/kubelet/server/server.go routes them:
/// /containerLogs/{ns}/{pod}/{container}, /exec|attach/{ns}/{pod}[/{uid}]/{container},
/// /portForward/{ns}/{pod}[/{uid}], /healthz.
/// </summary>
internal sealed record KubeletRoute(KubeletEndpoint Endpoint, string Namespace, string Pod, string Container, string? PodUid)
{
    /// <summary>Null when the path is not one of the kubelet API's (answered 404).</summary>
    public static KubeletRoute? Parse(string path)
    {
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (s.Length == 0)
        {
            return null;
        }
        for (var i = 0; i < s.Length; i++)
        {
            s[i] = Uri.UnescapeDataString(s[i]);
        }
        return (s[0], s.Length) switch
        {
            ("healthz", 1) => new(KubeletEndpoint.Healthz, "", "", "", null),
            ("containerLogs", 4) => new(KubeletEndpoint.ContainerLogs, s[1], s[2], s[3], null),
            ("exec", 4) => new(KubeletEndpoint.Exec, s[1], s[2], s[3], null),
            ("exec", 5) => new(KubeletEndpoint.Exec, s[1], s[2], s[4], s[3]),
            ("attach", 4) => new(KubeletEndpoint.Attach, s[1], s[2], s[3], null),
            ("attach", 5) => new(KubeletEndpoint.Attach, s[1], s[2], s[4], s[3]),
            ("portForward", 3) => new(KubeletEndpoint.PortForward, s[1], s[2], "", null),
            ("portForward", 4) => new(KubeletEndpoint.PortForward, s[1], s[2], "", s[3]),
            _ => null,
        };
    }
}

/// <summary>
/// The streams an exec or attach asks for. The kubelet takes only "1" as true (the API server always sends "1",
/// upstream's remotecommand NewOptions); tty with stderr drops stderr, as upstream.
/// </summary>
internal sealed record StreamRequest(IReadOnlyList<string> Command, bool Stdin, bool Stdout, bool Stderr, bool Tty)
{
    public static StreamRequest Parse(Func<string, IReadOnlyList<string>> query)
    {
        static bool Flag(IReadOnlyList<string> v) => v.Count > 0 && v[0] == "1";
        var tty = Flag(query("tty"));
        return new StreamRequest(query("command"), Flag(query("input")) || Flag(query("stdin")), Flag(query("output")) || Flag(query("stdout")),
            !tty && (Flag(query("error")) || Flag(query("stderr"))), tty);
    }

    /// <summary>Upstream's message when no stream is asked for; null when the request is usable.</summary>
    public string? Validate(bool exec) =>
        !Stdin && !Stdout && !Stderr ? "you must specify at least 1 of stdin, stdout, stderr"
        : exec && Command.Count == 0 ? "you must specify a command"
        : null;
}

/// <summary>
/// PodLogOptions as the kubelet receives them (v1 query parameters). Validation as upstream's
/// ValidatePodLogOptions; a bad value is a 400/422 rather than a silently ignored option.
/// </summary>
internal sealed record LogRequest
{
    public bool Follow { get; init; }
    public bool Previous { get; init; }
    public bool Timestamps { get; init; }
    public long? TailLines { get; init; }
    public long? LimitBytes { get; init; }
    public long? SinceSeconds { get; init; }
    public DateTimeOffset? SinceTime { get; init; }

    /// <summary>Parses the query; the error names the bad parameter.</summary>
    public static LogRequest Parse(Func<string, string?> query, out string? error)
    {
        error = null;
        var tail = query("tailLines") ?? query("tail");
        if (tail == "all")
        {
            tail = null;
        }
        var r = new LogRequest
        {
            Follow = Bool(query("follow")),
            Previous = Bool(query("previous")),
            Timestamps = Bool(query("timestamps")),
        };
        string? bad = null;
        r = r with
        {
            TailLines = Int(tail, "tailLines", ref bad),
            LimitBytes = Int(query("limitBytes"), "limitBytes", ref bad),
            SinceSeconds = Int(query("sinceSeconds"), "sinceSeconds", ref bad),
        };
        if (query("sinceTime") is { Length: > 0 } since)
        {
            if (DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                r = r with { SinceTime = t };
            }
            else
            {
                bad ??= $"sinceTime: invalid value {since}";
            }
        }
        if (bad is not null)
        {
            error = "Unable to decode query: " + bad;
            return r;
        }
        error = r.Validate();
        return r;
    }

    /// <summary>Upstream ValidatePodLogOptions' rules; null when valid.</summary>
    public string? Validate() =>
        TailLines < 0 ? "tailLines: Invalid value: " + TailLines.Value.ToString(CultureInfo.InvariantCulture) + ": must be greater than or equal to 0"
        : LimitBytes < 1 ? "limitBytes: Invalid value: " + LimitBytes.Value.ToString(CultureInfo.InvariantCulture) + ": must be greater than 0"
        : SinceSeconds is not null && SinceTime is not null ? "sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        : SinceSeconds < 1 ? "sinceSeconds: Invalid value: " + SinceSeconds.Value.ToString(CultureInfo.InvariantCulture) + ": must be greater than 0"
        : null;

    /// <summary>Go's query-to-bool conversion: absent is false, "0"/"false" are false, anything else is true.</summary>
    public static bool Bool(string? value) => value is not null && value != "0" && !string.Equals(value, "false", StringComparison.OrdinalIgnoreCase);

    private static long? Int(string? value, string name, ref string? bad)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            return n;
        }
        bad ??= $"{name}: invalid value {value}";
        return null;
    }
}
