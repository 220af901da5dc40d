using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Node.Runtime.Cni;

/// <summary>What one CNI call is about: the Pod sandbox (container id = Pod UID) and its namespace path.</summary>
internal sealed record CniPod(string ContainerId, string NetnsPath, string Namespace, string Name, string Uid)
{
    public IReadOnlyList<PortMapping> PortMappings { get; init; } = [];
}

/// <summary>A runtimeConfig.portMappings entry (hostPort → containerPort).</summary>
internal sealed record PortMapping(int HostPort, int ContainerPort, string Protocol, string HostIp);

/// <summary>The final ADD result: the raw JSON (cached for DEL/CHECK, as libcni does) and the Pod IPs, IPv4 first.</summary>
internal sealed record CniResult(string Json, IReadOnlyList<string> PodIps);

/// <summary>A CNI plugin call that failed: the plugin's error (code, msg, details) or its exit status.</summary>
internal sealed class CniException(string message) : Exception(message);

/// <summary>The Pod network: ADD/DEL/CHECK of the node's conflist. The runtime codes against this; tests fake it.</summary>
internal interface ICniNetwork
{
    Task<CniResult> AddAsync(CniPod pod, CancellationToken ct);

    Task CheckAsync(CniPod pod, string cachedResult, CancellationToken ct);

    /// <summary>Runs DEL on every plugin in reverse order, even after a failure; throws the first failure at the end.</summary>
    Task DelAsync(CniPod pod, string? cachedResult, CancellationToken ct);
}

/// <summary>Runs one plugin executable: env, stdin → exit code, stdout, stderr.</summary>
internal interface ICniExec
{
    Task<(int ExitCode, string Stdout, string Stderr)> ExecAsync(string plugin, IReadOnlyDictionary<string, string> env, string stdin, CancellationToken ct);
}

/// <summary>
/// Calls the plugins of a conflist exactly as the CNI specification (1.0) says: CNI_* env, the plugin's config with
/// name, cniVersion, prevResult and runtimeConfig (only for declared capabilities) on stdin; ADD chains prevResult;
/// DEL goes in reverse with the cached ADD result; CHECK in order with it.
/// </summary>
internal sealed class CniInvoker(JsonObject conflist, string binDir, ICniExec exec) : ICniNetwork
{
    public async Task<CniResult> AddAsync(CniPod pod, CancellationToken ct)
    {
        JsonNode? prev = null;
        foreach (var plugin in Plugins())
        {
            var stdout = await InvokeAsync("ADD", plugin, pod, prev, ct).ConfigureAwait(false);
            prev = JsonNode.Parse(stdout) ?? throw new CniException($"CNI plugin {plugin["type"]} returned no result");
        }
        var json = prev!.ToJsonString();
        return new CniResult(json, ParseIps(json));
    }

    public async Task CheckAsync(CniPod pod, string cachedResult, CancellationToken ct)
    {
        foreach (var plugin in Plugins())
        {
            await InvokeAsync("CHECK", plugin, pod, JsonNode.Parse(cachedResult), ct).ConfigureAwait(false);
        }
    }

    public async Task DelAsync(CniPod pod, string? cachedResult, CancellationToken ct)
    {
        CniException? first = null;
        foreach (var plugin in Plugins().Reverse())
        {
            try
            {
                await InvokeAsync("DEL", plugin, pod, cachedResult is null ? null : JsonNode.Parse(cachedResult), ct).ConfigureAwait(false);
            }
            catch (CniException e)
            {
                first ??= e;
            }
        }
        if (first is not null)
        {
            throw first;
        }
    }

    /// <summary>The Pod IPs of a result: its ips[].address without the prefix, loopback left out, IPv4 first.</summary>
    public static IReadOnlyList<string> ParseIps(string resultJson)
    {
        var result = JsonNode.Parse(resultJson);
        var ips = new List<IPAddress>();
        foreach (var entry in result?["ips"]?.AsArray() ?? [])
        {
            var address = entry?["address"]?.GetValue<string>();
            if (address is null)
            {
                continue;
            }
            var slash = address.IndexOf('/', StringComparison.Ordinal);
            if (IPAddress.TryParse(slash < 0 ? address : address[..slash], out var ip) && !IPAddress.IsLoopback(ip) && !ips.Contains(ip))
            {
                ips.Add(ip);
            }
        }
        return [.. ips.OrderBy(ip => ip.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).Select(ip => ip.ToString())];
    }

