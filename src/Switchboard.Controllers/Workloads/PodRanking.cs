using k8s.Models;

namespace Switchboard.Controllers.Workloads;

/// <summary>
/// Which surplus pods a ReplicaSet deletes first: upstream's ActivePodsWithRanks ordering (v1.33, with the
/// PodDeletionCost and LogarithmicScaleDown gates on, as by default). Earlier in the order = deleted first:
/// unassigned before assigned; Pending before Unknown before Running; not ready before ready; lower
/// pod-deletion-cost first; pods doubled up on a node with more related pods first; ready for a shorter time
/// first (compared on a log2 scale, ties by UID); more container restarts first; newer first (log2 scale).
/// </summary>
internal static class PodRanking
{
    /// <summary>upstream getPodsToDelete: the <paramref name="count"/> pods to delete out of <paramref name="pods"/>.</summary>
    /// <param name="related">Active pods of the ReplicaSet and its siblings (same controlling Deployment), for the rank.</param>
    public static List<V1Pod> PodsToDelete(IReadOnlyList<V1Pod> pods, IReadOnlyList<V1Pod> related, int count, DateTimeOffset now)
    {
        if (count >= pods.Count)
        {
            return [.. pods];
        }
        var perNode = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in related)
        {
            if (PodUtil.IsActive(p))
            {
                var node = p.Spec?.NodeName ?? "";
                perNode[node] = perNode.GetValueOrDefault(node) + 1;
            }
        }
        var ranked = pods.Select(p => (Pod: p, Rank: perNode.GetValueOrDefault(p.Spec?.NodeName ?? ""))).ToList();
        ranked.Sort((a, b) => Compare(a.Pod, a.Rank, b.Pod, b.Rank, now));
        return [.. ranked.Take(count).Select(r => r.Pod)];
    }

    /// <summary>Negative when <paramref name="a"/> should be deleted before <paramref name="b"/>.</summary>
    public static int Compare(V1Pod a, int rankA, V1Pod b, int rankB, DateTimeOffset now)
    {
        var nodeA = a.Spec?.NodeName ?? "";
        var nodeB = b.Spec?.NodeName ?? "";
        if (nodeA != nodeB && (nodeA.Length == 0 || nodeB.Length == 0))
        {
            return nodeA.Length == 0 ? -1 : 1;
        }
        var phase = PhaseOrdinal(a).CompareTo(PhaseOrdinal(b));
        if (phase != 0)
        {
            return phase;
        }
        var readyA = PodUtil.IsReady(a);
        var readyB = PodUtil.IsReady(b);
        if (readyA != readyB)
        {
            return readyA ? 1 : -1;
        }
        var cost = PodUtil.DeletionCost(a).CompareTo(PodUtil.DeletionCost(b));
        if (cost != 0)
        {
            return cost;
        }
        if (rankA != rankB)
        {
            return rankA > rankB ? -1 : 1;
        }
        if (readyA && readyB)
        {
            var ta = PodUtil.ReadySince(a);
            var tb = PodUtil.ReadySince(b);
            if (ta != tb)
            {
                var c = CompareTimes(ta, tb, a, b, now);
                if (c != 0)
                {
                    return c;
                }
            }
        }
        var restarts = PodUtil.MaxRestarts(a).CompareTo(PodUtil.MaxRestarts(b));
        if (restarts != 0)
        {
            return -restarts;
        }
        var ca = a.Metadata.CreationTimestamp;
        var cb = b.Metadata.CreationTimestamp;
        if (ca != cb)
        {
            return CompareTimes(ca, cb, a, b, now);
        }
        return 0;
    }

    /// <summary>Newer (or unknown) first; with both known, on upstream's log2 buckets of age, ties by UID.</summary>
    private static int CompareTimes(DateTime? ta, DateTime? tb, V1Pod a, V1Pod b, DateTimeOffset now)
    {
        if (ta is null || tb is null)
        {
            // afterOrZero: a zero time sorts first.
            return ta is null ? (tb is null ? 0 : -1) : 1;
        }
        var diff = LogRank(ta.Value, now) - LogRank(tb.Value, now);
        if (diff == 0)
        {
            return string.CompareOrdinal(a.Metadata.Uid, b.Metadata.Uid);
        }
        return diff < 0 ? -1 : 1;
    }

    /// <summary>floor(log2(age in ns)), -1 for no age: pods within the same power-of-two age bucket are equal.</summary>
    internal static long LogRank(DateTime t, DateTimeOffset now)
    {
        var age = now - new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc));
        var ns = age.Ticks * 100.0;
        return ns > 0 ? (long)Math.Log2(ns) : -1;
    }

    private static int PhaseOrdinal(V1Pod pod) => pod.Status?.Phase switch
    {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
}
