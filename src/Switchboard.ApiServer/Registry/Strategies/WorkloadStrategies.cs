using k8s.Models;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>Deployments: generation tracking and the apps/v1 defaults kubectl shows.</summary>
internal sealed class DeploymentStrategy : ResourceStrategy<V1Deployment>
{
    public override bool TracksGeneration => true;

    protected override ValueTask PrepareForCreateAsync(V1Deployment obj, bool dryRun, CancellationToken cancellationToken)
    {
        Defaults(obj);
        obj.Status = new V1DeploymentStatus();
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Deployment obj, V1Deployment old, bool dryRun, CancellationToken cancellationToken)
    {
        Defaults(obj);
        return ValueTask.CompletedTask;
    }

    private static void Defaults(V1Deployment obj)
    {
        obj.Spec ??= new V1DeploymentSpec();
        obj.Spec.Replicas ??= 1;
        obj.Spec.RevisionHistoryLimit ??= 10;
        obj.Spec.ProgressDeadlineSeconds ??= 600;
        obj.Spec.Strategy ??= new V1DeploymentStrategy();
        obj.Spec.Strategy.Type ??= "RollingUpdate";
        if (obj.Spec.Strategy.Type == "RollingUpdate")
        {
            obj.Spec.Strategy.RollingUpdate ??= new V1RollingUpdateDeployment();
            obj.Spec.Strategy.RollingUpdate.MaxSurge ??= "25%";
            obj.Spec.Strategy.RollingUpdate.MaxUnavailable ??= "25%";
        }
        PodDefaults.Apply(obj.Spec.Template?.Spec);
    }
}

/// <summary>ReplicaSets: generation tracking and defaults.</summary>
internal sealed class ReplicaSetStrategy : ResourceStrategy<V1ReplicaSet>
{
    public override bool TracksGeneration => true;

