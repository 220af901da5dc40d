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
/// Pods: defaults of the core/v1 PodSpec (with the pod-only hostNetwork hostPort default), phase Pending on create,
/// and v1.33 validation of the networking fields (Switchboard.Api.Validation.PodNetworkValidation).
/// </summary>
internal sealed class PodStrategy : ResourceStrategy<V1Pod>
{
    protected override ValueTask PrepareForCreateAsync(V1Pod obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1PodSpec();
        PodDefaults.Apply(obj.Spec);
        PodDefaults.HostNetworkPorts(obj.Spec);
        obj.Status = new V1PodStatus { Phase = "Pending", QosClass = "BestEffort" };
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1Pod obj, V1Pod old, bool dryRun, CancellationToken cancellationToken)
    {
        PodDefaults.Apply(obj.Spec);
        PodDefaults.HostNetworkPorts(obj.Spec);
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<Api.Validation.FieldError> Validate(V1Pod obj) => Api.Validation.PodNetworkValidation.Validate(obj.Spec);
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
        spec.EnableServiceLinks ??= true;
        spec.ServiceAccountName ??= "default";
        spec.ServiceAccount ??= spec.ServiceAccountName;
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
