using System.Globalization;
using System.Net;
using System.Text;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Proxy;

/// <summary>Where on a kubelet a pod subresource request goes: its endpoint and the path with query.</summary>
internal sealed record KubeletTarget(IPEndPoint Endpoint, string PathAndQuery);

/// <summary>
/// Upstream's pod subresource locations (pkg/registry/core/pod/strategy.go: LogLocation, ExecLocation,
/// AttachLocation, PortForwardLocation, validateContainer, streamParams) and node connection info
/// (the Node's address and status.daemonEndpoints.kubeletEndpoint.Port).
/// </summary>
internal static class KubeletLocation
{
    /// <summary>Kubelet's port when a Node reports none (upstream's --kubelet-port default).</summary>
    public const int DefaultKubeletPort = 10250;

    /// <summary>
    /// The container a request means: the named one if the Pod has it (init and ephemeral containers count), else
    /// the only container; errors as upstream's validateContainer.
    /// </summary>
    public static string ValidateContainer(V1Pod pod, string? container)
    {
        var name = pod.Metadata?.Name ?? "";
        var all = AllContainerNames(pod);
        if (string.IsNullOrEmpty(container))
        {
            var regular = pod.Spec?.Containers ?? [];
            return regular.Count switch
            {
                1 => regular[0].Name,
                0 => throw ApiException.BadRequest($"a container name must be specified for pod {name}"),
                _ => throw ApiException.BadRequest($"a container name must be specified for pod {name}, choose one of: [{string.Join(' ', all)}]"),
            };
        }
        return all.Contains(container, StringComparer.Ordinal)
            ? container
            : throw ApiException.BadRequest($"container {container} is not valid for pod {name}");
    }

    /// <summary>Containers in upstream's VisitContainers order: init, regular, ephemeral.</summary>
    public static List<string> AllContainerNames(V1Pod pod) =>
    [
        .. (pod.Spec?.InitContainers ?? []).Select(c => c.Name),
        .. (pod.Spec?.Containers ?? []).Select(c => c.Name),
        .. (pod.Spec?.EphemeralContainers ?? []).Select(c => c.Name),
    ];

    /// <summary>The kubelet endpoint of a Node: its first InternalIP (else ExternalIP) and the kubelet port.</summary>
    public static IPEndPoint NodeEndpoint(V1Node node)
    {
        var addresses = node.Status?.Addresses ?? [];
        foreach (var type in (string[])["InternalIP", "ExternalIP"])
        {
            foreach (var a in addresses)
            {
                if (a.Type == type && IPAddress.TryParse(a.Address, out var ip))
                {
                    var port = node.Status?.DaemonEndpoints?.KubeletEndpoint?.Port ?? 0;
                    return new IPEndPoint(ip, port > 0 ? port : DefaultKubeletPort);
                }
            }
        }
        var known = string.Join(" ", addresses.Select(a => "{" + a.Type + " " + a.Address + "}"));
        throw ApiException.Internal($"no preferred addresses found; known addresses: [{known}]");
    }

    /// <summary>/exec|attach/{ns}/{pod}/{container}?command=…&amp;error=1&amp;input=1&amp;output=1&amp;tty=1 (Go's sorted url.Values).</summary>
    public static string StreamPath(string kind, V1Pod pod, string container, IQueryCollection query)
    {
        var q = new List<(string, string)>();
        if (kind == "exec")
        {
            foreach (var c in query["command"])
            {
                q.Add(("command", c ?? ""));
            }
        }
        if (Bool(query, "stderr"))
        {
            q.Add(("error", "1"));
        }
        if (Bool(query, "stdin"))
        {
            q.Add(("input", "1"));
        }
        if (Bool(query, "stdout"))
        {
            q.Add(("output", "1"));
        }
        if (Bool(query, "tty"))
        {
            q.Add(("tty", "1"));
        }
        return "/" + kind + "/" + Escape(pod.Metadata.NamespaceProperty) + "/" + Escape(pod.Metadata.Name) + "/" + Escape(container) + Encode(q);
    }

