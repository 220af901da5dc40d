using System.Globalization;

namespace Switchboard.Node.Topology;

/// <summary>One node of the embedded cluster: its namespace, links and underlay addresses.</summary>
internal sealed record NodePlan(int Index, string Name, string Namespace, string UnderlayLink, string NodeLink, string Ipv4, string Ipv6, string? Zone)
{
    /// <summary>The agent's --node-ip value: both families, as kubelet's dual-stack flag takes them.</summary>
    public string NodeIps => Ipv4 + "," + Ipv6;
}

/// <summary>One command of the plan; <see cref="Creates"/> names the namespace it creates, recorded first.</summary>
internal sealed record PlanStep(string Program, IReadOnlyList<string> Args, string? Creates = null)
{
    public override string ToString() => Program + " " + string.Join(' ', Args);
}

/// <summary>
/// The kernel objects of `up` (ARCHITECTURE.md §2): the underlay namespace sb-&lt;id&gt;-u with a bridge holding the
/// API server's in-cluster addresses, and per node a namespace sb-&lt;id&gt;-n&lt;k&gt; joined to the bridge by a veth.
/// Pure: it only computes names and iproute2 commands, so it is unit-tested without root.
/// </summary>
internal sealed class TopologyPlan
{
    public const string GatewayIpv4 = "172.18.0.1";
    public const string GatewayIpv6 = "fd00:172:18::1";
    public const int ApiPort = 6443;

    public TopologyPlan(string clusterId, int nodes, IReadOnlyList<string> zones)
    {
        if (!ClusterId.IsValid(clusterId))
        {
            throw new ArgumentException($"'{clusterId}' is not a cluster id", nameof(clusterId));
        }
        // 10 + k must stay a host address of 172.18.0.0/24 next to the gateway; 200 nodes is far beyond one machine.
        ArgumentOutOfRangeException.ThrowIfNegative(nodes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodes, 200);
        Id = clusterId;
        Prefix = "sb-" + clusterId + "-";
        Underlay = Prefix + "u";
        Bridge = Prefix + "br";
        Nodes = [.. Enumerable.Range(1, nodes).Select(k => new NodePlan(
            k,
            "node" + k.ToString(CultureInfo.InvariantCulture),
            Prefix + "n" + k.ToString(CultureInfo.InvariantCulture),
            Prefix + "v" + k.ToString(CultureInfo.InvariantCulture),
            Prefix + "e" + k.ToString(CultureInfo.InvariantCulture),
            "172.18.0." + (10 + k).ToString(CultureInfo.InvariantCulture),
            "fd00:172:18::" + (10 + k).ToString(CultureInfo.InvariantCulture),
            zones.Count == 0 ? null : zones[(k - 1) % zones.Count]))];
    }

    public string Id { get; }

    /// <summary>sb-&lt;id&gt;-: every kernel object of this cluster starts with it.</summary>
    public string Prefix { get; }

    public string Underlay { get; }

    public string Bridge { get; }

    public IReadOnlyList<NodePlan> Nodes { get; }

    /// <summary>The commands that build everything, in order.</summary>
    public IReadOnlyList<PlanStep> CreateSteps()
    {
        var steps = new List<PlanStep>();
        AddNamespace(steps, Underlay);
        steps.Add(Ip("-n", Underlay, "link", "add", Bridge, "type", "bridge"));
        steps.Add(Ip("-n", Underlay, "addr", "add", GatewayIpv4 + "/24", "dev", Bridge));
        steps.Add(Ip("-n", Underlay, "addr", "add", GatewayIpv6 + "/64", "dev", Bridge, "nodad"));
        steps.Add(Ip("-n", Underlay, "link", "set", Bridge, "up"));
        foreach (var node in Nodes)
        {
            AddNamespace(steps, node.Namespace);
            // Made inside the underlay with the peer moved straight into the node: nothing ever exists in the host namespace.
            steps.Add(Ip("-n", Underlay, "link", "add", node.UnderlayLink, "type", "veth", "peer", "name", node.NodeLink, "netns", node.Namespace));
            steps.Add(Ip("-n", Underlay, "link", "set", node.UnderlayLink, "master", Bridge, "up"));
            steps.Add(Ip("-n", node.Namespace, "addr", "add", node.Ipv4 + "/24", "dev", node.NodeLink));
            steps.Add(Ip("-n", node.Namespace, "addr", "add", node.Ipv6 + "/64", "dev", node.NodeLink, "nodad"));
            steps.Add(Ip("-n", node.Namespace, "link", "set", node.NodeLink, "up"));
            // A default route via the underlay gateway, as a real node has one: traffic the node itself sends to a
            // Service IP needs a route before nftables' output hook can DNAT it. The underlay has no uplink, so
            // nothing reaches beyond the cluster network.
            steps.Add(Ip("-n", node.Namespace, "route", "add", "default", "via", GatewayIpv4));
            steps.Add(Ip("-n", node.Namespace, "-6", "route", "add", "default", "via", GatewayIpv6));
        }
        return steps;
    }

    /// <summary>True for a namespace name of this cluster (the crash sweep removes only these).</summary>
    public bool Owns(string netns) => netns.StartsWith(Prefix, StringComparison.Ordinal);

    private static void AddNamespace(List<PlanStep> steps, string name)
    {
        steps.Add(new PlanStep("ip", ["netns", "add", name], Creates: name));
        steps.Add(Ip("-n", name, "link", "set", "lo", "up"));
        // DAD costs ~2 s per dual-stack address and protects nothing on these private links (ARCHITECTURE.md §2);
        // set before any link exists so every new interface inherits it.
        foreach (var scope in (string[])["all", "default"])
        {
            steps.Add(new PlanStep("ip", ["netns", "exec", name, "sysctl", "-q", "-w", $"net.ipv6.conf.{scope}.accept_dad=0"]));
        }
        // Nodes route between their Pods and the underlay, the underlay between nodes (host-gw); a new namespace
        // starts with forwarding off. These are per-namespace sysctls.
        steps.Add(new PlanStep("ip", ["netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]));
        steps.Add(new PlanStep("ip", ["netns", "exec", name, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]));
    }

    private static PlanStep Ip(params string[] args) => new("ip", args);
}
