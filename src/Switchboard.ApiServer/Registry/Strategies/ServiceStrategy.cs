using k8s.Models;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Allocation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// Services as upstream v1.33's registry handles them: the v1 defaults (SetDefaults_Service), the storage's
/// begin-create/begin-update steps (patchAllocatedValues, normalizeClusterIPs, allocation), the strategy's
/// dropTypeDependentFields, and validation (<see cref="ServiceValidation"/>). Allocation and its rollback live in
/// <see cref="ServiceAllocations"/>; the registry's hooks feed it.
/// </summary>
internal sealed class ServiceStrategy(ServiceAllocations allocations) : ResourceStrategy<V1Service>
{
    public override NameRule NameRule => NameRule.Dns1035Label;

    protected override async ValueTask PrepareForCreateAsync(V1Service obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1ServiceSpec();
        ApplyDefaults(obj);
        NormalizeClusterIps(obj, null);
        // Upstream allocates before PrepareForCreate, which then resets status.
        await allocations.PrepareCreateAsync(obj, dryRun, cancellationToken).ConfigureAwait(false);
        obj.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus() };
    }

    protected override IEnumerable<FieldError> Validate(V1Service obj) => ServiceValidation.ValidateService(obj);

    protected override async ValueTask PrepareForUpdateAsync(V1Service obj, V1Service old, bool dryRun, CancellationToken cancellationToken)
    {
        if (IsStatusWrite(obj, old))
        {
            DefaultIngressIpMode(obj);
            return;
        }
        obj.Spec ??= new V1ServiceSpec();
        ApplyDefaults(obj);
        PatchAllocatedValues(obj, old);
        NormalizeClusterIps(obj, old);
        await allocations.PrepareUpdateAsync(obj, old, dryRun, cancellationToken).ConfigureAwait(false);
        DropTypeDependentFields(obj, old);
    }

    protected override IEnumerable<FieldError> ValidateUpdate(V1Service obj, V1Service old) =>
        IsStatusWrite(obj, old) ? ServiceValidation.ValidateStatus(obj) : ServiceValidation.ValidateServiceUpdate(obj, old);

    protected override void AbortCreate(V1Service obj) => allocations.AbortCreate(obj);

    protected override void AbortUpdate(V1Service obj, V1Service old) => allocations.AbortUpdate(obj, old);

    protected override void AfterUpdate(V1Service obj, V1Service old) => allocations.CommitUpdate(obj, old);

    protected override void AfterDelete(V1Service obj) => allocations.ReleaseDeleted(obj);

    /// <summary>
    /// The registry gives a status write the live spec object itself (and a main write the live status object), so
    /// reference identity tells the two apart; a status write must not touch the spec, which is the live one.
    /// </summary>
    private static bool IsStatusWrite(V1Service obj, V1Service old) => obj.Spec is not null && ReferenceEquals(obj.Spec, old.Spec);

    /// <summary>SetDefaults_Service of k8s.io/kubernetes/pkg/apis/core/v1.</summary>
    public static void ApplyDefaults(V1Service obj)
    {
        obj.Spec ??= new V1ServiceSpec();
        var spec = obj.Spec;
        if (string.IsNullOrEmpty(spec.SessionAffinity))
        {
            spec.SessionAffinity = "None";
        }
        if (spec.SessionAffinity == "None")
        {
            spec.SessionAffinityConfig = null;
        }
        if (spec.SessionAffinity == "ClientIP" && spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds is null)
        {
            spec.SessionAffinityConfig = new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 10800 } };
        }
        if (string.IsNullOrEmpty(spec.Type))
        {
            spec.Type = "ClusterIP";
        }
        foreach (var port in spec.Ports ?? [])
        {
            if (string.IsNullOrEmpty(port.Protocol))
            {
                port.Protocol = "TCP";
            }
            if (port.TargetPort?.Value is null or "" or "0")
            {
                port.TargetPort = port.Port;
            }
        }
        if (ServiceValidation.ExternallyAccessible(obj) && string.IsNullOrEmpty(spec.ExternalTrafficPolicy))
        {
            spec.ExternalTrafficPolicy = "Cluster";
        }
        if (spec.InternalTrafficPolicy is null && spec.Type is "NodePort" or "LoadBalancer" or "ClusterIP")
        {
            spec.InternalTrafficPolicy = "Cluster";
        }
        if (spec.Type == "LoadBalancer")
        {
            spec.AllocateLoadBalancerNodePorts ??= true;
        }
        DefaultIngressIpMode(obj);
    }

    /// <summary>LoadBalancerIPMode (on by default): an ingress IP without ipMode is a VIP.</summary>
    private static void DefaultIngressIpMode(V1Service obj)
    {
        if (obj.Spec?.Type != "LoadBalancer")
        {
            return;
        }
        foreach (var ingress in obj.Status?.LoadBalancer?.Ingress ?? [])
        {
            if (!string.IsNullOrEmpty(ingress.Ip) && ingress.IpMode is null)
            {
                ingress.IpMode = "VIP";
            }
        }
    }

    private static bool NeedsClusterIp(V1Service s) => s.Spec.Type != "ExternalName";

    private static bool NeedsHealthCheckPort(V1Service s) => ServiceValidation.NeedsHealthCheck(s);

    /// <summary>
    /// Upstream patchAllocatedValues: a client that resubmits what it created (without the allocated clusterIP,
    /// nodePorts or healthCheckNodePort) keeps what was allocated for it.
    /// </summary>
    private static void PatchAllocatedValues(V1Service obj, V1Service old)
    {
        var spec = obj.Spec;
        if (NeedsClusterIp(old) && NeedsClusterIp(obj))
        {
            if (string.IsNullOrEmpty(spec.ClusterIP))
            {
                spec.ClusterIP = old.Spec.ClusterIP;
            }
            if (spec.ClusterIPs is null or { Count: 0 } && old.Spec.ClusterIPs is { Count: > 0 })
            {
                spec.ClusterIPs = [.. old.Spec.ClusterIPs];
            }
        }
        if (ServiceAllocations.NeedsNodePort(old) && ServiceAllocations.NeedsNodePort(obj))
        {
            static HashSet<int> Used(V1Service s) => [.. (s.Spec.Ports ?? []).Select(p => p.NodePort ?? 0).Where(p => p != 0)];
            var used = Used(old);
            used.IntersectWith(Used(obj));
            // Matched by port name: the client may have changed other properties of the port.
            var byName = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var p in old.Spec.Ports ?? [])
            {
                byName[p.Name ?? ""] = p.NodePort ?? 0;
            }
            foreach (var p in spec.Ports ?? [])
            {
                if ((p.NodePort ?? 0) == 0 && byName.TryGetValue(p.Name ?? "", out var previous) && !used.Contains(previous) && previous != 0)
                {
                    p.NodePort = previous;
                }
            }
        }
        if (NeedsHealthCheckPort(old) && NeedsHealthCheckPort(obj) && (spec.HealthCheckNodePort ?? 0) == 0)
        {
            spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort;
        }
    }

    /// <summary>Upstream normalizeClusterIPs: keeps clusterIP and clusterIPs in step for clients that set only one.</summary>
    private static void NormalizeClusterIps(V1Service obj, V1Service? old)
    {
        var spec = obj.Spec;
        if (old is null)
        {
            if (!string.IsNullOrEmpty(spec.ClusterIP) && spec.ClusterIPs is null or { Count: 0 })
            {
                spec.ClusterIPs = [spec.ClusterIP];
            }
            return;
        }
        var oldSpec = old.Spec;
        if (oldSpec.ClusterIPs is { Count: > 0 } && spec.ClusterIPs is null or { Count: 0 } && (oldSpec.ClusterIP ?? "") == (spec.ClusterIP ?? ""))
        {
            // An old client patched something else and did not send clusterIPs.
            spec.ClusterIPs = [.. oldSpec.ClusterIPs];
        }
        if ((oldSpec.ClusterIP ?? "") != (spec.ClusterIP ?? ""))
        {
            if (!string.IsNullOrEmpty(oldSpec.ClusterIP) && string.IsNullOrEmpty(spec.ClusterIP))
            {
                if (SameList(oldSpec.ClusterIPs, spec.ClusterIPs))
                {
                    spec.ClusterIPs = null;
                }
            }
            else if (SameList(oldSpec.ClusterIPs, spec.ClusterIPs))
            {
                spec.ClusterIPs = [spec.ClusterIP!];
            }
        }
    }

    /// <summary>
    /// Upstream dropTypeDependentFields: switching type wipes the fields the old type had allocated or defaulted,
    /// as long as the client did not also change them (then validation reports it).
    /// </summary>
    private static void DropTypeDependentFields(V1Service obj, V1Service old)
    {
        var spec = obj.Spec;
        if (NeedsClusterIp(old) && !NeedsClusterIp(obj))
        {
            if ((old.Spec.ClusterIP ?? "") == (spec.ClusterIP ?? "") && SameList(old.Spec.ClusterIPs, spec.ClusterIPs))
            {
                spec.ClusterIP = null;
                spec.ClusterIPs = null;
            }
            if (SameList(old.Spec.IpFamilies, spec.IpFamilies))
            {
                spec.IpFamilies = null;
            }
            if (old.Spec.IpFamilyPolicy == spec.IpFamilyPolicy)
            {
                spec.IpFamilyPolicy = null;
            }
        }
        if (ServiceAllocations.NeedsNodePort(old) && !ServiceAllocations.NeedsNodePort(obj))
        {
            var oldPorts = (old.Spec.Ports ?? []).Select(p => p.NodePort ?? 0).Where(p => p != 0).ToHashSet();
            if ((spec.Ports ?? []).All(p => (p.NodePort ?? 0) == 0 || oldPorts.Contains(p.NodePort!.Value)))
            {
                foreach (var p in spec.Ports ?? [])
                {
                    p.NodePort = null;
                }
            }
        }
        if (NeedsHealthCheckPort(old) && !NeedsHealthCheckPort(obj) && (old.Spec.HealthCheckNodePort ?? 0) == (spec.HealthCheckNodePort ?? 0))
        {
            spec.HealthCheckNodePort = null;
        }
        if (old.Spec.Type == "LoadBalancer" && spec.Type != "LoadBalancer"
            && spec.AllocateLoadBalancerNodePorts is { } allocate && old.Spec.AllocateLoadBalancerNodePorts == allocate)
        {
            spec.AllocateLoadBalancerNodePorts = null;
        }
        if (old.Spec.Type == "LoadBalancer" && spec.Type != "LoadBalancer" && old.Spec.LoadBalancerClass == spec.LoadBalancerClass)
        {
            spec.LoadBalancerClass = null;
        }
        if (ServiceValidation.ExternallyAccessible(old) && !ServiceValidation.ExternallyAccessible(obj)
            && (old.Spec.ExternalTrafficPolicy ?? "") == (spec.ExternalTrafficPolicy ?? ""))
        {
            spec.ExternalTrafficPolicy = null;
        }
        if (spec.Type != "LoadBalancer")
        {
            // A fresh status object: the current one is shared with the live object.
            obj.Status = new V1ServiceStatus { Conditions = obj.Status?.Conditions, LoadBalancer = new V1LoadBalancerStatus() };
        }
    }

    private static bool SameList(IList<string>? a, IList<string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || b is null || a.SequenceEqual(b, StringComparer.Ordinal));
}