    /// <summary>/portForward/{ns}/{pod}?port=… as upstream (ports joined by commas), plus container=&lt;first container&gt;.</summary>
    public static string PortForwardPath(V1Pod pod, IQueryCollection query)
    {
        var ports = query["ports"].SelectMany(p => (p ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
        foreach (var p in ports)
        {
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 65535)
            {
                throw ApiException.BadRequest($"invalid port {p}");
            }
        }
        var q = new List<(string, string)>();
        // Switchboard's kubelet finds the Pod's network namespace through one of its containers.
        if (pod.Spec?.Containers is [{ } first, ..])
        {
            q.Add(("container", first.Name));
        }
        if (ports.Count > 0)
        {
            q.Add(("port", string.Join(',', ports)));
        }
        return "/portForward/" + Escape(pod.Metadata.NamespaceProperty) + "/" + Escape(pod.Metadata.Name) + Encode(q);
    }

    /// <summary>/containerLogs/{ns}/{pod}/{container}?… with the options LogLocation forwards.</summary>
    public static string LogPath(V1Pod pod, string container, PodLogOptions options)
    {
        var q = new List<(string, string)>();
        if (options.Follow)
        {
            q.Add(("follow", "true"));
        }
        if (options.LimitBytes is long limit)
        {
            q.Add(("limitBytes", limit.ToString(CultureInfo.InvariantCulture)));
        }
        if (options.Previous)
        {
            q.Add(("previous", "true"));
        }
        if (options.SinceSeconds is long since)
        {
            q.Add(("sinceSeconds", since.ToString(CultureInfo.InvariantCulture)));
        }
        if (options.SinceTime is { } t)
        {
            q.Add(("sinceTime", t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        }
        if (options.TailLines is long tail)
        {
            q.Add(("tailLines", tail.ToString(CultureInfo.InvariantCulture)));
        }
        if (options.Timestamps)
        {
            q.Add(("timestamps", "true"));
        }
        return "/containerLogs/" + Escape(pod.Metadata.NamespaceProperty) + "/" + Escape(pod.Metadata.Name) + "/" + Escape(container) + Encode(q);
    }

    /// <summary>Go's query-to-bool conversion: absent is false, "0"/"false" are false, anything else is true.</summary>
    public static bool Bool(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var v) && v.Count > 0 && v[0] != "0" && !string.Equals(v[0], "false", StringComparison.OrdinalIgnoreCase);

    private static string Escape(string s) => Uri.EscapeDataString(s);

    private static string Encode(List<(string Key, string Value)> q)
    {
        if (q.Count == 0)
        {
            return "";
        }
        var sb = new StringBuilder("?");
        foreach (var (k, v) in q)
        {
            if (sb.Length > 1)
            {
                sb.Append('&');
            }
            sb.Append(Uri.EscapeDataString(k)).Append('=').Append(Uri.EscapeDataString(v));
        }
        return sb.ToString();
    }
}

/// <summary>v1 PodLogOptions from the query, validated as upstream's ValidatePodLogOptions.</summary>
internal sealed record PodLogOptions
{
    public string? Container { get; init; }
    public bool Follow { get; init; }
    public bool Previous { get; init; }
    public bool Timestamps { get; init; }
    public long? SinceSeconds { get; init; }
    public DateTimeOffset? SinceTime { get; init; }
    public long? TailLines { get; init; }
    public long? LimitBytes { get; init; }

    public static PodLogOptions Parse(IQueryCollection query, string podName)
    {
        var options = new PodLogOptions
        {
            Container = query.TryGetValue("container", out var c) ? c.ToString() : null,
            Follow = KubeletLocation.Bool(query, "follow"),
            Previous = KubeletLocation.Bool(query, "previous"),
            Timestamps = KubeletLocation.Bool(query, "timestamps"),
            SinceSeconds = Int(query, "sinceSeconds"),
            TailLines = Int(query, "tailLines"),
            LimitBytes = Int(query, "limitBytes"),
            SinceTime = query.TryGetValue("sinceTime", out var st) && st.Count > 0 && !string.IsNullOrEmpty(st[0])
                ? DateTimeOffset.TryParse(st[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
                    : throw ApiException.BadRequest($"parsing time \"{st[0]}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse")
                : null,
        };
        var errors = new List<(string Field, string Value, string Detail, string Reason)>();
        if (options.TailLines < 0)
        {
            errors.Add(("tailLines", Num(options.TailLines), "must be greater than or equal to 0", "FieldValueInvalid"));
        }
        if (options.LimitBytes < 1)
        {
            errors.Add(("limitBytes", Num(options.LimitBytes), "must be greater than 0", "FieldValueInvalid"));
        }
        if (options.SinceSeconds is not null && options.SinceTime is not null)
        {
            errors.Add(("sinceSeconds", "", "at most one of `sinceTime` or `sinceSeconds` may be specified", "FieldValueForbidden"));
        }
        else if (options.SinceSeconds < 1)
        {
            errors.Add(("sinceSeconds", Num(options.SinceSeconds), "must be greater than 0", "FieldValueInvalid"));
        }
        if (errors.Count > 0)
        {
            static string Text((string Field, string Value, string Detail, string Reason) e) =>
                e.Reason == "FieldValueForbidden" ? $"{e.Field}: Forbidden: {e.Detail}" : $"{e.Field}: Invalid value: {e.Value}: {e.Detail}";
            var message = errors.Count == 1 ? Text(errors[0]) : "[" + string.Join(", ", errors.Select(Text)) + "]";
            throw new ApiException(422, "Invalid", $"PodLogOptions \"{podName}\" is invalid: {message}")
            {
                DetailName = podName,
                DetailKind = "PodLogOptions",
                Causes = [.. errors.Select(e => (e.Reason, e.Reason == "FieldValueForbidden" ? "Forbidden: " + e.Detail : $"Invalid value: {e.Value}: {e.Detail}", (string?)e.Field))],
            };
        }
        return options;
    }

    private static string Num(long? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "";

    private static long? Int(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var v) || v.Count == 0 || string.IsNullOrEmpty(v[0]))
        {
            return null;
        }
        return long.TryParse(v[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw ApiException.BadRequest($"strconv.ParseInt: parsing \"{v[0]}\": invalid syntax");
    }
}
