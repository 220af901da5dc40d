using System.Text;
using k8s.Models;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>Building, copying and comparing EndpointSlices (upstream endpointslice utils.go).</summary>
internal static class SliceUtil
{
    /// <summary>
    /// A copy safe to modify: metadata maps, owner references and each endpoint are copied, so changing a copy's
    /// labels or an endpoint's hints never touches the informer cache. Address lists and nested references are shared:
    /// they are replaced, never mutated.
    /// </summary>
    public static V1EndpointSlice Clone(V1EndpointSlice slice)
    {
        var meta = slice.Metadata with
        {
            Labels = slice.Metadata.Labels is null ? null : new Dictionary<string, string>(slice.Metadata.Labels),
            Annotations = slice.Metadata.Annotations is null ? null : new Dictionary<string, string>(slice.Metadata.Annotations),
            OwnerReferences = slice.Metadata.OwnerReferences is null ? null : [.. slice.Metadata.OwnerReferences],
        };
        return slice with
        {
            Metadata = meta,
            Endpoints = slice.Endpoints is null ? [] : [.. slice.Endpoints.Select(e => e with { })],
            Ports = slice.Ports is null ? null : [.. slice.Ports],
        };
    }

    /// <summary>A new, unnamed slice for the Service (generateName "&lt;service&gt;-"), owned by it, with its labels.</summary>
    public static V1EndpointSlice New(V1Service service, string addressType, IList<Discoveryv1EndpointPort> ports, string controllerName)
    {
        var slice = new V1EndpointSlice
        {
            ApiVersion = "discovery.k8s.io/v1",
            Kind = "EndpointSlice",
            Metadata = new V1ObjectMeta
            {
                GenerateName = service.Metadata.Name + "-",
                NamespaceProperty = service.Metadata.NamespaceProperty,
                OwnerReferences =
                [
                    new V1OwnerReference
                    {
                        ApiVersion = "v1",
                        Kind = "Service",
                        Name = service.Metadata.Name,
                        Uid = service.Metadata.Uid,
                        Controller = true,
                        BlockOwnerDeletion = true,
                    },
                ],
            },
            AddressType = addressType,
            Ports = ports,
            Endpoints = [],
        };
        slice.Metadata.Labels = Labels(slice, service, controllerName).Labels;
        return slice;
    }

    /// <summary>
    /// Upstream setEndpointSliceLabels: the slice's labels are the Service's (minus the reserved keys) plus
    /// service-name, managed-by and — for a Service without a ClusterIP — headless. <c>Changed</c> reports whether the
    /// non-reserved labels differ; like upstream, a change of headless-ness alone does not count.
    /// </summary>
    public static (Dictionary<string, string> Labels, bool Changed) Labels(V1EndpointSlice slice, V1Service service, string controllerName)
    {
        var sliceLabels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (slice.Metadata.Labels is { } existing)
        {
            foreach (var (k, v) in existing)
            {
                if (!IsReserved(k))
                {
                    sliceLabels[k] = v;
                }
            }
        }
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (service.Metadata.Labels is { } serviceLabels)
        {
            foreach (var (k, v) in serviceLabels)
            {
                if (!IsReserved(k))
                {
                    labels[k] = v;
                }
            }
        }
        var changed = !EndpointUtil.SameLabels(sliceLabels, labels);
        if (!EndpointUtil.IsServiceIPSet(service))
        {
            labels[EndpointUtil.LabelHeadless] = "";
        }
        labels[EndpointUtil.LabelServiceName] = service.Metadata.Name;
        labels[EndpointUtil.LabelManagedBy] = controllerName;
        return (labels, changed);
    }

    private static bool IsReserved(string key) =>
        key is EndpointUtil.LabelServiceName or EndpointUtil.LabelManagedBy or EndpointUtil.LabelHeadless;

    /// <summary>True when an ownerReference names this Service (uid, kind Service, apiVersion v1).</summary>
    public static bool OwnedBy(V1EndpointSlice slice, V1Service service)
    {
        if (slice.Metadata.OwnerReferences is { } owners)
        {
            foreach (var o in owners)
            {
                if (o.Uid == service.Metadata.Uid && o.Kind == "Service" && o.ApiVersion == "v1")
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// Identity of a port set (upstream PortMapKey): order-independent, nil equal to empty, a missing name equal to "".
    /// Pods whose named ports resolve to different numbers get different keys and so different slices.
    /// </summary>
    public static string PortMapKey(IList<Discoveryv1EndpointPort>? ports)
    {
        if (ports is null || ports.Count == 0)
        {
            return "";
        }
        var parts = new string[ports.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            var p = ports[i];
            parts[i] = string.Concat(p.Name, "\u0001", p.Protocol, "\u0001", p.Port?.ToString(System.Globalization.CultureInfo.InvariantCulture), "\u0001", p.AppProtocol);
        }
        Array.Sort(parts, StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var part in parts)
        {
            sb.Append(part).Append('\u0002');
        }
        return sb.ToString();
    }

    /// <summary>
    /// Upstream EndpointsEqualBeyondHash: node, zone, the three conditions and the target (ignoring its
    /// resourceVersion). Addresses and hostname are the identity; hints are the topology code's business.
    /// </summary>
    public static bool EndpointsEqualBeyondHash(V1Endpoint a, V1Endpoint b) =>
        a.NodeName == b.NodeName
        && a.Zone == b.Zone
        && a.Conditions?.Ready == b.Conditions?.Ready
        && a.Conditions?.Serving == b.Conditions?.Serving
        && a.Conditions?.Terminating == b.Conditions?.Terminating
        && SameTarget(a.TargetRef, b.TargetRef);

    public static bool SameTarget(V1ObjectReference? a, V1ObjectReference? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        return a.Kind == b.Kind && a.NamespaceProperty == b.NamespaceProperty && a.Name == b.Name && a.Uid == b.Uid
            && a.ApiVersion == b.ApiVersion && a.FieldPath == b.FieldPath;
    }

    /// <summary>Upstream placeholderSliceCompare: same namespace, labels and address type, no ports, no endpoints.</summary>
    public static bool IsSamePlaceholder(V1EndpointSlice existing, V1EndpointSlice placeholder) =>
        existing.Metadata.NamespaceProperty == placeholder.Metadata.NamespaceProperty
        && EndpointUtil.SameLabels(existing.Metadata.Labels, placeholder.Metadata.Labels)
        && existing.AddressType == placeholder.AddressType
        && (existing.Endpoints?.Count ?? 0) == 0
        && (existing.Ports?.Count ?? 0) == 0;

    /// <summary>Sets (or, with no trigger, removes) the last-change-trigger-time annotation.</summary>
    public static void SetTriggerTime(V1EndpointSlice slice, DateTime? triggerTime)
    {
        if (triggerTime is { } t)
        {
            slice.Metadata.Annotations ??= new Dictionary<string, string>();
            slice.Metadata.Annotations[EndpointUtil.AnnotationTriggerTime] = EndpointUtil.FormatRfc3339Nano(t);
        }
        else
        {
            slice.Metadata.Annotations?.Remove(EndpointUtil.AnnotationTriggerTime);
        }
    }

    /// <summary>Ready condition true.</summary>
    public static bool EndpointReady(V1Endpoint endpoint) => endpoint.Conditions?.Ready == true;
}
