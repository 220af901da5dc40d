using k8s.Models;
using Switchboard.Client.Informers;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// Which Services select a pod. Upstream lists every Service of the namespace and matches each selector, for every
/// pod event; here Services are indexed by their selector pairs, so a pod event only looks at Services sharing one
/// of its labels (plus those selecting everything) and the cost does not grow with the namespace's Service count.
/// </summary>
internal static class ServiceMembership
{
    /// <summary>Index of Services by "namespace/key=value" of each selector pair, "namespace/*" for an empty selector.</summary>
    public const string SelectorIndex = "service-selector";

    public static void IndexBySelector(V1Service service, ICollection<string> values)
    {
        if (service.Spec?.Selector is not { } selector)
        {
            return; // nil selector selects nothing
        }
        var ns = service.Metadata.NamespaceProperty ?? "";
        if (selector.Count == 0)
        {
            values.Add(ns + "/*");
            return;
        }
        foreach (var (k, v) in selector)
        {
            values.Add(Indexers.LabelKey(ns, k, v));
        }
    }

    /// <summary>Keys (namespace/name) of the Services whose selector matches these labels in this namespace.</summary>
    public static HashSet<string> ServicesFor(Indexer<V1Service> services, string? @namespace, IDictionary<string, string>? labels)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        var ns = @namespace ?? "";
        foreach (var svc in services.ByIndex(SelectorIndex, ns + "/*"))
        {
            result.Add(EndpointUtil.Key(ns, svc.Metadata.Name));
        }
        if (labels is null)
        {
            return result;
        }
        foreach (var (k, v) in labels)
        {
            foreach (var svc in services.ByIndex(SelectorIndex, Indexers.LabelKey(ns, k, v)))
            {
                if (svc.Spec?.Selector is { } selector && Indexers.Matches(selector, labels))
                {
                    result.Add(EndpointUtil.Key(ns, svc.Metadata.Name));
                }
            }
        }
        return result;
    }

    /// <summary>Upstream GetServicesToUpdateOnPodChange: the Services whose endpoints an update of this pod can change.</summary>
    public static HashSet<string> ServicesToUpdate(Indexer<V1Service> services, V1Pod oldPod, V1Pod newPod)
    {
        // Same resourceVersion: a resync or replay, nothing changed.
        if (oldPod.Metadata.ResourceVersion == newPod.Metadata.ResourceVersion)
        {
            return [];
        }
        var (podChanged, labelsChanged) = EndpointUtil.PodEndpointsChanged(oldPod, newPod);
        if (!podChanged && !labelsChanged)
        {
            return [];
        }
        var current = ServicesFor(services, newPod.Metadata.NamespaceProperty, newPod.Metadata.Labels);
        if (!labelsChanged)
        {
            return current;
        }
        var old = ServicesFor(services, oldPod.Metadata.NamespaceProperty, oldPod.Metadata.Labels);
        if (podChanged)
        {
            current.UnionWith(old);
        }
        else
        {
            // Only membership moved: the Services in exactly one of the two sets.
            current.SymmetricExceptWith(old);
        }
        return current;
    }
}
