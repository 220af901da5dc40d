using k8s.Models;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Tests.Workloads;

public sealed class PodRankingTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch.AddDays(10);

    private static V1Pod Pod(string name, string? node = "n1", string phase = "Running", bool ready = true, DateTime? readySince = null, DateTime? created = null, int restarts = 0, string? cost = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            Uid = name,
            CreationTimestamp = created ?? Now.UtcDateTime.AddDays(-1),
            Annotations = cost is null ? null : new Dictionary<string, string> { ["controller.kubernetes.io/pod-deletion-cost"] = cost },
        },
        Spec = new V1PodSpec { NodeName = node },
        Status = new V1PodStatus
        {
            Phase = phase,
            Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = readySince ?? Now.UtcDateTime.AddDays(-1) }],
            ContainerStatuses = [new V1ContainerStatus { Name = "c", RestartCount = restarts }],
        },
    };

    private static string First(params V1Pod[] pods) => PodRanking.PodsToDelete(pods, pods, 1, Now).Single().Metadata.Name;

    [Fact]
    public void PodsToDelete_PrefersUnassignedThenPendingThenNotReady()
    {
        Assert.Equal("unassigned", First(Pod("assigned"), Pod("unassigned", node: null, phase: "Pending", ready: false)));
        Assert.Equal("pending", First(Pod("running"), Pod("pending", phase: "Pending")));
        Assert.Equal("unknown", First(Pod("running"), Pod("unknown", phase: "Unknown")));
        Assert.Equal("notready", First(Pod("ready"), Pod("notready", ready: false)));
    }

    [Fact]
    public void PodsToDelete_LowerDeletionCostFirst()
    {
        Assert.Equal("cheap", First(Pod("dear", cost: "100"), Pod("cheap", cost: "-5")));
    }

    [Fact]
    public void PodsToDelete_DoubledUpNodeFirst()
    {
        var a = Pod("alone", node: "n1");
        var b = Pod("crowded1", node: "n2");
        var c = Pod("crowded2", node: "n2");
        var chosen = PodRanking.PodsToDelete([a, b], [a, b, c], 1, Now).Single();
        Assert.Equal("crowded1", chosen.Metadata.Name);
    }

    [Fact]
    public void PodsToDelete_ReadyForLessTimeFirst_OnALogScale()
    {
        Assert.Equal("recent", First(Pod("old", readySince: Now.UtcDateTime.AddDays(-5)), Pod("recent", readySince: Now.UtcDateTime.AddMinutes(-1))));
        // 100 s and 101 s ready fall in the same power-of-two bucket: the tie goes by UID, then restarts do not decide.
        Assert.Equal("a", First(Pod("b", readySince: Now.UtcDateTime.AddSeconds(-100)), Pod("a", readySince: Now.UtcDateTime.AddSeconds(-101))));
    }

    [Fact]
    public void PodsToDelete_MoreRestartsFirstThenNewer()
    {
        Assert.Equal("crashy", First(Pod("stable"), Pod("crashy", restarts: 3)));
        Assert.Equal("newer", First(Pod("older", created: Now.UtcDateTime.AddDays(-3)), Pod("newer", created: Now.UtcDateTime.AddMinutes(-2))));
    }

    [Fact]
    public void LogRank_IsFloorLog2OfAgeInNanoseconds()
    {
        Assert.Equal(-1, PodRanking.LogRank(Now.UtcDateTime, Now));
        Assert.Equal(29, PodRanking.LogRank(Now.UtcDateTime.AddSeconds(-1), Now)); // 1e9 ns ≈ 2^29.9
    }
}
