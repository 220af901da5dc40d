using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;

namespace Switchboard.Controllers.Workloads;

/// <summary>
/// The pure parts of upstream's deployment controller (pkg/controller/deployment/util/deployment_util.go and
/// controller.ComputeHash, v1.33): annotations, fenceposts, replica arithmetic, conditions and sorting.
/// </summary>
internal static class DeploymentUtil
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
    public const string DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
    public const string MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
    public const string LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";
    public const string RollbackToAnnotation = "deprecated.deployment.rollback.to";
    public const string PodTemplateHashLabel = "pod-template-hash";
    public const int MaxRevisionHistoryChars = 2000;

    // Condition types and reasons (upstream deploymentutil constants).
    public const string Progressing = "Progressing";
    public const string Available = "Available";
    public const string ReplicaFailure = "ReplicaFailure";
    public const string NewReplicaSetReason = "NewReplicaSetCreated";
    public const string FoundNewRSReason = "FoundNewReplicaSet";
    public const string ReplicaSetUpdatedReason = "ReplicaSetUpdated";
    public const string NewRSAvailableReason = "NewReplicaSetAvailable";
    public const string TimedOutReason = "ProgressDeadlineExceeded";
    public const string PausedDeployReason = "DeploymentPaused";
    public const string ResumedDeployReason = "DeploymentResumed";
    public const string FailedRSCreateReason = "ReplicaSetCreateError";
    public const string MinimumReplicasAvailable = "MinimumReplicasAvailable";
    public const string MinimumReplicasUnavailable = "MinimumReplicasUnavailable";

    private const string SafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    // ---- hash ----

    /// <summary>
    /// controller.ComputeHash: FNV-32a over the template, then the collision count as 8 little-endian bytes (only
    /// the low 4 set), the decimal of the sum rendered with rand.SafeEncodeString. Upstream hashes Go's spew dump of
    /// the struct, which cannot be reproduced outside Go; this hashes the template's canonical JSON (keys sorted),
    /// so equal templates always hash alike and the label looks like upstream's (e.g. "5d8f7c6b9").
    /// </summary>
    public static string ComputeHash(V1PodTemplateSpec template, int? collisionCount)
    {
        var canonical = Canonical(System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(template)));
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(canonical))
        {
            hash = (hash ^ b) * 16777619u;
        }
        if (collisionCount is { } c)
        {
            Span<byte> bytes = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, unchecked((uint)c));
            foreach (var b in bytes)
            {
                hash = (hash ^ b) * 16777619u;
            }
        }
        return SafeEncode(hash.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>rand.SafeEncodeString: each byte mapped onto an alphabet without vowels or confusable characters.</summary>
    public static string SafeEncode(string s)
    {
        var chars = new char[s.Length];
        for (var i = 0; i < s.Length; i++)
        {
            chars[i] = SafeAlphabet[s[i] % SafeAlphabet.Length];
        }
        return new string(chars);
    }

    private static string Canonical(System.Text.Json.Nodes.JsonNode? node)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject o:
                return "{" + string.Join(",", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Where(kv => kv.Value is not null)
                    .Select(kv => System.Text.Json.JsonSerializer.Serialize(kv.Key) + ":" + Canonical(kv.Value))) + "}";
            case System.Text.Json.Nodes.JsonArray a:
                return "[" + string.Join(",", a.Select(Canonical)) + "]";
            case null:
                return "null";
            default:
                return node.ToJsonString();
        }
    }

    /// <summary>EqualIgnoreHash: templates equal once the pod-template-hash label is dropped from both.</summary>
    public static bool EqualIgnoreHash(V1PodTemplateSpec? a, V1PodTemplateSpec? b)
    {
        return Canonical(WithoutHash(a)) == Canonical(WithoutHash(b));

        static System.Text.Json.Nodes.JsonNode? WithoutHash(V1PodTemplateSpec? t)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(t ?? new V1PodTemplateSpec()));
            if (node?["metadata"]?["labels"] is System.Text.Json.Nodes.JsonObject labels)
            {
                labels.Remove(PodTemplateHashLabel);
                if (labels.Count == 0)
                {
                    node["metadata"]!.AsObject().Remove("labels");
                }
            }
            return node;
        }
    }

    // ---- fenceposts (intstr.GetScaledValueFromIntOrPercent) ----

    /// <summary>An int, or a percent of <paramref name="total"/> rounded up or down.</summary>
    public static int Scaled(IntOrString? value, int total, bool roundUp)
    {
        if (value is null)
        {
            return 0;
        }
        var text = value.Value ?? "0";
        if (text.EndsWith('%'))
        {
            if (!int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var percent))
            {
                throw new FormatException($"invalid value for IntOrString: invalid value \"{text}\"");
            }
            var scaled = percent * (long)total / 100.0;
            return (int)(roundUp ? Math.Ceiling(scaled) : Math.Floor(scaled));
        }
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new FormatException($"invalid value for IntOrString: invalid type: string is not a percentage");
    }

    /// <summary>ResolveFenceposts: surge rounds up, unavailable down; both zero means unavailable 1.</summary>
    public static (int Surge, int Unavailable) ResolveFenceposts(IntOrString? maxSurge, IntOrString? maxUnavailable, int desired)
    {
        var surge = Scaled(maxSurge ?? "0", desired, true);
        var unavailable = Scaled(maxUnavailable ?? "0", desired, false);
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }
        return (surge, unavailable);
    }

    public static bool IsRollingUpdate(V1Deployment d) => d.Spec.Strategy?.Type is null or "RollingUpdate";

    public static int Replicas(V1Deployment d) => d.Spec.Replicas ?? 1;

    public static int MaxUnavailable(V1Deployment d)
    {
        if (!IsRollingUpdate(d) || Replicas(d) == 0)
        {
            return 0;
        }
        var (_, unavailable) = ResolveFenceposts(d.Spec.Strategy?.RollingUpdate?.MaxSurge ?? "25%", d.Spec.Strategy?.RollingUpdate?.MaxUnavailable ?? "25%", Replicas(d));
        return Math.Min(unavailable, Replicas(d));
    }

    public static int MaxSurge(V1Deployment d)
    {
        if (!IsRollingUpdate(d))
        {
            return 0;
        }
        var (surge, _) = ResolveFenceposts(d.Spec.Strategy?.RollingUpdate?.MaxSurge ?? "25%", d.Spec.Strategy?.RollingUpdate?.MaxUnavailable ?? "25%", Replicas(d));
        return surge;
    }

    // ---- replica sums ----

    public static int SpecReplicas(V1ReplicaSet? rs) => rs?.Spec?.Replicas ?? 0;

    public static int ReplicaCount(IEnumerable<V1ReplicaSet?> sets) => sets.Sum(SpecReplicas);

    public static int ActualReplicaCount(IEnumerable<V1ReplicaSet?> sets) => sets.Sum(rs => rs?.Status?.Replicas ?? 0);

    public static int ReadyReplicaCount(IEnumerable<V1ReplicaSet?> sets) => sets.Sum(rs => rs?.Status?.ReadyReplicas ?? 0);

    public static int AvailableReplicaCount(IEnumerable<V1ReplicaSet?> sets) => sets.Sum(rs => rs?.Status?.AvailableReplicas ?? 0);

    public static List<V1ReplicaSet> Active(IEnumerable<V1ReplicaSet?> sets) => [.. sets.Where(rs => rs is not null && SpecReplicas(rs) > 0).Select(rs => rs!)];

    /// <summary>NewRSNewReplicas: how big the new ReplicaSet may be now.</summary>
    public static int NewRSNewReplicas(V1Deployment d, IEnumerable<V1ReplicaSet?> all, V1ReplicaSet newRS)
    {
        if (!IsRollingUpdate(d))
        {
            return Replicas(d);
        }
        var maxSurge = Scaled(d.Spec.Strategy?.RollingUpdate?.MaxSurge ?? "25%", Replicas(d), true);
        var current = ReplicaCount(all);
        var maxTotal = Replicas(d) + maxSurge;
        if (current >= maxTotal)
        {
            return SpecReplicas(newRS);
        }
        var scaleUp = Math.Min(maxTotal - current, Replicas(d) - SpecReplicas(newRS));
        return SpecReplicas(newRS) + scaleUp;
    }

    // ---- annotations ----

    public static bool TryGetIntAnnotation(V1ReplicaSet rs, string name, out int value)
    {
        value = 0;
        return rs.Metadata.Annotations?.TryGetValue(name, out var text) == true
            && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    public static long Revision(IKubernetesObject<V1ObjectMeta> obj) =>
        obj.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var text) == true
        && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;

    public static long MaxRevision(IEnumerable<V1ReplicaSet> sets) => sets.Select(Revision).DefaultIfEmpty(0).Max();

    /// <summary>SetReplicasAnnotations: desired-replicas and max-replicas; true when changed.</summary>
    public static bool SetReplicasAnnotations(V1ReplicaSet rs, int desired, int max)
    {
        rs.Metadata.Annotations ??= new Dictionary<string, string>();
        var changed = false;
        var d = desired.ToString(CultureInfo.InvariantCulture);
        var m = max.ToString(CultureInfo.InvariantCulture);
        if (!rs.Metadata.Annotations.TryGetValue(DesiredReplicasAnnotation, out var cd) || cd != d)
        {
            rs.Metadata.Annotations[DesiredReplicasAnnotation] = d;
            changed = true;
        }
        if (!rs.Metadata.Annotations.TryGetValue(MaxReplicasAnnotation, out var cm) || cm != m)
        {
            rs.Metadata.Annotations[MaxReplicasAnnotation] = m;
            changed = true;
        }
        return changed;
    }

    public static bool ReplicasAnnotationsNeedUpdate(V1ReplicaSet rs, int desired, int max) =>
        rs.Metadata.Annotations?.TryGetValue(DesiredReplicasAnnotation, out var d) != true || d != desired.ToString(CultureInfo.InvariantCulture)
        || rs.Metadata.Annotations?.TryGetValue(MaxReplicasAnnotation, out var m) != true || m != max.ToString(CultureInfo.InvariantCulture);

    private static bool SkipCopy(string key) =>
        key is LastAppliedAnnotation or RevisionAnnotation or RevisionHistoryAnnotation or DesiredReplicasAnnotation or MaxReplicasAnnotation or RollbackToAnnotation;

    /// <summary>SetNewReplicaSetAnnotations: the Deployment's own annotations, the revision (keeping history on rollback), replica annotations when new.</summary>
    public static bool SetNewReplicaSetAnnotations(V1Deployment d, V1ReplicaSet rs, string newRevision, bool exists)
    {
        rs.Metadata.Annotations ??= new Dictionary<string, string>();
        var changed = false;
        foreach (var (k, v) in d.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            if (SkipCopy(k) || (rs.Metadata.Annotations.TryGetValue(k, out var cur) && cur == v))
            {
                continue;
            }
            rs.Metadata.Annotations[k] = v;
            changed = true;
        }
        var hadRevision = rs.Metadata.Annotations.TryGetValue(RevisionAnnotation, out var oldRevision);
        long oldInt = 0;
        if (hadRevision && !long.TryParse(oldRevision, NumberStyles.None, CultureInfo.InvariantCulture, out oldInt))
        {
            return false;
        }
        var newInt = long.Parse(newRevision, CultureInfo.InvariantCulture);
        if (oldInt < newInt)
        {
            rs.Metadata.Annotations[RevisionAnnotation] = newRevision;
            changed = true;
            if (hadRevision)
            {
                // Rolled back to this ReplicaSet: remember its earlier revisions.
                var history = rs.Metadata.Annotations.TryGetValue(RevisionHistoryAnnotation, out var h) ? h : "";
                if (history.Length == 0)
                {
                    rs.Metadata.Annotations[RevisionHistoryAnnotation] = oldRevision!;
                }
                else
                {
                    var parts = history.Split(',').ToList();
                    var total = history.Length + oldRevision!.Length + 1;
                    var start = 0;
                    while (total > MaxRevisionHistoryChars && start < parts.Count)
                    {
                        total -= parts[start].Length + 1;
                        start++;
                    }
                    if (total <= MaxRevisionHistoryChars)
                    {
                        rs.Metadata.Annotations[RevisionHistoryAnnotation] = string.Join(",", parts.Skip(start).Append(oldRevision));
                    }
                }
            }
        }
        if (!exists && SetReplicasAnnotations(rs, Replicas(d), Replicas(d) + MaxSurge(d)))
        {
            changed = true;
        }
        return changed;
    }

    // ---- finding ReplicaSets ----

    /// <summary>Oldest first, ties by name (controller.ReplicaSetsByCreationTimestamp).</summary>
    public static List<V1ReplicaSet> ByCreation(IEnumerable<V1ReplicaSet> sets) =>
        [.. sets.OrderBy(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)];

    /// <summary>FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's, ignoring the hash label.</summary>
    public static V1ReplicaSet? FindNew(V1Deployment d, IEnumerable<V1ReplicaSet> sets) =>
        ByCreation(sets).FirstOrDefault(rs => EqualIgnoreHash(rs.Spec.Template, d.Spec.Template));

    // ---- conditions ----

    public static V1DeploymentCondition? GetCondition(V1DeploymentStatus? status, string type) =>
        status?.Conditions?.FirstOrDefault(c => c.Type == type);

    public static V1DeploymentCondition NewCondition(string type, string status, string reason, string message, DateTimeOffset now) => new()
    {
        Type = type,
        Status = status,
        Reason = reason,
        Message = message,
        LastUpdateTime = now.UtcDateTime,
        LastTransitionTime = now.UtcDateTime,
    };

    /// <summary>SetDeploymentCondition: no change for the same status and reason; keeps lastTransitionTime for the same status.</summary>
    public static void SetCondition(V1DeploymentStatus status, V1DeploymentCondition condition)
    {
        var current = GetCondition(status, condition.Type);
        if (current is not null && current.Status == condition.Status && current.Reason == condition.Reason)
        {
            return;
        }
        if (current is not null && current.Status == condition.Status)
        {
            condition.LastTransitionTime = current.LastTransitionTime;
        }
        RemoveCondition(status, condition.Type);
        status.Conditions ??= [];
        status.Conditions.Add(condition);
    }

    public static void RemoveCondition(V1DeploymentStatus status, string type)
    {
        if (status.Conditions is null)
        {
            return;
        }
        status.Conditions = [.. status.Conditions.Where(c => c.Type != type)];
    }

    public static bool HasProgressDeadline(V1Deployment d) => d.Spec.ProgressDeadlineSeconds is { } s && s != int.MaxValue;

    public static bool HasRevisionHistoryLimit(V1Deployment d) => d.Spec.RevisionHistoryLimit is { } l && l != int.MaxValue;

    /// <summary>DeploymentComplete: every replica updated and available, and the status is for the current generation.</summary>
    public static bool IsComplete(V1Deployment d, V1DeploymentStatus s) =>
        (s.UpdatedReplicas ?? 0) == Replicas(d) && (s.Replicas ?? 0) == Replicas(d) && (s.AvailableReplicas ?? 0) == Replicas(d) && (s.ObservedGeneration ?? 0) >= (d.Metadata.Generation ?? 0);

    /// <summary>DeploymentProgressing: more updated, fewer old, more ready or more available replicas than the last status.</summary>
    public static bool IsProgressing(V1Deployment d, V1DeploymentStatus s)
    {
        var old = d.Status ?? new V1DeploymentStatus();
        var oldOld = (old.Replicas ?? 0) - (old.UpdatedReplicas ?? 0);
        var newOld = (s.Replicas ?? 0) - (s.UpdatedReplicas ?? 0);
        return (s.UpdatedReplicas ?? 0) > (old.UpdatedReplicas ?? 0) || newOld < oldOld
            || (s.ReadyReplicas ?? 0) > (old.ReadyReplicas ?? 0) || (s.AvailableReplicas ?? 0) > (old.AvailableReplicas ?? 0);
    }

    /// <summary>DeploymentTimedOut: the Progressing condition was last updated more than progressDeadlineSeconds ago.</summary>
    public static bool IsTimedOut(V1Deployment d, V1DeploymentStatus s, DateTimeOffset now)
    {
        if (!HasProgressDeadline(d))
        {
            return false;
        }
        var condition = GetCondition(s, Progressing);
        if (condition is null || condition.Reason == NewRSAvailableReason)
        {
            return false;
        }
        if (condition.Reason == TimedOutReason)
        {
            return true;
        }
        var from = condition.LastUpdateTime is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : now;
        return from.AddSeconds(d.Spec.ProgressDeadlineSeconds!.Value) < now;
    }

    /// <summary>calculateStatus: counts from the ReplicaSets plus the Available condition.</summary>
    public static V1DeploymentStatus CalculateStatus(IReadOnlyList<V1ReplicaSet> all, V1ReplicaSet? newRS, V1Deployment d, DateTimeOffset now)
    {
        var available = AvailableReplicaCount(all);
        var total = ReplicaCount(all);
        var status = new V1DeploymentStatus
        {
            ObservedGeneration = d.Metadata.Generation,
            Replicas = ActualReplicaCount(all),
            UpdatedReplicas = ActualReplicaCount([newRS]),
            ReadyReplicas = ReadyReplicaCount(all),
            AvailableReplicas = available,
            UnavailableReplicas = Math.Max(0, total - available),
            CollisionCount = d.Status?.CollisionCount,
            Conditions = d.Status?.Conditions is { } c ? [.. c.Select(Clone)] : null,
        };
        if (available >= Replicas(d) - MaxUnavailable(d))
        {
            SetCondition(status, NewCondition(Available, "True", MinimumReplicasAvailable, "Deployment has minimum availability.", now));
        }
        else
        {
            SetCondition(status, NewCondition(Available, "False", MinimumReplicasUnavailable, "Deployment does not have minimum availability.", now));
        }
        return status;
    }

    public static V1DeploymentCondition Clone(V1DeploymentCondition c) => new()
    {
        Type = c.Type,
        Status = c.Status,
        Reason = c.Reason,
        Message = c.Message,
        LastUpdateTime = c.LastUpdateTime,
        LastTransitionTime = c.LastTransitionTime,
    };

    /// <summary>getReplicaSetFraction: this ReplicaSet's share of a proportional scale.</summary>
    public static int ReplicaSetFraction(V1ReplicaSet rs, V1Deployment d)
    {
        if (Replicas(d) == 0)
        {
            return -SpecReplicas(rs);
        }
        var max = Replicas(d) + MaxSurge(d);
        if (!TryGetIntAnnotation(rs, MaxReplicasAnnotation, out var before) || before == 0)
        {
            before = d.Status?.Replicas ?? 0;
            if (before == 0)
            {
                return 0;
            }
        }
        var size = (double)SpecReplicas(rs) * max / before;
        // integer.RoundToInt32: half away from zero.
        return (int)Math.Round(size, MidpointRounding.AwayFromZero) - SpecReplicas(rs);
    }

    /// <summary>GetProportion.</summary>
    public static int Proportion(V1ReplicaSet? rs, V1Deployment d, int toAdd, int added)
    {
        if (rs is null || SpecReplicas(rs) == 0 || toAdd == 0 || toAdd == added)
        {
            return 0;
        }
        var fraction = ReplicaSetFraction(rs, d);
        var allowed = toAdd - added;
        return toAdd > 0 ? Math.Min(fraction, allowed) : Math.Max(fraction, allowed);
    }

    /// <summary>
    /// The proportional part of upstream scale(): new sizes for every active ReplicaSet when a rolling Deployment
    /// is resized mid-rollout; larger (then newer) ones get more when growing, larger (then older) lose more when
    /// shrinking; the leftover goes to the first.
    /// </summary>
    public static Dictionary<string, int> ProportionalSizes(V1Deployment d, IReadOnlyList<V1ReplicaSet> active)
    {
        var allowed = Replicas(d) > 0 ? Replicas(d) + MaxSurge(d) : 0;
        var toAdd = allowed - ReplicaCount(active);
        List<V1ReplicaSet> ordered = toAdd > 0
            ? [.. active.OrderByDescending(SpecReplicas).ThenByDescending(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)]
            : toAdd < 0
                ? [.. active.OrderByDescending(SpecReplicas).ThenBy(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)]
                : [.. active];
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = 0;
        foreach (var rs in ordered)
        {
            if (toAdd != 0)
            {
                var p = Proportion(rs, d, toAdd, added);
                sizes[rs.Metadata.Name] = SpecReplicas(rs) + p;
                added += p;
            }
            else
            {
                sizes[rs.Metadata.Name] = SpecReplicas(rs);
            }
        }
        if (toAdd != 0 && ordered.Count > 0)
        {
            var first = ordered[0].Metadata.Name;
            sizes[first] = Math.Max(0, sizes[first] + toAdd - added);
        }
        return sizes;
    }
}
