using k8s.Models;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// Desired endpoints keyed by identity (upstream EndpointSet): sorted addresses, hostname and the target's
/// namespace/name — not conditions, zone or node, so an endpoint whose state changes is updated in place in the slice
/// that holds it instead of moving. Pops in insertion order, so packing is deterministic.
/// </summary>
internal sealed class EndpointSet
{
    private readonly Dictionary<string, V1Endpoint> _byKey = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private int _next;

    public int Count => _byKey.Count;

    public static string KeyOf(V1Endpoint endpoint)
    {
        var addresses = endpoint.Addresses;
        string joined;
        if (addresses is null || addresses.Count == 0)
        {
            joined = "";
        }
        else if (addresses.Count == 1)
        {
            joined = addresses[0];
        }
        else
        {
            var sorted = addresses.ToArray();
            Array.Sort(sorted, StringComparer.Ordinal);
            joined = string.Join(",", sorted);
        }
        var target = endpoint.TargetRef;
        return string.Concat(joined, "|", endpoint.Hostname, "|", target?.NamespaceProperty, "/", target?.Name);
    }

    /// <summary>Adds or replaces the endpoint with the same identity.</summary>
    public void Insert(V1Endpoint endpoint)
    {
        var key = KeyOf(endpoint);
        if (_byKey.TryAdd(key, endpoint))
        {
            _order.Add(key);
        }
        else
        {
            _byKey[key] = endpoint;
        }
    }

    /// <summary>The desired endpoint with the same identity as <paramref name="existing"/>, if any.</summary>
    public V1Endpoint? Get(V1Endpoint existing) => _byKey.GetValueOrDefault(KeyOf(existing));

    public void Delete(V1Endpoint endpoint) => _byKey.Remove(KeyOf(endpoint));

    /// <summary>Removes and returns the oldest remaining endpoint.</summary>
    public V1Endpoint? PopAny()
    {
        while (_next < _order.Count)
        {
            if (_byKey.Remove(_order[_next++], out var endpoint))
            {
                return endpoint;
            }
        }
        return null;
    }
}