    private IEnumerable<JsonObject> Plugins() => (conflist["plugins"]?.AsArray() ?? []).OfType<JsonObject>();

    private async Task<string> InvokeAsync(string command, JsonObject plugin, CniPod pod, JsonNode? prevResult, CancellationToken ct)
    {
        var type = plugin["type"]?.GetValue<string>() ?? throw new CniException("a CNI plugin without a type");
        var config = (JsonObject)plugin.DeepClone();
        config["name"] = conflist["name"]?.GetValue<string>();
        config["cniVersion"] = conflist["cniVersion"]?.GetValue<string>();
        if (prevResult is not null)
        {
            config["prevResult"] = prevResult.DeepClone();
        }
        if (plugin["capabilities"] is JsonObject caps && caps["portMappings"]?.GetValue<bool>() == true && pod.PortMappings.Count > 0)
        {
            var mappings = new JsonArray();
            foreach (var m in pod.PortMappings)
            {
                mappings.Add(new JsonObject { ["hostPort"] = m.HostPort, ["containerPort"] = m.ContainerPort, ["protocol"] = m.Protocol.ToLowerInvariant(), ["hostIP"] = m.HostIp });
            }
            config["runtimeConfig"] = new JsonObject { ["portMappings"] = mappings };
        }
        var env = new Dictionary<string, string>
        {
            ["CNI_COMMAND"] = command,
            ["CNI_CONTAINERID"] = pod.ContainerId,
            ["CNI_NETNS"] = pod.NetnsPath,
            ["CNI_IFNAME"] = "eth0",
            ["CNI_PATH"] = binDir,
            // As kubelet: plugins that know Kubernetes read these; IgnoreUnknown keeps the others happy.
            ["CNI_ARGS"] = $"IgnoreUnknown=1;K8S_POD_NAMESPACE={pod.Namespace};K8S_POD_NAME={pod.Name};K8S_POD_INFRA_CONTAINER_ID={pod.ContainerId};K8S_POD_UID={pod.Uid}",
        };
        var (code, stdout, stderr) = await exec.ExecAsync(Path.Combine(binDir, type), env, config.ToJsonString(), ct).ConfigureAwait(false);
        if (code == 0)
        {
            return stdout;
        }
        throw new CniException($"CNI {command} of plugin {type} failed: {DescribeError(stdout, stderr, code)}");
    }

    private static string DescribeError(string stdout, string stderr, int code)
    {
        try
        {
            if (JsonNode.Parse(stdout) is JsonObject error && error["msg"] is { } msg)
            {
                var details = error["details"]?.GetValue<string>();
                return $"{msg.GetValue<string>()}{(string.IsNullOrEmpty(details) ? "" : " (" + details + ")")} [code {error["code"]}]";
            }
        }
        catch (JsonException)
        {
        }
        return $"exit code {code}: {(stderr.Length > 0 ? stderr : stdout).Trim()}";
    }
}

/// <summary>Runs a plugin as a child process, inside the node namespace when one is given (tests; see RuntimeOptions.NodeNetns).</summary>
internal sealed class ProcessCniExec(string? nodeNetns) : ICniExec
{
    public async Task<(int ExitCode, string Stdout, string Stderr)> ExecAsync(string plugin, IReadOnlyDictionary<string, string> env, string stdin, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(nodeNetns is null ? plugin : "ip")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (nodeNetns is not null)
        {
            foreach (var a in new[] { "netns", "exec", nodeNetns, plugin })
            {
                psi.ArgumentList.Add(a);
            }
        }
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new CniException("cannot start " + plugin);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CniException($"cannot run CNI plugin {plugin}: {e.Message}");
        }
        using var owned = process;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.StandardInput.WriteAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
        process.StandardInput.Close();
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
