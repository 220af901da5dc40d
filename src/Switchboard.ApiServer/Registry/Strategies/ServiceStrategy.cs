using System.Net;
using k8s.Models;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Allocation;
using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// Services, stage 1: upstream's defaults for type, session affinity, protocol, targetPort, traffic policy
/// and IP family, and a cluster IP from the first Service CIDR. The complete rules (dual-stack, NodePorts,
/// every validation message) are the semantics issue's.
/// </summary>
internal sealed class ServiceStrategy(IClusterIpAllocator allocator) : ResourceStrategy<V1Service>
{
    public override NameRule NameRule => NameRule.Dns1035Label;

    private static bool NeedsClusterIp(V1Service s) => s.Spec?.Type != "ExternalName" && s.Spec?.ClusterIP != "None";

    protected override ValueTask PrepareForCreateAsync(V1Service obj, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Status ??= new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus() };
        obj.Status.LoadBalancer ??= new V1LoadBalancerStatus();
        ApplyDefaults(obj);
        if (NeedsClusterIp(obj))
        {
            var requested = obj.Spec.ClusterIP ?? obj.Spec.ClusterIPs?.FirstOrDefault();
            var ip = Allocate(requested, dryRun);
            obj.Spec.ClusterIP = ip;
            obj.Spec.ClusterIPs = [ip];
            var family = IPAddress.Parse(ip).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "IPv4" : "IPv6";
            obj.Spec.IpFamilies = [family];
            obj.Spec.IpFamilyPolicy ??= "SingleStack";
        }
        else if (obj.Spec.ClusterIP == "None")
        {
            obj.Spec.ClusterIPs = ["None"];
            obj.Spec.IpFamilies ??= ["IPv4"];
            obj.Spec.IpFamilyPolicy ??= "SingleStack";
        }
        return ValueTask.CompletedTask;
    }

    private string Allocate(string? requested, bool dryRun)
    {
        try
        {
            var ip = allocator.Allocate(string.IsNullOrEmpty(requested) ? null : requested);
            if (dryRun)
            {
                allocator.Release(ip);
            }
            return ip;
        }
        catch (AllocationException e) when (e.RangeFull)
        {
            throw ApiException.Internal(e.Message);
        }
        catch (AllocationException e)
        {
            throw new ApiException(422, "Invalid", $"Service \"\" is invalid: spec.clusterIPs: Invalid value: []string{{\"{requested}\"}}: {e.Message}")
            {
                DetailKind = "Service",
                Causes = [("FieldValueInvalid", $"Invalid value: []string{{\"{requested}\"}}: {e.Message}", "spec.clusterIPs")],
            };
        }
    }

    protected override void AbortCreate(V1Service obj)
    {
        if (NeedsClusterIp(obj) && obj.Spec.ClusterIP is { Length: > 0 } ip && allocator.Contains(ip))
        {
            allocator.Release(ip);
        }
    }

    protected override void AfterDelete(V1Service obj) => AbortCreate(obj);

    protected override ValueTask PrepareForUpdateAsync(V1Service obj, V1Service old, bool dryRun, CancellationToken cancellationToken)
    {
        obj.Spec ??= new V1ServiceSpec();
        // Upstream patchAllocatedValues: an update that omits allocated values keeps them.
        if (NeedsClusterIp(old) && NeedsClusterIp(obj) && string.IsNullOrEmpty(obj.Spec.ClusterIP))
        {
            obj.Spec.ClusterIP = old.Spec.ClusterIP;
            obj.Spec.ClusterIPs = old.Spec.ClusterIPs;
        }
        if (NeedsClusterIp(old) && NeedsClusterIp(obj))
        {
            obj.Spec.IpFamilies ??= old.Spec.IpFamilies;
            obj.Spec.IpFamilyPolicy ??= old.Spec.IpFamilyPolicy;
        }
        ApplyDefaults(obj);
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1Service obj)
    {
        var spec = obj.Spec;
        if (spec is null)
        {
            yield return FieldError.Required("spec");
            yield break;
        }
        string[] types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
        if (!types.Contains(spec.Type))
        {
            yield return FieldError.NotSupported("spec.type", spec.Type, types);
        }
        var headless = spec.ClusterIP == "None";
        if (spec.Type != "ExternalName" && !headless && (spec.Ports is null || spec.Ports.Count == 0))
        {
            yield return FieldError.Required("spec.ports");
        }
        if (spec.Ports is { } ports)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < ports.Count; i++)
            {
                var p = ports[i];
                var f = $"spec.ports[{i}]";
                if (ports.Count > 1 && string.IsNullOrEmpty(p.Name))
                {
                    yield return FieldError.Required(f + ".name");
                }
                else if (!string.IsNullOrEmpty(p.Name))
                {
                    foreach (var msg in NameValidation.IsDns1123Label(p.Name))
                    {
                        yield return FieldError.Invalid(f + ".name", p.Name, msg);
                    }
                    if (!names.Add(p.Name))
                    {
                        yield return FieldError.Duplicate(f + ".name", p.Name);
                    }
                }
                if (p.Port is < 1 or > 65535)
                {
                    yield return FieldError.InvalidNumber(f + ".port", p.Port, "must be between 1 and 65535, inclusive");
                }
                string[] protocols = ["SCTP", "TCP", "UDP"];
                if (!protocols.Contains(p.Protocol))
                {
                    yield return FieldError.NotSupported(f + ".protocol", p.Protocol, protocols);
                }
            }
        }
        string[] affinities = ["ClientIP", "None"];
        if (!affinities.Contains(spec.SessionAffinity))
        {
            yield return FieldError.NotSupported("spec.sessionAffinity", spec.SessionAffinity, affinities);
        }
    }

    protected override IEnumerable<FieldError> ValidateUpdate(V1Service obj, V1Service old)
    {
        foreach (var e in Validate(obj))
        {
            yield return e;
        }
        if (NeedsClusterIp(old) && NeedsClusterIp(obj) && obj.Spec.ClusterIP != old.Spec.ClusterIP)
        {
            yield return FieldError.Invalid("spec.clusterIPs[0]", obj.Spec.ClusterIP, "may not change once set") with { Detail = "may not change once set" };
        }
    }

    private static void ApplyDefaults(V1Service obj)
    {
        obj.Spec ??= new V1ServiceSpec();
        var spec = obj.Spec;
        spec.Type ??= "ClusterIP";
        spec.SessionAffinity ??= "None";
        if (spec.SessionAffinity == "ClientIP")
        {
            spec.SessionAffinityConfig ??= new V1SessionAffinityConfig();
            spec.SessionAffinityConfig.ClientIP ??= new V1ClientIPConfig();
            spec.SessionAffinityConfig.ClientIP.TimeoutSeconds ??= 10800;
        }
        if (spec.Type != "ExternalName")
        {
            spec.InternalTrafficPolicy ??= "Cluster";
        }
        if (spec.Type is "NodePort" or "LoadBalancer")
        {
            spec.ExternalTrafficPolicy ??= "Cluster";
        }
        if (spec.Type == "LoadBalancer")
        {
            spec.AllocateLoadBalancerNodePorts ??= true;
        }
        if (spec.Ports is { } ports)
        {
            foreach (var p in ports)
            {
                p.Protocol ??= "TCP";
                if (spec.Type != "ExternalName" && (p.TargetPort is null || p.TargetPort.Value is null or "" or "0"))
                {
                    p.TargetPort = p.Port;
                }
            }
        }
    }
}
