using Switchboard.Controllers.Workloads;
using static Switchboard.Controllers.Workloads.RollingPlan;

namespace Switchboard.Controllers.Tests.Workloads;

public sealed class RollingPlanTests
{
    private static Set S(string name, int replicas, int available, int minute) => new(name, replicas, available, DateTime.UnixEpoch.AddMinutes(minute));

    [Fact]
    public void OldScaleDown_NewNotAvailableYet_ScalesOnlyTheUnavailableBudget()
    {
        // 10 replicas, maxUnavailable 2 → min 8 available. Old 10 available, new 3 not available yet.
        var old = S("old", 10, 10, 0);
        var fresh = S("new", 3, 0, 1);
        var plan = OldScaleDown(8, [old, fresh], [old], fresh);
        Assert.Equal([("old", 8)], plan);
    }

    [Fact]
    public void OldScaleDown_UnhealthyOldReplicasGoFirst()
    {
        // Old has 2 unavailable of 5; budget: all 7 - min 4 - new unavailable 2 = 1 → one unhealthy old pod first.
        var old = S("old", 5, 3, 0);
        var fresh = S("new", 2, 0, 1);
        var plan = OldScaleDown(4, [old, fresh], [old], fresh);
        Assert.Equal([("old", 4)], plan);
    }

    [Fact]
    public void OldScaleDown_AtMinimumAvailability_DoesNothing()
    {
        var old = S("old", 3, 3, 0);
        var fresh = S("new", 1, 0, 1);
        Assert.Empty(OldScaleDown(3, [old, fresh], [old], fresh));
    }

    [Fact]
    public void OldScaleDown_SeveralOld_OldestFirst()
    {
        var a = S("a", 2, 2, 0);
        var b = S("b", 2, 2, 1);
        var fresh = S("new", 4, 4, 2);
        var plan = OldScaleDown(3, [a, b, fresh], [a, b], fresh);
        Assert.Equal([("a", 0), ("b", 0)], plan);
    }

    [Fact]
    public void OldScaleDown_NeverBelowMinimumAcrossSteps()
    {
        // Simulate a rollout of 4 replicas, surge 1, unavailable 1, where every new pod becomes available at once.
        var replicas = 4;
        var minAvailable = 3;
        int oldSize = 4, newSize = 0;
        for (var step = 0; step < 20 && !(newSize == replicas && oldSize == 0); step++)
        {
            // reconcileNewReplicaSet
            var total = oldSize + newSize;
            newSize += Math.Max(0, Math.Min(replicas + 1 - total, replicas - newSize));
            Assert.True(oldSize + newSize <= replicas + 1);
            var plan = OldScaleDown(minAvailable, [S("old", oldSize, oldSize, 0), S("new", newSize, newSize, 1)], [S("old", oldSize, oldSize, 0)], S("new", newSize, newSize, 1));
            foreach (var (_, size) in plan)
            {
                oldSize = size;
            }
            Assert.True(oldSize + newSize >= minAvailable);
        }
        Assert.Equal((0, 4), (oldSize, newSize));
    }
}
