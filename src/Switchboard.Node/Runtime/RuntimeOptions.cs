using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Node.Runtime;

/// <summary>What the Pod runtime needs from the agent's flags (ARCHITECTURE.md §1–§2).</summary>
internal sealed class RuntimeOptions
{
    public required string NodeName { get; init; }

    /// <summary>The agent's --data-dir: pods/ and cni/ live under it.</summary>
    public required string DataDir { get; init; }

    /// <summary>Prefix of every Pod network namespace (<c>&lt;prefix&gt;-p&lt;hash&gt;</c>), at most 9 characters.</summary>
    public required string NetnsPrefix { get; init; }

    /// <summary>
    /// True when no other agent uses <see cref="NetnsPrefix"/> (the per-node default): only then are unrecorded
    /// <c>&lt;prefix&gt;-p*</c> namespaces this node's orphans. <c>up</c> gives every node <c>sb-&lt;id&gt;</c>, shared.
    /// </summary>
    public bool ExclusivePrefix { get; init; }

    public string CniBinDir { get; init; } = "/usr/lib/cni";

    /// <summary>Cluster DNS Service IPs (kubelet --cluster-dns); empty makes ClusterFirst fall back to Default, as kubelet.</summary>
    public IReadOnlyList<string> ClusterDns { get; init; } = [];

    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>The node's addresses (status.hostIP(s) of its Pods), IPv4 first.</summary>
    public IReadOnlyList<string> NodeIps { get; init; } = [];

    /// <summary>Override of Node.spec.podCIDRs where there is no node IPAM (--pod-cidr, comma list).</summary>
    public IReadOnlyList<string> PodCidrOverride { get; init; } = [];

    /// <summary>The switchboard-agnhost executable (--agnhost-path); null finds it next to switchboard, else on PATH.</summary>
    public string? AgnhostPath { get; init; }

    /// <summary>
    /// The namespace that plays the node: CNI plugins, probes and hostNetwork Pods run there. Null (production) is
    /// the agent's own namespace; tests set a namespace they created so nothing touches the host namespace.
    /// </summary>
    public string? NodeNetns { get; init; }

    /// <summary>The node's resolv.conf (dnsPolicy Default).</summary>
    public string HostResolvConf { get; init; } = "/etc/resolv.conf";

    public string EtcNetnsDir { get; init; } = "/etc/netns";

    /// <summary>How often running containers are checked for exit (kubelet's PLEG relist period).</summary>
    public TimeSpan RelistPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The CA bundle written as the service-account ca.crt (the API server's CA from the kubeconfig).</summary>
    public string? CaPem { get; init; }

    public string PodsDir => Path.Combine(DataDir, "pods");

    public string CniDataDir => Path.Combine(DataDir, "cni");

    public string CniConfigPath => Path.Combine(DataDir, "cni", "10-switchboard.conflist");

    /// <summary>The default --netns-prefix: <c>sb-</c> + 6 hex characters of a hash of the node name.</summary>
    public static string DefaultNetnsPrefix(string nodeName) =>
        "sb-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(nodeName)))[..6];

    /// <summary>Null when the prefix is usable, else why not.</summary>
    public static string? ValidatePrefix(string prefix)
    {
        if (prefix.Length is 0 or > 9)
        {
            return "must be 1 to 9 characters (Pod namespace names stay within 15)";
        }
        return prefix.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') ? null : "may contain only a-z, 0-9 and '-'";
    }
}
