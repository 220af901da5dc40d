namespace Switchboard.Controllers.Workloads;

/// <summary>
/// How far a rolling update may shrink the old ReplicaSets in one step (upstream reconcileOldReplicaSets:
/// cleanupUnhealthyReplicas, then scaleDownOldReplicaSetsForRollingUpdate). Pure, so the arithmetic is tested on
/// its own: never below <c>replicas - maxUnavailable</c> available pods, counting the new ReplicaSet's unavailable
/// pods against the budget; unhealthy old pods go first, oldest ReplicaSets first.
/// </summary>
internal static class RollingPlan
{
    /// <summary>A ReplicaSet as the plan sees it: spec replicas and available replicas.</summary>
    internal sealed record Set(string Name, int Replicas, int Available, DateTime Created);

    /// <summary>New sizes for the old ReplicaSets that shrink (none when the budget allows nothing).</summary>
    public static List<(string Name, int Size)> OldScaleDown(k8s.Models.V1Deployment d, IReadOnlyList<Set> all, IReadOnlyList<Set> activeOld, Set? newRS)
    {
        var minAvailable = DeploymentUtil.Replicas(d) - DeploymentUtil.MaxUnavailable(d);
        return OldScaleDown(minAvailable, all, activeOld, newRS);
    }

    public static List<(string Name, int Size)> OldScaleDown(int minAvailable, IReadOnlyList<Set> all, IReadOnlyList<Set> activeOld, Set? newRS)
    {
        var oldPods = activeOld.Sum(s => s.Replicas);
        if (oldPods == 0)
        {
            return [];
        }
        var allPods = all.Sum(s => s.Replicas);
        var newUnavailable = newRS is null ? 0 : newRS.Replicas - newRS.Available;
        var maxScaledDown = allPods - minAvailable - newUnavailable;
        if (maxScaledDown <= 0)
        {
            return [];
        }
        var ordered = activeOld.OrderBy(s => s.Created).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
        var sizes = ordered.ToDictionary(s => s.Name, s => s.Replicas, StringComparer.Ordinal);

        // Unhealthy replicas first: they serve nothing, so removing them costs no availability.
        var cleaned = 0;
        foreach (var s in ordered)
        {
            if (cleaned >= maxScaledDown)
            {
                break;
            }
            var unhealthy = s.Replicas - s.Available;
            if (s.Replicas == 0 || unhealthy <= 0)
            {
                continue;
            }
            var down = Math.Min(maxScaledDown - cleaned, unhealthy);
            sizes[s.Name] -= down;
            cleaned += down;
        }

        // Then healthy ones, as far as availability above the minimum allows.
        var available = all.Sum(s => s.Available);
        var budget = available - minAvailable;
        var scaled = 0;
        if (budget > 0)
        {
            foreach (var s in ordered)
            {
                if (scaled >= budget)
                {
                    break;
                }
                if (sizes[s.Name] == 0)
                {
                    continue;
                }
                var down = Math.Min(sizes[s.Name], budget - scaled);
                sizes[s.Name] -= down;
                scaled += down;
            }
        }
        return [.. ordered.Where(s => sizes[s.Name] != s.Replicas).Select(s => (s.Name, sizes[s.Name]))];
    }
}
