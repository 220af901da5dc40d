using System.Globalization;
using k8s.Models;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// Remembers the version of every slice this controller wrote, per Service (upstream EndpointSliceTracker), so
/// that (1) the watch event of our own write does not trigger another sync — one pod change, one slice write — and
/// (2) a sync that would read a cache older than our last write backs off instead of acting on stale data.
/// <para>
/// Upstream compares <c>metadata.generation</c>. Switchboard's API server does not (yet) track generation for
/// EndpointSlices, so without one the resourceVersion is compared as a number; that holds for Switchboard and etcd,
/// whose resourceVersions increase.
/// </para>
/// </summary>
internal sealed class EndpointSliceTracker
{
    private const long DeletionExpected = -1;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string, string), Dictionary<string, long>> _byService = [];
    private readonly Dictionary<(string, string), string?> _serviceUids = [];

    /// <summary>Generation when the server tracks it, else the resourceVersion as a number; 0 if neither.</summary>
    public static long VersionOf(V1EndpointSlice slice)
    {
        if (slice.Metadata.Generation is > 0 and var g)
        {
            return g;
        }
        return long.TryParse(slice.Metadata.ResourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var rv) ? rv : 0;
    }

    public bool Has(V1EndpointSlice slice)
    {
        lock (_lock)
        {
            return _byService.TryGetValue(ServiceOf(slice), out var v) && v.ContainsKey(slice.Metadata.Uid ?? "");
        }
    }

    /// <summary>True unless this exact version (or a newer one) is the one we wrote.</summary>
    public bool ShouldSync(V1EndpointSlice slice)
    {
        lock (_lock)
        {
            if (!_byService.TryGetValue(ServiceOf(slice), out var v) || !v.TryGetValue(slice.Metadata.Uid ?? "", out var tracked))
            {
                return true;
            }
            return VersionOf(slice) > tracked;
        }
    }

    /// <summary>
    /// True when the cache lags our writes for this Service: a slice older than written, one we deleted still
    /// present, or one we wrote missing. A Service recreated under the same name (new uid) starts afresh.
    /// </summary>
    public bool StaleSlices(V1Service service, IReadOnlyList<V1EndpointSlice> slices)
    {
        var key = (service.Metadata.NamespaceProperty ?? "", service.Metadata.Name);
        lock (_lock)
        {
            if (_serviceUids.TryGetValue(key, out var uid) && !string.IsNullOrEmpty(uid) && !string.IsNullOrEmpty(service.Metadata.Uid) && uid != service.Metadata.Uid)
            {
                _byService.Remove(key);
            }
            _serviceUids[key] = service.Metadata.Uid;
            if (!_byService.TryGetValue(key, out var tracked))
            {
                return false;
            }
            var provided = new HashSet<string>(StringComparer.Ordinal);
            foreach (var slice in slices)
            {
                var sliceUid = slice.Metadata.Uid ?? "";
                provided.Add(sliceUid);
                if (tracked.TryGetValue(sliceUid, out var v) && (v == DeletionExpected || v > VersionOf(slice)))
                {
                    return true;
                }
            }
            foreach (var (sliceUid, v) in tracked)
            {
                if (v != DeletionExpected && !provided.Contains(sliceUid))
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>Records a slice as the server returned it after our create or update.</summary>
    public void Update(V1EndpointSlice slice) => Set(slice, VersionOf(slice));

    public void ExpectDeletion(V1EndpointSlice slice) => Set(slice, DeletionExpected);

    /// <summary>Forgets a deleted slice; false when the deletion was not ours (someone else deleted it).</summary>
    public bool HandleDeletion(V1EndpointSlice slice)
    {
        lock (_lock)
        {
            if (_byService.TryGetValue(ServiceOf(slice), out var v) && v.Remove(slice.Metadata.Uid ?? "", out var g))
            {
                return g == DeletionExpected;
            }
            return true;
        }
    }

    public void DeleteService(string @namespace, string name)
    {
        lock (_lock)
        {
            _byService.Remove((@namespace, name));
            _serviceUids.Remove((@namespace, name));
        }
    }

    private void Set(V1EndpointSlice slice, long version)
    {
        lock (_lock)
        {
            var key = ServiceOf(slice);
            if (!_byService.TryGetValue(key, out var v))
            {
                v = new Dictionary<string, long>(StringComparer.Ordinal);
                _byService[key] = v;
            }
            v[slice.Metadata.Uid ?? ""] = version;
        }
    }

    private static (string, string) ServiceOf(V1EndpointSlice slice) =>
        (slice.Metadata.NamespaceProperty ?? "", slice.Metadata.Labels?.TryGetValue(EndpointUtil.LabelServiceName, out var n) == true ? n : "");
}
