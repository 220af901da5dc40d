using System.Globalization;
using k8s.Models;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Scheduling;

/// <summary>One Node as the scheduler sees it: the Node and the pods bound (or assumed bound) to it.</summary>
internal sealed record NodeInfo(V1Node Node, IReadOnlyList<V1Pod> Pods)
{
    public string Name => Node.Metadata.Name;

    public string? Zone => Node.Metadata.Labels?.TryGetValue(SchedulingAlgorithm.ZoneLabel, out var z) == true ? z : null;
}

/// <summary>The outcome of one scheduling attempt: a node, or the reasons why none fits.</summary>
internal sealed record ScheduleResult(string? Node, string? Message);

/// <summary>
/// The decision of kube-scheduler's default profile, reduced to what Switchboard clusters need (pure, no I/O).
/// Filters, in upstream's plugin order, each node stopping at its first failure: NodeUnschedulable, TaintToleration
/// (with the not-ready / unreachable NoSchedule taints that upstream's lifecycle controller puts on nodes whose
/// Ready condition is not True), NodeAffinity (nodeSelector and required node affinity), NodePorts,
/// NodeResourcesFit (pods, cpu, memory). Score: fewest pods of the same group (same controller, else same labels)
/// on the node, then in its zone, weighted as PodTopologySpread's default constraints (log(size+2)); then fewest
/// pods overall; remaining ties at random, as upstream.
/// </summary>
internal static class SchedulingAlgorithm
{
    public const string ZoneLabel = "topology.kubernetes.io/zone";
    public const string NotReadyTaint = "node.kubernetes.io/not-ready";
    public const string UnreachableTaint = "node.kubernetes.io/unreachable";
    public const string UnschedulableTaint = "node.kubernetes.io/unschedulable";

    public const string ReasonUnschedulable = "node(s) were unschedulable";
    public const string ReasonAffinity = "node(s) didn't match Pod's node affinity/selector";
    public const string ReasonPorts = "node(s) didn't have free ports for the requested pod ports";
    public const string ReasonTooManyPods = "Too many pods";

