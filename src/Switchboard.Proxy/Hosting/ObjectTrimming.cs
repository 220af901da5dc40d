using k8s.Models;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.Hosting;

/// <summary>
/// Informer transforms for the proxy's private informers (as CoreDNS and kube-proxy-like agents trim objects with
/// client-go's SetTransform): at decode time each Service and EndpointSlice is cut down to what the trackers, the
/// conntrack reconciler and the label index read, so 10,000 Services × 10 endpoints do not keep managedFields,
/// owner references, target references and foreign labels/annotations in the cache. Repeated low-cardinality
/// strings (namespaces, node names, zones, protocols, port names) are shared through a per-informer pool.
/// What is kept is listed in Hosting/README.md; a tracker that starts reading another field must keep it here.
/// </summary>
internal static class ObjectTrimming
{
    private static readonly string[] ServiceLabels = [ProxyLabels.ServiceProxyName, ProxyLabels.Headless];

    private static readonly string[] SliceLabels = [ProxyLabels.ServiceName, ProxyLabels.ServiceProxyName, ProxyLabels.Headless];

    private static readonly string[] SliceAnnotations = [ProxyLabels.LastChangeTriggerTime];

    /// <summary>A transform for Service informers; each call gets its own string pool.</summary>
    public static Func<V1Service, V1Service> ServiceTransform()
    {
        var pool = new StringPool();
        return svc => TrimService(svc, pool);
    }

    /// <summary>A transform for EndpointSlice informers; each call gets its own string pool.</summary>
    public static Func<V1EndpointSlice, V1EndpointSlice> EndpointSliceTransform()
    {
        var pool = new StringPool();
        return slice => TrimEndpointSlice(slice, pool);
    }

    internal static V1Service TrimService(V1Service svc, StringPool pool)
    {
        svc.Metadata = TrimMeta(svc.Metadata, ServiceLabels, [], pool);
        if (svc.Spec is { } spec)
        {
            // The proxy routes to EndpointSlices, never by selector.
            spec.Selector = null;
            spec.Type = pool.Get(spec.Type);
            foreach (var p in spec.Ports ?? [])
            {
                p.Name = pool.Get(p.Name);
                p.Protocol = pool.Get(p.Protocol);
                p.AppProtocol = null;
            }
        }

        // Only the load balancer ingress IPs are read (LoadBalancer VIPs, the host publisher has its own informer).
        svc.Status = svc.Status?.LoadBalancer is { } lb ? new V1ServiceStatus { LoadBalancer = lb } : null;
        return svc;
    }

    internal static V1EndpointSlice TrimEndpointSlice(V1EndpointSlice slice, StringPool pool)
    {
        slice.Metadata = TrimMeta(slice.Metadata, SliceLabels, SliceAnnotations, pool);
        slice.AddressType = pool.Get(slice.AddressType);
        foreach (var p in slice.Ports ?? [])
        {
            p.Name = pool.Get(p.Name);
            p.Protocol = pool.Get(p.Protocol);
            p.AppProtocol = null;
        }

        foreach (var e in slice.Endpoints ?? [])
        {
            // Upstream uses the first address only; the decoder's list has room for 4 (a one-element
            // array is 32 bytes instead of a list and its 80-byte array, per endpoint).
            if (e.Addresses is { Count: > 0 } addresses and not string[] { Length: 1 })
            {
                e.Addresses = new[] { addresses[0] };
            }

            e.TargetRef = null;
            e.Hostname = null;
            e.DeprecatedTopology = null;
            e.NodeName = pool.Get(e.NodeName);
            e.Zone = pool.Get(e.Zone);
            foreach (var z in e.Hints?.ForZones ?? [])
            {
                z.Name = pool.Get(z.Name);
            }

            foreach (var n in e.Hints?.ForNodes ?? [])
            {
                n.Name = pool.Get(n.Name);
            }
        }

        return slice;
    }

    private static V1ObjectMeta TrimMeta(V1ObjectMeta? meta, string[] labels, string[] annotations, StringPool pool)
    {
        meta ??= new V1ObjectMeta();
        return new V1ObjectMeta
        {
            Name = meta.Name,
            NamespaceProperty = pool.Get(meta.NamespaceProperty),
            ResourceVersion = meta.ResourceVersion,
            Uid = meta.Uid,
            DeletionTimestamp = meta.DeletionTimestamp,
            Labels = Keep(meta.Labels, labels, pool),
            Annotations = Keep(meta.Annotations, annotations, pool),
        };
    }

    private static Dictionary<string, string>? Keep(IDictionary<string, string>? from, string[] keys, StringPool pool)
    {
        if (from is null || from.Count == 0 || keys.Length == 0)
        {
            return null;
        }

        Dictionary<string, string>? kept = null;
        foreach (var key in keys)
        {
            if (from.TryGetValue(key, out var value))
            {
                // Keys are the constants; values like the service name stay as decoded (high cardinality).
                (kept ??= new Dictionary<string, string>(1, StringComparer.Ordinal))[key] = key == ProxyLabels.ServiceName || key == ProxyLabels.LastChangeTriggerTime ? value : pool.Get(value)!;
            }
        }

        return kept;
    }

    /// <summary>Shares equal strings of one informer (called on its reflector loop only; locked anyway).</summary>
    internal sealed class StringPool
    {
        // Enough for every node, zone, namespace and port name of a big cluster; beyond it strings are kept as is.
        private const int MaxEntries = 65_536;

        private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public string? Get(string? value)
        {
            if (value is null)
            {
                return null;
            }

            lock (_lock)
            {
                if (_strings.TryGetValue(value, out var shared))
                {
                    return shared;
                }

                if (_strings.Count < MaxEntries)
                {
                    _strings[value] = value;
                }

                return value;
            }
        }
    }
}
