using System.Text;
using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>
/// The Pod's /etc/netns files as kubelet writes them for a container runtime (pkg/kubelet/network/dns and
/// kubelet_pods.go managedHostsFileContent). Pure.
/// </summary>
internal static class SandboxFiles
{
    public const string Nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n";

    private const int MaxNameservers = 3;
    private const int MaxSearches = 32;

    /// <summary>The Pod's hostname: spec.hostname, else the pod name cut to 63 characters (kubelet GeneratePodHostNameAndDomain).</summary>
    public static string Hostname(V1Pod pod)
    {
        var name = !string.IsNullOrEmpty(pod.Spec?.Hostname) ? pod.Spec.Hostname : pod.Metadata.Name;
        return name.Length > 63 ? name[..63].TrimEnd('-', '.') : name;
    }

    /// <summary><c>&lt;subdomain&gt;.&lt;ns&gt;.svc.&lt;domain&gt;</c> when spec.subdomain is set, else null.</summary>
    public static string? HostDomain(V1Pod pod, string clusterDomain) =>
        string.IsNullOrEmpty(pod.Spec?.Subdomain) ? null : $"{pod.Spec.Subdomain}.{pod.Metadata.NamespaceProperty}.svc.{clusterDomain}";

    /// <summary>resolv.conf for the Pod's dnsPolicy and dnsConfig; <paramref name="hostResolvConf"/> is the node's file.</summary>
    public static string ResolvConf(V1Pod pod, IReadOnlyList<string> clusterDns, string clusterDomain, string hostResolvConf)
    {
        var host = ParseResolvConf(hostResolvConf);
        var hostNetwork = pod.Spec?.HostNetwork == true;
        var policy = pod.Spec?.DnsPolicy ?? "ClusterFirst";
        var cluster = policy switch
        {
            "ClusterFirstWithHostNet" => true,
            "ClusterFirst" => !hostNetwork,
            _ => false,
        };
        List<string> nameservers, searches, options;
        if (policy == "None")
        {
            (nameservers, searches, options) = ([], [], []);
        }
        else if (cluster && clusterDns.Count > 0)
        {
            nameservers = [.. clusterDns];
            var ns = pod.Metadata.NamespaceProperty ?? "default";
            searches = [$"{ns}.svc.{clusterDomain}", $"svc.{clusterDomain}", clusterDomain, .. host.Searches];
            options = ["ndots:5"];
        }
        else
        {
            // Default, ClusterFirst for hostNetwork Pods, and ClusterFirst without a cluster DNS (kubelet falls back, too).
            (nameservers, searches, options) = ([.. host.Nameservers], [.. host.Searches], [.. host.Options]);
        }
        if (pod.Spec?.DnsConfig is { } extra)
        {
            nameservers = [.. nameservers.Concat(extra.Nameservers ?? []).Distinct(StringComparer.Ordinal)];
            searches = [.. searches.Concat(extra.Searches ?? []).Distinct(StringComparer.Ordinal)];
            options = MergeOptions(options, extra.Options ?? []);
        }
        var sb = new StringBuilder();
        if (searches.Count > 0)
        {
            sb.Append("search ").AppendJoin(' ', searches.Take(MaxSearches)).Append('\n');
        }
        foreach (var n in nameservers.Take(MaxNameservers))
        {
            sb.Append("nameserver ").Append(n).Append('\n');
        }
        if (options.Count > 0)
        {
            sb.Append("options ").AppendJoin(' ', options).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The kubelet-managed hosts file: localhost lines, the Pod IPs → hostname (FQDN first with a subdomain), hostAliases.</summary>
    public static string Hosts(V1Pod pod, IReadOnlyList<string> podIps, string clusterDomain)
    {
        var sb = new StringBuilder("# Kubernetes-managed hosts file.\n")
            .Append("127.0.0.1\tlocalhost\n")
            .Append("::1\tlocalhost ip6-localhost ip6-loopback\n")
            .Append("fe00::0\tip6-localnet\n")
            .Append("fe00::0\tip6-mcastprefix\n")
            .Append("fe00::1\tip6-allnodes\n")
            .Append("fe00::2\tip6-allrouters\n");
        var hostname = Hostname(pod);
        var domain = HostDomain(pod, clusterDomain);
        foreach (var ip in podIps)
        {
            sb.Append(ip).Append('\t');
            if (domain is not null)
            {
                sb.Append(hostname).Append('.').Append(domain).Append('\t');
            }
            sb.Append(hostname).Append('\n');
        }
        AppendHostAliases(sb, pod);
        return sb.ToString();
    }

    /// <summary>hostNetwork Pods see the node's hosts file plus their hostAliases.</summary>
    public static string HostNetworkHosts(V1Pod pod, string nodeHosts)
    {
        var sb = new StringBuilder(nodeHosts);
        if (sb.Length > 0 && sb[^1] != '\n')
        {
            sb.Append('\n');
        }
        AppendHostAliases(sb, pod);
        return sb.ToString();
    }

    private static void AppendHostAliases(StringBuilder sb, V1Pod pod)
    {
        if (pod.Spec?.HostAliases is not { Count: > 0 } aliases)
        {
            return;
        }
        sb.Append("\n# Entries added by HostAliases.\n");
        foreach (var a in aliases)
        {
            sb.Append(a.Ip).Append('\t').AppendJoin('\t', a.Hostnames ?? []).Append('\n');
        }
    }

    private static List<string> MergeOptions(List<string> existing, IList<V1PodDNSConfigOption> extra)
    {
        // As kubelet mergeDNSOptions: a Pod option replaces an inherited one of the same name.
        var result = new List<(string Name, string Text)>();
        foreach (var o in existing)
        {
            var name = o.Split(':', 2)[0];
            result.RemoveAll(r => r.Name == name);
            result.Add((name, o));
        }
        foreach (var o in extra)
        {
            result.RemoveAll(r => r.Name == o.Name);
            result.Add((o.Name, string.IsNullOrEmpty(o.Value) ? o.Name : o.Name + ":" + o.Value));
        }
        return [.. result.Select(r => r.Text)];
    }

    internal static (List<string> Nameservers, List<string> Searches, List<string> Options) ParseResolvConf(string text)
    {
        List<string> nameservers = [], searches = [], options = [];
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#', ';')[0].Trim();
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2)
            {
                continue;
            }
            switch (fields[0])
            {
                case "nameserver":
                    nameservers.Add(fields[1]);
                    break;
                case "search" or "domain":
                    // The last search/domain line wins, as in resolver(5).
                    searches = [.. fields[1..].Where(s => s != ".")];
                    break;
                case "options":
                    options.AddRange(fields[1..]);
                    break;
            }
        }
        return (nameservers, searches, options);
    }
}