    public static ScheduleResult Schedule(V1Pod pod, IReadOnlyList<NodeInfo> nodes, Random random)
    {
        if (nodes.Count == 0)
        {
            return new ScheduleResult(null, "no nodes available to schedule pods");
        }
        var feasible = new List<NodeInfo>();
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var failures = Filter(pod, node);
            if (failures.Count == 0)
            {
                feasible.Add(node);
                continue;
            }
            foreach (var r in failures)
            {
                reasons[r] = reasons.GetValueOrDefault(r) + 1;
            }
        }
        if (feasible.Count == 0)
        {
            return new ScheduleResult(null, FitErrorMessage(nodes.Count, reasons));
        }
        return new ScheduleResult(Pick(pod, feasible, nodes, random).Name, null);
    }

    /// <summary>upstream FitError.Error() followed by the preemption post-filter's verdict (no preemption here).</summary>
    public static string FitErrorMessage(int nodeCount, IReadOnlyDictionary<string, int> reasons)
    {
        var parts = reasons.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Value} {kv.Key}")).Order(StringComparer.Ordinal);
        return string.Create(CultureInfo.InvariantCulture,
            $"0/{nodeCount} nodes are available: {string.Join(", ", parts)}. preemption: 0/{nodeCount} nodes are available: {nodeCount} Preemption is not helpful for scheduling.");
    }

    /// <summary>The reasons a node cannot take the pod (empty: it fits). Only the first failing plugin reports.</summary>
    public static List<string> Filter(V1Pod pod, NodeInfo info)
    {
        var node = info.Node;
        var tolerations = pod.Spec?.Tolerations ?? [];
        if (node.Spec?.Unschedulable == true && !tolerations.Any(t => Tolerates(t, new V1Taint { Key = UnschedulableTaint, Effect = "NoSchedule" })))
        {
            return [ReasonUnschedulable];
        }
        foreach (var taint in EffectiveTaints(node))
        {
            if (taint.Effect is "NoSchedule" or "NoExecute" && !tolerations.Any(t => Tolerates(t, taint)))
            {
                return [$"node(s) had untolerated taint {{{taint.Key}: {taint.Value}}}"];
            }
        }
        if (!MatchesNodeSelectorAndAffinity(pod, node))
        {
            return [ReasonAffinity];
        }
        if (PortsConflict(pod, info.Pods))
        {
            return [ReasonPorts];
        }
        return Insufficient(pod, info);
    }

    /// <summary>
    /// The node's taints, with the not-ready/unreachable ones derived from its Ready condition. Upstream's node
    /// lifecycle controller adds and removes those taints as the condition changes (a kubelet registers with
    /// not-ready:NoSchedule); Switchboard's does not manage taints yet, so the condition is the truth and such
    /// taints in the spec are ignored rather than left to block a Ready node forever.
    /// </summary>
    public static IEnumerable<V1Taint> EffectiveTaints(V1Node node)
    {
        foreach (var t in node.Spec?.Taints ?? [])
        {
            if (t.Key is not (NotReadyTaint or UnreachableTaint))
            {
                yield return t;
            }
        }
        var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        if (ready?.Status == "True")
        {
            yield break;
        }
        var key = ready?.Status == "Unknown" ? UnreachableTaint : NotReadyTaint;
        yield return new V1Taint { Key = key, Effect = "NoSchedule" };
    }

    /// <summary>v1 Toleration.ToleratesTaint.</summary>
    public static bool Tolerates(V1Toleration t, V1Taint taint)
    {
        if (!string.IsNullOrEmpty(t.Effect) && t.Effect != taint.Effect)
        {
            return false;
        }
        if (!string.IsNullOrEmpty(t.Key) && t.Key != taint.Key)
        {
            return false;
        }
        return t.OperatorProperty switch
        {
            "Exists" => true,
            null or "" or "Equal" => (t.Value ?? "") == (taint.Value ?? "") && !string.IsNullOrEmpty(t.Key),
            _ => false,
        };
    }

    public static bool MatchesNodeSelectorAndAffinity(V1Pod pod, V1Node node)
    {
        var labels = node.Metadata.Labels ?? new Dictionary<string, string>();
        foreach (var (k, v) in pod.Spec?.NodeSelector ?? new Dictionary<string, string>())
        {
            if (!labels.TryGetValue(k, out var actual) || actual != v)
            {
                return false;
            }
        }
        var terms = pod.Spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms;
        if (terms is null)
        {
            return true;
        }
        // Terms are ORed; a term with no requirements matches nothing.
        return terms.Any(term =>
            ((term.MatchExpressions?.Count ?? 0) + (term.MatchFields?.Count ?? 0)) > 0
            && (term.MatchExpressions ?? []).All(r => Matches(r, labels.TryGetValue(r.Key, out var v) ? v : null))
            && (term.MatchFields ?? []).All(r => r.Key == "metadata.name" && Matches(r, node.Metadata.Name)));
    }

    private static bool Matches(V1NodeSelectorRequirement r, string? value) => r.OperatorProperty switch
    {
        "In" => value is not null && (r.Values ?? []).Contains(value),
        "NotIn" => value is null || !(r.Values ?? []).Contains(value),
        "Exists" => value is not null,
        "DoesNotExist" => value is null,
        "Gt" => value is not null && long.TryParse(value, CultureInfo.InvariantCulture, out var a) && r.Values is [var gt] && long.TryParse(gt, CultureInfo.InvariantCulture, out var b) && a > b,
        "Lt" => value is not null && long.TryParse(value, CultureInfo.InvariantCulture, out var c) && r.Values is [var lt] && long.TryParse(lt, CultureInfo.InvariantCulture, out var e) && c < e,
        _ => false,
    };

    private static IEnumerable<V1ContainerPort> HostPorts(V1Pod pod) =>
        (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []).SelectMany(c => c.Ports ?? []).Where(p => p.HostPort is > 0);

    public static bool PortsConflict(V1Pod pod, IReadOnlyList<V1Pod> onNode)
    {
        var wanted = HostPorts(pod).ToList();
        if (wanted.Count == 0)
        {
            return false;
        }
        foreach (var other in onNode)
        {
            foreach (var used in HostPorts(other))
            {
                foreach (var w in wanted)
                {
                    if (w.HostPort == used.HostPort && (w.Protocol ?? "TCP") == (used.Protocol ?? "TCP") && IpOverlap(w.HostIP, used.HostIP))
                    {
                        return true;
                    }
                }
            }
        }
        return false;

        static bool IpOverlap(string? a, string? b) =>
            a is null or "" or "0.0.0.0" or "::" || b is null or "" or "0.0.0.0" or "::" || a == b;
    }

    private static List<string> Insufficient(V1Pod pod, NodeInfo info)
    {
        var reasons = new List<string>();
        var allocatable = info.Node.Status?.Allocatable;
        if (allocatable?.TryGetValue("pods", out var podsQ) == true && info.Pods.Count + 1 > podsQ.ToDecimal())
        {
            reasons.Add(ReasonTooManyPods);
        }
        foreach (var resource in new[] { "cpu", "memory" })
        {
            var want = Request(pod, resource);
            if (want == 0 || allocatable?.TryGetValue(resource, out var capQ) != true)
            {
                continue;
            }
            var used = info.Pods.Sum(p => Request(p, resource));
            if (used + want > capQ!.ToDecimal())
            {
                reasons.Add("Insufficient " + resource);
            }
        }
        return reasons;
    }

    /// <summary>The pod's effective request: the sum over containers, or the largest init container if bigger.</summary>
    public static decimal Request(V1Pod pod, string resource)
    {
        static decimal Of(V1Container c, string r) =>
            c.Resources?.Requests?.TryGetValue(r, out var q) == true ? q.ToDecimal() : 0;

        var sum = (pod.Spec?.Containers ?? []).Sum(c => Of(c, resource));
        var init = (pod.Spec?.InitContainers ?? []).Select(c => Of(c, resource)).DefaultIfEmpty(0).Max();
        return Math.Max(sum, init);
    }

    // ---- scoring ----

    /// <summary>True when <paramref name="other"/> belongs to the same group as <paramref name="pod"/> for spreading.</summary>
    public static bool SameGroup(V1Pod pod, V1Pod other)
    {
        if (other.Metadata.NamespaceProperty != pod.Metadata.NamespaceProperty || other.Metadata.Uid == pod.Metadata.Uid && pod.Metadata.Uid is not null)
        {
            return false;
        }
        if (PodUtil.ControllerOf(pod) is { } owner)
        {
            return PodUtil.ControllerOf(other)?.Uid == owner.Uid;
        }
        var labels = pod.Metadata.Labels;
        return labels is { Count: > 0 } && Client.Informers.Indexers.Matches(labels, other.Metadata.Labels);
    }

    private static NodeInfo Pick(V1Pod pod, List<NodeInfo> feasible, IReadOnlyList<NodeInfo> all, Random random)
    {
        var perNode = all.ToDictionary(n => n.Name, n => n.Pods.Count(p => SameGroup(pod, p)), StringComparer.Ordinal);
        var perZone = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in all)
        {
            if (n.Zone is { } z)
            {
                perZone[z] = perZone.GetValueOrDefault(z) + perNode[n.Name];
            }
        }
        // PodTopologySpread's normalizing weight: log(number of topology values + 2).
        var nodeWeight = Math.Log(feasible.Count + 2);
        var zoneWeight = Math.Log(feasible.Select(n => n.Zone).Where(z => z is not null).Distinct().Count() + 2);
        double Score(NodeInfo n) => perNode[n.Name] * nodeWeight + (n.Zone is { } z ? perZone[z] * zoneWeight : 0);

        var best = new List<NodeInfo>();
        var bestScore = double.MaxValue;
        var bestLoad = int.MaxValue;
        foreach (var n in feasible)
        {
            var s = Score(n);
            var load = n.Pods.Count;
            if (s < bestScore - 1e-9 || (Math.Abs(s - bestScore) <= 1e-9 && load < bestLoad))
            {
                best.Clear();
                bestScore = s;
                bestLoad = load;
            }
            if (Math.Abs(s - bestScore) <= 1e-9 && load == bestLoad)
            {
                best.Add(n);
            }
        }
        return best[random.Next(best.Count)];
    }
}
