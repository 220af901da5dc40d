using System.Globalization;
using System.Net;
using System.Text;
using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>
/// A container's environment as kubelet makes it (kubelet_pods.go makeEnvironmentVariables): service link
/// variables, envFrom, env with $(VAR) expansion and the downward API, then HOSTNAME, PATH and HOME as the runtime
/// adds them.
/// </summary>
internal static class ContainerEnv
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static async Task<Dictionary<string, string>> BuildAsync(
        V1Pod pod, V1Container container, IReadOnlyList<string> podIps, IReadOnlyList<string> hostIps, IPodDependencies deps, NodeResources node, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var serviceEnv = ServiceEnv(
            await deps.ListServicesAsync("default", ct).ConfigureAwait(false),
            pod.Spec?.EnableServiceLinks != false ? await deps.ListServicesAsync(ns, ct).ConfigureAwait(false) : [],
            ns);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var from in container.EnvFrom ?? [])
        {
            IEnumerable<KeyValuePair<string, string>> pairs;
            if (from.ConfigMapRef is { } cmRef)
            {
                var cm = await deps.GetConfigMapAsync(ns, cmRef.Name, ct).ConfigureAwait(false);
                if (cm is null)
                {
                    if (cmRef.Optional == true)
                    {
                        continue;
                    }
                    throw new ContainerConfigException($"configmap \"{cmRef.Name}\" not found");
                }
                pairs = cm.Data ?? new Dictionary<string, string>();
            }
            else if (from.SecretRef is { } secretRef)
            {
                var secret = await deps.GetSecretAsync(ns, secretRef.Name, ct).ConfigureAwait(false);
                if (secret is null)
                {
                    if (secretRef.Optional == true)
                    {
                        continue;
                    }
                    throw new ContainerConfigException($"secret \"{secretRef.Name}\" not found");
                }
                pairs = (secret.Data ?? new Dictionary<string, byte[]>()).Select(kv => KeyValuePair.Create(kv.Key, Encoding.UTF8.GetString(kv.Value)));
            }
            else
            {
                continue;
            }
            foreach (var (key, value) in pairs)
            {
                var name = (from.Prefix ?? "") + key;
                // Invalid names are skipped (kubelet records an event for them).
                if (IsEnvVarName(name))
                {
                    env[name] = value;
                }
            }
        }
        foreach (var v in container.Env ?? [])
        {
            if (v.ValueFrom is null)
            {
                env[v.Name] = Expand(v.Value ?? "", name => env.TryGetValue(name, out var x) ? x : serviceEnv.GetValueOrDefault(name));
                continue;
            }
            var value = await ValueFromAsync(pod, container, v.ValueFrom, podIps, hostIps, deps, node, ct).ConfigureAwait(false);
            if (value is not null)
            {
                env[v.Name] = value;
            }
        }
        foreach (var (k, v) in serviceEnv)
        {
            env.TryAdd(k, v);
        }
        env.TryAdd("PATH", DefaultPath);
        // hostNetwork Pods share the node's UTS namespace, so they see (and get) the node's hostname, as with kubelet.
        env.TryAdd("HOSTNAME", pod.Spec?.HostNetwork == true ? Environment.MachineName : SandboxFiles.Hostname(pod));
        env.TryAdd("HOME", "/root");
        return env;
    }

    /// <summary>Docker-link style variables of the Services (kubelet envvars.FromServices); the master Service is overridden by a namespace one of the same name.</summary>
    public static Dictionary<string, string> ServiceEnv(IReadOnlyList<V1Service> defaultNamespace, IReadOnlyList<V1Service> podNamespace, string ns)
    {
        var services = new Dictionary<string, V1Service>(StringComparer.Ordinal);
        foreach (var s in defaultNamespace.Where(s => s.Metadata.Name == "kubernetes"))
        {
            services[s.Metadata.Name] = s;
        }
        foreach (var s in podNamespace.Where(s => s.Metadata.NamespaceProperty == ns || s.Metadata.NamespaceProperty is null))
        {
            services[s.Metadata.Name] = s;
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in services.Values.OrderBy(s => s.Metadata.Name, StringComparer.Ordinal))
        {
            var ip = s.Spec?.ClusterIP;
            if (string.IsNullOrEmpty(ip) || ip == "None" || s.Spec?.Ports is not { Count: > 0 } ports)
            {
                continue;
            }
            var prefix = VarName(s.Metadata.Name);
            env[prefix + "_SERVICE_HOST"] = ip;
            env[prefix + "_SERVICE_PORT"] = ports[0].Port.ToString(CultureInfo.InvariantCulture);
            foreach (var p in ports.Where(p => !string.IsNullOrEmpty(p.Name)))
            {
                env[prefix + "_SERVICE_PORT_" + VarName(p.Name)] = p.Port.ToString(CultureInfo.InvariantCulture);
            }
            for (var i = 0; i < ports.Count; i++)
            {
                var p = ports[i];
                var protocol = p.Protocol ?? "TCP";
                var port = p.Port.ToString(CultureInfo.InvariantCulture);
                var url = $"{protocol.ToLowerInvariant()}://{JoinHostPort(ip, port)}";
                var portPrefix = $"{prefix}_PORT_{port}_{protocol.ToUpperInvariant()}";
                if (i == 0)
                {
                    env[prefix + "_PORT"] = url;
                }
                env[portPrefix] = url;
                env[portPrefix + "_PROTO"] = protocol.ToLowerInvariant();
                env[portPrefix + "_PORT"] = port;
                env[portPrefix + "_ADDR"] = ip;
            }
        }
        return env;
    }

    /// <summary>Kubernetes' $(VAR) expansion: defined references are replaced, $$ escapes, anything else stays as written.</summary>
    public static string Expand(string input, Func<string, string?> lookup)
    {
        var sb = new StringBuilder(input.Length);
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] != '$' || i + 1 >= input.Length)
            {
                sb.Append(input[i]);
                continue;
            }
            var next = input[i + 1];
            if (next == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (next == '(' && input.IndexOf(')', i + 2) is var close and > 0)
            {
                var name = input[(i + 2)..close];
                var value = lookup(name);
                sb.Append(value ?? "$(" + name + ")");
                i = close;
            }
            else
            {
                sb.Append('$');
            }
        }
        return sb.ToString();
    }

    private static async Task<string?> ValueFromAsync(V1Pod pod, V1Container container, V1EnvVarSource from, IReadOnlyList<string> podIps, IReadOnlyList<string> hostIps, IPodDependencies deps, NodeResources node, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        if (from.FieldRef is { } field)
        {
            return FieldValue(pod, field.FieldPath, podIps, hostIps);
        }
        if (from.ResourceFieldRef is { } resource)
        {
            return ResourceValue(pod, container, resource, node);
        }
        if (from.ConfigMapKeyRef is { } cmKey)
        {
            var cm = await deps.GetConfigMapAsync(ns, cmKey.Name, ct).ConfigureAwait(false);
            if (cm?.Data?.TryGetValue(cmKey.Key, out var value) == true)
            {
                return value;
            }
            return cmKey.Optional == true ? null
                : throw new ContainerConfigException(cm is null ? $"configmap \"{cmKey.Name}\" not found" : $"couldn't find key {cmKey.Key} in ConfigMap {ns}/{cmKey.Name}");
        }
        if (from.SecretKeyRef is { } secretKey)
        {
            var secret = await deps.GetSecretAsync(ns, secretKey.Name, ct).ConfigureAwait(false);
            if (secret?.Data?.TryGetValue(secretKey.Key, out var bytes) == true)
            {
                return Encoding.UTF8.GetString(bytes);
            }
            return secretKey.Optional == true ? null
                : throw new ContainerConfigException(secret is null ? $"secret \"{secretKey.Name}\" not found" : $"couldn't find key {secretKey.Key} in Secret {ns}/{secretKey.Name}");
        }
        return null;
    }

    /// <summary>The downward API fields kubelet resolves for env (fieldpath.ExtractFieldPathAsString plus the status ones).</summary>
    public static string FieldValue(V1Pod pod, string path, IReadOnlyList<string> podIps, IReadOnlyList<string> hostIps)
    {
        if (TrySubscript(path, "metadata.labels", out var label))
        {
            return pod.Metadata.Labels?.TryGetValue(label, out var v) == true ? v : "";
        }
        if (TrySubscript(path, "metadata.annotations", out var annotation))
        {
            return pod.Metadata.Annotations?.TryGetValue(annotation, out var v) == true ? v : "";
        }
        return path switch
        {
            "metadata.name" => pod.Metadata.Name,
            "metadata.namespace" => pod.Metadata.NamespaceProperty ?? "default",
            "metadata.uid" => pod.Metadata.Uid ?? "",
            "metadata.labels" => string.Join('\n', (pod.Metadata.Labels ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
            "metadata.annotations" => string.Join('\n', (pod.Metadata.Annotations ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
            "spec.nodeName" => pod.Spec?.NodeName ?? "",
            "spec.serviceAccountName" => pod.Spec?.ServiceAccountName ?? "",
            "status.podIP" => podIps.Count > 0 ? podIps[0] : "",
            "status.podIPs" => string.Join(',', podIps),
            "status.hostIP" => hostIps.Count > 0 ? hostIps[0] : "",
            "status.hostIPs" => string.Join(',', hostIps),
            _ => throw new ContainerConfigException($"unsupported fieldPath: {path}"),
        };
    }

    private static string ResourceValue(V1Pod pod, V1Container container, V1ResourceFieldSelector selector, NodeResources node)
    {
        var target = string.IsNullOrEmpty(selector.ContainerName) ? container
            : pod.Spec?.Containers?.Concat(pod.Spec.InitContainers ?? []).FirstOrDefault(c => c.Name == selector.ContainerName)
              ?? throw new ContainerConfigException($"container {selector.ContainerName} not found in pod");
        var parts = selector.Resource.Split('.', 2);
        if (parts.Length != 2 || parts[0] is not ("limits" or "requests"))
        {
            throw new ContainerConfigException($"unsupported container resource: {selector.Resource}");
        }
        var list = parts[0] == "limits" ? target.Resources?.Limits : target.Resources?.Requests;
        decimal value;
        if (list?.TryGetValue(parts[1], out var q) == true)
        {
            value = q.ToDecimal();
        }
        else if (parts[0] == "limits")
        {
            // As kubelet: an unset limit is the node's allocatable amount.
            value = parts[1] switch
            {
                "cpu" => node.Cpu,
                "memory" => node.MemoryBytes,
                "ephemeral-storage" => node.EphemeralStorageBytes,
                _ => 0,
            };
        }
        else
        {
            value = 0;
        }
        var divisor = selector.Divisor?.ToDecimal() is { } d and > 0 ? d : 1m;
        return Math.Ceiling(value / divisor).ToString(CultureInfo.InvariantCulture);
    }

    private static bool TrySubscript(string path, string prefix, out string key)
    {
        key = "";
        if (!path.StartsWith(prefix + "['", StringComparison.Ordinal) || !path.EndsWith("']", StringComparison.Ordinal))
        {
            return false;
        }
        key = path[(prefix.Length + 2)..^2];
        return true;
    }

    private static string VarName(string name) => name.ToUpperInvariant().Replace('-', '_');

    private static string JoinHostPort(string host, string port) =>
        IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]:{port}" : $"{host}:{port}";

    private static bool IsEnvVarName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => c is '-' or '.' or '_' || char.IsAsciiLetterOrDigit(c));
}

/// <summary>Node allocatable amounts that stand in for unset container limits in resourceFieldRef.</summary>
internal sealed record NodeResources(decimal Cpu, decimal MemoryBytes, decimal EphemeralStorageBytes)
{
    public static NodeResources Current()
    {
        decimal memory = 0;
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            if (line is not null)
            {
                memory = decimal.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return new NodeResources(Environment.ProcessorCount, memory, 0);
    }
}