    protected override ValueTask PrepareForCreateAsync(V1ReplicaSet obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1ReplicaSetSpec();
        obj.Spec.Replicas ??= 1;
        obj.Status = new V1ReplicaSetStatus { Replicas = 0 };
        PodDefaults.Apply(obj.Spec.Template?.Spec);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1ReplicaSet obj, V1ReplicaSet old, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1ReplicaSetSpec();
        obj.Spec.Replicas ??= 1;
        PodDefaults.Apply(obj.Spec.Template?.Spec);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Pods: defaults of the core/v1 PodSpec (with the pod-only defaults of SetDefaults_Pod), what v1.33's default
/// admission plugins add that users see (ServiceAccount: serviceAccountName "default"; Priority: priority 0 and
/// preemptionPolicy PreemptLowerPriority; DefaultTolerationSeconds: not-ready/unreachable NoExecute for 300 s),
/// phase Pending and the QoS class on create, v1.33 validation of the networking fields
/// (Switchboard.Api.Validation.PodNetworkValidation), and upstream's spec immutability on update.
/// </summary>
internal sealed class PodStrategy : ResourceStrategy<V1Pod>
{
    internal const string SpecForbiddenMessage =
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

    protected override ValueTask PrepareForCreateAsync(V1Pod obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1PodSpec();
        PodDefaults.Apply(obj.Spec);
        PodDefaults.HostNetworkPorts(obj.Spec);
        PodDefaults.RequestsFromLimits(obj.Spec);
        PodDefaults.PodOnly(obj.Spec);
        PodAdmission.Apply(obj.Spec);
        obj.Status = new V1PodStatus { Phase = "Pending", QosClass = PodAdmission.QosClass(obj.Spec) };
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Pod obj, V1Pod old, bool dryRun, CancellationToken cancellationToken)
    {
        PodDefaults.Apply(obj.Spec);
        PodDefaults.HostNetworkPorts(obj.Spec);
        PodDefaults.RequestsFromLimits(obj.Spec);
        PodDefaults.PodOnly(obj.Spec);
        if (obj.Spec is not null && old.Spec is not null)
        {
            // The Priority admission plugin keeps what it set on create.
            obj.Spec.Priority = old.Spec.Priority;
            obj.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy;
        }
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<Api.Validation.FieldError> Validate(V1Pod obj) => Api.Validation.PodNetworkValidation.Validate(obj.Spec);

    protected override IEnumerable<Api.Validation.FieldError> ValidateUpdate(V1Pod obj, V1Pod old)
    {
        foreach (var e in Validate(obj))
        {
            yield return e;
        }
        if (!PodAdmission.OnlyMutableFieldsChanged(obj.Spec, old.Spec))
        {
            yield return Api.Validation.FieldError.Forbidden("spec", SpecForbiddenMessage);
        }
    }
}

/// <summary>What v1.33's default admission chain adds to a new pod, and which spec fields an update may change.</summary>
internal static class PodAdmission
{
    public const int TolerationSeconds = 300;

    public static void Apply(V1PodSpec spec)
    {
        // Priority admission without a global default PriorityClass.
        spec.Priority ??= spec.PriorityClassName switch
        {
            "system-node-critical" => 2000001000,
            "system-cluster-critical" => 2000000000,
            _ => 0,
        };
        spec.PreemptionPolicy ??= "PreemptLowerPriority";
        // DefaultTolerationSeconds: tolerate not-ready/unreachable for 5 minutes before eviction.
        foreach (var key in new[] { "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable" })
        {
            var tolerated = spec.Tolerations?.Any(t =>
                (t.Effect is null or "" or "NoExecute") && (t.Key == key || (string.IsNullOrEmpty(t.Key) && t.OperatorProperty == "Exists"))) == true;
            if (!tolerated)
            {
                spec.Tolerations ??= [];
                spec.Tolerations.Add(new V1Toleration { Key = key, OperatorProperty = "Exists", Effect = "NoExecute", TolerationSeconds = TolerationSeconds });
            }
        }
    }

    /// <summary>GetPodQOS over cpu and memory of all containers.</summary>
    public static string QosClass(V1PodSpec spec)
    {
        var requests = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var limits = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var guaranteed = true;
        foreach (var c in (spec.Containers ?? []).Concat(spec.InitContainers ?? []))
        {
            foreach (var r in new[] { "cpu", "memory" })
            {
                if (c.Resources?.Requests?.TryGetValue(r, out var q) == true && q.ToDecimal() != 0)
                {
                    requests[r] = requests.GetValueOrDefault(r) + q.ToDecimal();
                }
                if (c.Resources?.Limits?.TryGetValue(r, out var l) == true && l.ToDecimal() != 0)
                {
                    limits[r] = limits.GetValueOrDefault(r) + l.ToDecimal();
                }
                else
                {
                    guaranteed = false;
                }
            }
        }
        if (requests.Count == 0 && limits.Count == 0)
        {
            return "BestEffort";
        }
        if (guaranteed && requests.Count == limits.Count && requests.All(kv => limits.TryGetValue(kv.Key, out var l) && l == kv.Value))
        {
            return "Guaranteed";
        }
        return "Burstable";
    }

    /// <summary>ValidatePodUpdate: the spec with the updatable fields taken from the new one must equal the old spec.</summary>
    public static bool OnlyMutableFieldsChanged(V1PodSpec? spec, V1PodSpec? oldSpec)
    {
        if (spec is null || oldSpec is null)
        {
            return spec is null && oldSpec is null;
        }
        var munged = k8s.KubernetesJson.Deserialize<V1PodSpec>(k8s.KubernetesJson.Serialize(spec));
        CopyImages(munged.Containers, oldSpec.Containers);
        CopyImages(munged.InitContainers, oldSpec.InitContainers);
        // activeDeadlineSeconds may be set, or lowered, but never unset or raised.
        if (munged.ActiveDeadlineSeconds is > 0 and var ads && (oldSpec.ActiveDeadlineSeconds is null || ads <= oldSpec.ActiveDeadlineSeconds))
        {
            munged.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds;
        }
        // Tolerations may only be added.
        var oldTolerations = (oldSpec.Tolerations ?? []).Select(t => k8s.KubernetesJson.Serialize(t)).ToList();
        var newTolerations = (munged.Tolerations ?? []).Select(t => k8s.KubernetesJson.Serialize(t)).ToList();
        if (oldTolerations.All(newTolerations.Contains))
        {
            munged.Tolerations = oldSpec.Tolerations;
        }
        if (oldSpec.TerminationGracePeriodSeconds < 0 && munged.TerminationGracePeriodSeconds == 1)
        {
            munged.TerminationGracePeriodSeconds = oldSpec.TerminationGracePeriodSeconds;
        }
        // Scheduling gates may only be removed.
        if ((munged.SchedulingGates ?? []).All(g => oldSpec.SchedulingGates?.Any(o => o.Name == g.Name) == true))
        {
            munged.SchedulingGates = oldSpec.SchedulingGates;
        }
        return k8s.KubernetesJson.Serialize(munged) == k8s.KubernetesJson.Serialize(oldSpec);

        static void CopyImages(IList<V1Container>? into, IList<V1Container>? from)
        {
            if (into is null || from is null || into.Count != from.Count)
            {
                return;
            }
            for (var i = 0; i < into.Count; i++)
            {
                into[i].Image = from[i].Image;
            }
        }
    }
}

/// <summary>Upstream SetDefaults_PodSpec / SetDefaults_Container, the part users see in `get -o yaml`.</summary>
internal static class PodDefaults
{
    /// <summary>
    /// Upstream SetDefaults_Pod (pods only, not templates): with hostNetwork an unset hostPort takes the
    /// containerPort, since the container binds the node's port anyway.
    /// </summary>
    public static void HostNetworkPorts(V1PodSpec? spec)
    {
        if (spec?.HostNetwork != true)
        {
            return;
        }
        foreach (var port in (spec.Containers ?? []).Concat(spec.InitContainers ?? []).SelectMany(c => c.Ports ?? []))
        {
            if (port.HostPort is null or 0)
            {
                port.HostPort = port.ContainerPort;
            }
        }
    }

    /// <summary>
    /// Pod-only defaults (not applied to Deployment/ReplicaSet templates, as upstream): SetDefaults_Pod's
    /// enableServiceLinks and the ServiceAccount admission plugin's serviceAccountName (with the deprecated
    /// serviceAccount alias).
    /// </summary>
    public static void PodOnly(V1PodSpec? spec)
    {
        if (spec is null)
        {
            return;
        }
        spec.EnableServiceLinks ??= true;
        spec.ServiceAccountName ??= spec.ServiceAccount ?? "default";
        spec.ServiceAccount ??= spec.ServiceAccountName;
    }

    /// <summary>SetDefaults_Pod: a container with limits but no requests requests its limits.</summary>
    public static void RequestsFromLimits(V1PodSpec? spec)
    {
        foreach (var c in (spec?.Containers ?? []).Concat(spec?.InitContainers ?? []))
        {
            if (c.Resources?.Limits is not { Count: > 0 } limits)
            {
                continue;
            }
            c.Resources.Requests ??= new Dictionary<string, ResourceQuantity>();
            foreach (var (k, v) in limits)
            {
                c.Resources.Requests.TryAdd(k, v);
            }
        }
    }

    public static void Apply(V1PodSpec? spec)
    {
        if (spec is null)
        {
            return;
        }
        spec.RestartPolicy ??= "Always";
        spec.DnsPolicy ??= "ClusterFirst";
        spec.TerminationGracePeriodSeconds ??= 30;
        spec.SchedulerName ??= "default-scheduler";
        spec.SecurityContext ??= new V1PodSecurityContext();
        foreach (var c in (spec.Containers ?? []).Concat(spec.InitContainers ?? []))
        {
            c.TerminationMessagePath ??= "/dev/termination-log";
            c.TerminationMessagePolicy ??= "File";
            c.ImagePullPolicy ??= c.Image is { } image && (image.EndsWith(":latest", StringComparison.Ordinal) || !image.Contains(':', StringComparison.Ordinal)) ? "Always" : "IfNotPresent";
            c.Resources ??= new V1ResourceRequirements();
            if (c.Ports is { } ports)
            {
                foreach (var p in ports)
                {
                    p.Protocol ??= "TCP";
                }
            }
        }
    }
}

/// <summary>Secrets: type defaults to Opaque, as upstream SetDefaults_Secret.</summary>
internal sealed class SecretStrategy : ResourceStrategy<V1Secret>
{
    protected override ValueTask PrepareForCreateAsync(V1Secret obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Type ??= "Opaque";
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Secret obj, V1Secret old, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Type ??= old.Type ?? "Opaque";
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<Api.Validation.FieldError> ValidateUpdate(V1Secret obj, V1Secret old)
    {
        if (obj.Type != old.Type)
        {
            yield return Api.Validation.FieldError.Invalid("type", obj.Type, "field is immutable");
        }
    }
}
