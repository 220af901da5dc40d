using k8s;
using k8s.Models;

namespace Switchboard.Controllers.Workloads;

/// <summary>Upstream podutil / controller_utils helpers the workload controllers and the scheduler share.</summary>
internal static class PodUtil
{
    public static V1PodCondition? Condition(V1Pod pod, string type) =>
        pod.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>podutil.IsPodReady: the Ready condition is True.</summary>
    public static bool IsReady(V1Pod pod) => Condition(pod, "Ready")?.Status == "True";

    /// <summary>When the pod last became Ready (null when not ready or unknown).</summary>
    public static DateTime? ReadySince(V1Pod pod) =>
        Condition(pod, "Ready") is { Status: "True" } c ? c.LastTransitionTime : null;

    /// <summary>
    /// podutil.IsPodAvailable: ready for at least minReadySeconds (0: ready is enough). A ready condition without a
    /// transition time counts as just now, so it waits the full period.
    /// </summary>
    public static bool IsAvailable(V1Pod pod, int minReadySeconds, DateTimeOffset now)
    {
        if (!IsReady(pod))
        {
            return false;
        }
        if (minReadySeconds == 0)
        {
            return true;
        }
        var since = ReadySince(pod);
        return since is { } t && new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)).AddSeconds(minReadySeconds) < now;
    }

    /// <summary>controller.IsPodActive: not Succeeded, not Failed, not terminating.</summary>
    public static bool IsActive(V1Pod pod) =>
        pod.Status?.Phase is not ("Succeeded" or "Failed") && pod.Metadata.DeletionTimestamp is null;

    public static bool IsTerminal(V1Pod pod) => pod.Status?.Phase is "Succeeded" or "Failed";

    /// <summary>metav1.GetControllerOf.</summary>
    public static V1OwnerReference? ControllerOf(IKubernetesObject<V1ObjectMeta> obj) =>
        obj.Metadata?.OwnerReferences?.FirstOrDefault(r => r.Controller == true);

    public static string Key(IKubernetesObject<V1ObjectMeta> obj) => Key(obj.Metadata.NamespaceProperty, obj.Metadata.Name);

    public static string Key(string? ns, string name) => string.IsNullOrEmpty(ns) ? name : ns + "/" + name;

    public static (string Namespace, string Name) SplitKey(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? ("", key) : (key[..slash], key[(slash + 1)..]);
    }

    /// <summary>Max restart count over the pod's containers (upstream compares the max of the ranked pods).</summary>
    public static int MaxRestarts(V1Pod pod) =>
        pod.Status?.ContainerStatuses?.Select(s => s.RestartCount).DefaultIfEmpty(0).Max() ?? 0;

    /// <summary>The pod-deletion-cost annotation (controller.kubernetes.io/pod-deletion-cost), 0 when absent or invalid.</summary>
    public static int DeletionCost(V1Pod pod) =>
        pod.Metadata.Annotations?.TryGetValue("controller.kubernetes.io/pod-deletion-cost", out var v) == true
        && int.TryParse(v, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var cost) ? cost : 0;

    public static V1OwnerReference ControllerRef(IKubernetesObject<V1ObjectMeta> owner, string apiVersion, string kind) => new()
    {
        ApiVersion = apiVersion,
        Kind = kind,
        Name = owner.Metadata.Name,
        Uid = owner.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };
}
