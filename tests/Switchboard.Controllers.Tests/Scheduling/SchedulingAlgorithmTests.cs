using k8s.Models;
using Switchboard.Controllers.Scheduling;

namespace Switchboard.Controllers.Tests.Scheduling;

public sealed class SchedulingAlgorithmTests
{
    private static V1Node Node(string name, string? zone = null, string ready = "True", bool unschedulable = false, V1Taint? taint = null, string pods = "110", string cpu = "2") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = zone is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [SchedulingAlgorithm.ZoneLabel] = zone } },
        Spec = new V1NodeSpec { Unschedulable = unschedulable, Taints = taint is null ? null : [taint] },
        Status = new V1NodeStatus
        {
            Conditions = [new V1NodeCondition { Type = "Ready", Status = ready }],
            Allocatable = new Dictionary<string, ResourceQuantity> { ["pods"] = new(pods), ["cpu"] = new(cpu) },
        },
    };

    private static V1Pod Pod(string name, string owner = "rs1", string? node = null, string? cpu = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = "ns",
            Uid = name,
            OwnerReferences = [new V1OwnerReference { Kind = "ReplicaSet", Name = owner, Uid = owner, Controller = true }],
        },
        Spec = new V1PodSpec
        {
            NodeName = node,
            Containers = [new V1Container { Name = "c", Resources = cpu is null ? null : new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu) } } }],
        },
    };

    private static NodeInfo Info(V1Node node, params V1Pod[] pods) => new(node, pods);

    [Fact]
    public void Schedule_NoNodeFits_UpstreamMessageWithSortedReasons()
    {
        var pod = Pod("p");
        var result = SchedulingAlgorithm.Schedule(pod, [
            Info(Node("a", ready: "False")),
            Info(Node("b", unschedulable: true)),
            Info(Node("c", taint: new V1Taint { Key = "dedicated", Value = "gpu", Effect = "NoSchedule" })),
        ], new Random(1));
        Assert.Null(result.Node);
        Assert.Equal(
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
            result.Message);
    }

    [Fact]
    public void Schedule_NoNodes_SaysSo()
    {
        Assert.Equal("no nodes available to schedule pods", SchedulingAlgorithm.Schedule(Pod("p"), [], new Random(1)).Message);
    }

    [Fact]
    public void Schedule_TolerationsNodeSelectorAndAffinityAreHonoured()
    {
        var pod = Pod("p");
        pod.Spec.Tolerations = [new V1Toleration { Key = "dedicated", OperatorProperty = "Equal", Value = "gpu", Effect = "NoSchedule" }];
        pod.Spec.NodeSelector = new Dictionary<string, string> { [SchedulingAlgorithm.ZoneLabel] = "b" };
        var nodes = new[] { Info(Node("a", "a")), Info(Node("b", "b", taint: new V1Taint { Key = "dedicated", Value = "gpu", Effect = "NoSchedule" })) };
        Assert.Equal("b", SchedulingAlgorithm.Schedule(pod, nodes, new Random(1)).Node);

        pod.Spec.NodeSelector = null;
        pod.Spec.Affinity = new V1Affinity
        {
            NodeAffinity = new V1NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
                {
                    NodeSelectorTerms = [new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = SchedulingAlgorithm.ZoneLabel, OperatorProperty = "NotIn", Values = ["b"] }] }],
                },
            },
        };
        var result = SchedulingAlgorithm.Schedule(pod, [nodes[1]], new Random(1));
        Assert.Contains("1 node(s) didn't match Pod's node affinity/selector", result.Message, StringComparison.Ordinal);
        Assert.Equal("a", SchedulingAlgorithm.Schedule(pod, nodes, new Random(1)).Node);
    }

    [Fact]
    public void Schedule_CapacityPodsAndCpu()
    {
        var full = Info(Node("a", pods: "1"), Pod("x", owner: "other", node: "a"));
        var busy = Info(Node("b", cpu: "1"), Pod("y", owner: "other", node: "b", cpu: "800m"));
        var result = SchedulingAlgorithm.Schedule(Pod("p", cpu: "500m"), [full, busy], new Random(1));
        Assert.Equal("0/2 nodes are available: 1 Insufficient cpu, 1 Too many pods. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.", result.Message);
    }

    [Fact]
    public void Schedule_SpreadsReplicasOverNodesThenZones()
    {
        // Zone a has two nodes, b one. One replica already on a1: the next goes to zone b, the one after to a2.
        var a1 = Node("a1", "a");
        var a2 = Node("a2", "a");
        var b1 = Node("b1", "b");
        var existing = Pod("r0", node: "a1");
        Assert.Equal("b1", SchedulingAlgorithm.Schedule(Pod("r1"), [Info(a1, existing), Info(a2), Info(b1)], new Random(1)).Node);
        var onB = Pod("r1", node: "b1");
        Assert.Equal("a2", SchedulingAlgorithm.Schedule(Pod("r2"), [Info(a1, existing), Info(a2), Info(b1, onB)], new Random(1)).Node);
        // Other owners' pods do not count toward spreading, only toward load ties.
        Assert.Equal("a2", SchedulingAlgorithm.Schedule(Pod("s", owner: "rs2"), [Info(a1, existing), Info(a2), Info(b1, onB)], new Random(1)).Node);
    }

    [Fact]
    public void Filter_ConditionTaintsFollowTheReadyCondition()
    {
        // A kubelet registers with not-ready:NoSchedule; once Ready the taint no longer blocks (the condition decides).
        var registered = Node("a", taint: new V1Taint { Key = SchedulingAlgorithm.NotReadyTaint, Effect = "NoSchedule" });
        Assert.Empty(SchedulingAlgorithm.Filter(Pod("p"), Info(registered)));
        Assert.Equal(["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"], SchedulingAlgorithm.Filter(Pod("p"), Info(Node("b", ready: "Unknown"))));
        var tolerant = Pod("t");
        tolerant.Spec.Tolerations = [new V1Toleration { OperatorProperty = "Exists" }];
        Assert.Empty(SchedulingAlgorithm.Filter(tolerant, Info(Node("b", ready: "Unknown"))));
    }

    [Fact]
    public void SchedulingRelevantChange_IgnoresHeartbeats()
    {
        var old = Node("a", "a");
        var beat = Node("a", "a");
        beat.Status.Conditions[0].LastHeartbeatTime = DateTime.UtcNow;
        Assert.False(Scheduler.SchedulingRelevantChange(old, beat));
        Assert.True(Scheduler.SchedulingRelevantChange(old, Node("a", "b")));
        Assert.True(Scheduler.SchedulingRelevantChange(old, Node("a", "a", ready: "False")));
        Assert.True(Scheduler.SchedulingRelevantChange(old, Node("a", "a", unschedulable: true)));
        Assert.True(Scheduler.SchedulingRelevantChange(old, Node("a", "a", pods: "10")));
    }

    [Fact]
    public void Filter_HostPortConflict()
    {
        var pod = Pod("p");
        pod.Spec.Containers[0].Ports = [new V1ContainerPort { ContainerPort = 80, HostPort = 8080 }];
        var other = Pod("o", owner: "x", node: "a");
        other.Spec.Containers[0].Ports = [new V1ContainerPort { ContainerPort = 80, HostPort = 8080, Protocol = "TCP" }];
        Assert.Equal([SchedulingAlgorithm.ReasonPorts], SchedulingAlgorithm.Filter(pod, Info(Node("a"), other)));
    }
}
