using System.Net;
using System.Net.Sockets;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Kubernetes;

/// <summary>
/// Owns the cut-down Services, EndpointSlices, Namespaces and Pods, and publishes <see cref="ZoneSnapshot"/>s.
/// Writers (the reflectors' handlers) record a change and mark the Service dirty; <see cref="Publish"/> rebuilds
/// only the dirty Services on a copy of the last snapshot and swaps it in (YARP's "immutable runtime model by
/// atomic swap"). Readers call <see cref="Current"/> and take no lock.
/// </summary>
internal sealed class ZoneIndex
{
    private readonly Lock _gate = new();
    private readonly byte[] _zone;
    private readonly TimeProvider _time;
    private readonly byte[][] _fallbackNameservers;
    private readonly Dictionary<string, ServiceInfo> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, SliceInfo>> _slicesByService = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SliceInfo> _slices = new(StringComparer.Ordinal);
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PodInfo> _pods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly List<(DateTimeOffset Time, string Service)> _pendingTriggers = [];
    // At most one pending wake-up: the publisher takes everything recorded so far when it runs.
    private readonly System.Threading.Channels.Channel<byte> _signal = System.Threading.Channels.Channel.CreateBounded<byte>(
        new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite, SingleReader = true });

    // Every PTR target per IP, with the Service that contributed it, so one Service's change touches only its IPs.
    private readonly Dictionary<UInt128, List<(string Service, byte[] Name)>> _reverseSources = [];
    private ZoneSnapshot _current = ZoneSnapshot.NotSynced;
    private bool _synced;
    private bool _namespacesDirty = true;
    private bool _podsDirty = true;

    public ZoneIndex(string zone, TimeProvider time, IReadOnlyList<IPAddress>? fallbackNameservers = null)
    {
        _zone = DnsName.Encode(zone);
        ZoneName = zone.TrimEnd('.').ToLowerInvariant();
        _time = time;
        _fallbackNameservers = [.. (fallbackNameservers ?? []).Select(a => a.GetAddressBytes())];
    }

    /// <summary>The cluster domain without trailing dot, e.g. cluster.local.</summary>
    public string ZoneName { get; }

    /// <summary>Raised on the publishing thread after a snapshot is published, with the programming latency of every
    /// EndpointSlice change it carries (now minus the slice's last-change-trigger-time) and the kind of its Service.</summary>
    public event Action<IReadOnlyList<(TimeSpan Latency, ServiceKind Kind)>>? Published;

    /// <summary>The snapshot queries are answered from.</summary>
    public ZoneSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Publishes a snapshot after every burst of changes until cancelled; each change wakes it at once, so a
    /// new Service resolves as soon as one rebuild completes (changes arriving during a rebuild join the next one).</summary>
    public async Task RunPublisherAsync(Action<Exception> onError, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _signal.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Publish();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                onError(ex);
            }
        }
    }

    private void Changed() => _signal.Writer.TryWrite(0);

    public void UpsertService(ServiceInfo service)
    {
        lock (_gate)
        {
            _services[service.Key] = service;
            _dirty.Add(service.Key);
        }
        Changed();
    }

    public void RemoveService(string @namespace, string name)
    {
        lock (_gate)
        {
            var key = name + "." + @namespace;
            _services.Remove(key);
            _dirty.Add(key);
        }
        Changed();
    }

    public void UpsertSlice(SliceInfo slice)
    {
        lock (_gate)
        {
            var key = slice.Namespace + "/" + slice.Name;
            if (_slices.TryGetValue(key, out var old))
            {
                DetachSlice(old);
            }
            _slices[key] = slice;
            if (!_slicesByService.TryGetValue(slice.ServiceKey, out var set))
            {
                _slicesByService[slice.ServiceKey] = set = new(StringComparer.Ordinal);
            }
            set[slice.Name] = slice;
            _dirty.Add(slice.ServiceKey);
            if (slice.TriggerTime is { } t && t != old?.TriggerTime)
            {
                _pendingTriggers.Add((t, slice.ServiceKey));
            }
        }
        Changed();
    }

    public void RemoveSlice(string @namespace, string name)
    {
        lock (_gate)
        {
            if (_slices.Remove(@namespace + "/" + name, out var old))
            {
                DetachSlice(old);
            }
        }
        Changed();
    }

    public void UpsertNamespace(string name)
    {
        lock (_gate)
        {
            _namespacesDirty |= _namespaces.Add(name);
        }
        Changed();
    }

    public void RemoveNamespace(string name)
    {
        lock (_gate)
        {
            _namespacesDirty |= _namespaces.Remove(name);
        }
        Changed();
    }

    public void UpsertPod(PodInfo pod)
    {
        lock (_gate)
        {
            var key = pod.Namespace + "/" + pod.Name;
            if (_pods.TryGetValue(key, out var old) && old.HostNetwork == pod.HostNetwork && old.IPs.SequenceEqual(pod.IPs))
            {
                return; // status churn that does not move IPs changes nothing DNS serves
            }
            _pods[key] = pod;
            _podsDirty = true;
        }
        Changed();
    }

    public void RemovePod(string @namespace, string name)
    {
        lock (_gate)
        {
            _podsDirty |= _pods.Remove(@namespace + "/" + name);
        }
        Changed();
    }

    /// <summary>Every collection has been listed once: from now on snapshots answer (N9).</summary>
    public void MarkSynced()
    {
        lock (_gate)
        {
            _synced = true;
        }
        Changed();
    }

    /// <summary>Builds and swaps in a snapshot with every change recorded so far; a no-op when nothing changed.</summary>
    public void Publish()
    {
        IReadOnlyList<(TimeSpan, ServiceKind)> latencies;
        lock (_gate)
        {
            if (!_synced)
            {
                return;
            }
            var prev = _current;
            var first = !prev.Synced;
            if (!first && _dirty.Count == 0 && !_namespacesDirty && !_podsDirty)
            {
                return;
            }

            var services = first ? new Dictionary<string, ServiceEntry>(StringComparer.Ordinal) : new Dictionary<string, ServiceEntry>(prev.Services, StringComparer.Ordinal);
            var reverse = first ? new Dictionary<UInt128, byte[][]>() : new Dictionary<UInt128, byte[][]>(prev.Reverse);
            var touched = new HashSet<UInt128>();
            IEnumerable<string> keys = first ? [.. _services.Keys, .. _dirty] : _dirty;
            foreach (var key in keys.Distinct(StringComparer.Ordinal))
            {
                RemoveReverse(key, touched);
                services.Remove(key);
                if (_services.TryGetValue(key, out var info))
                {
                    var entry = BuildEntry(info, _slicesByService.GetValueOrDefault(key));
                    services[key] = entry;
                    AddReverse(key, info, entry, touched);
                }
            }
            foreach (var ip in touched)
            {
                if (_reverseSources.TryGetValue(ip, out var list) && list.Count > 0)
                {
                    reverse[ip] = DistinctNames(list);
                }
                else
                {
                    reverse.Remove(ip);
                    _reverseSources.Remove(ip);
                }
            }
            _dirty.Clear();

            var namespaces = _namespacesDirty || first ? new HashSet<string>(_namespaces, StringComparer.Ordinal) : prev.Namespaces;
            var pods = _podsDirty || first ? BuildPodMap() : prev.PodNamespaces;
            _namespacesDirty = false;
            _podsDirty = false;

            var nameservers = services.TryGetValue("kube-dns.kube-system", out var kubeDns) && kubeDns.Kind == ServiceKind.ClusterIP
                ? kubeDns.Self.Addresses
                : _fallbackNameservers;
            var now = _time.GetUtcNow();
            var next = new ZoneSnapshot
            {
                Synced = true,
                Services = services,
                Namespaces = namespaces,
                Reverse = reverse,
                PodNamespaces = pods,
                NameserverAddresses = nameservers,
                Serial = (uint)Math.Max(now.ToUnixTimeSeconds(), prev.Serial + 1L),
            };
            Volatile.Write(ref _current, next);
            latencies = _pendingTriggers.Count == 0 ? [] : [.. _pendingTriggers.Select(t => (now - t.Time, _services.TryGetValue(t.Service, out var i) ? i.Kind : ServiceKind.ClusterIP))];
            _pendingTriggers.Clear();
        }
        Published?.Invoke(latencies);
    }

    private void DetachSlice(SliceInfo old)
    {
        if (_slicesByService.TryGetValue(old.ServiceKey, out var set))
        {
            set.Remove(old.Name);
            if (set.Count == 0)
            {
                _slicesByService.Remove(old.ServiceKey);
            }
        }
        _dirty.Add(old.ServiceKey);
    }

    private ServiceEntry BuildEntry(ServiceInfo info, Dictionary<string, SliceInfo>? slices)
    {
        var serviceFqdn = Fqdn(info.Name + "." + info.Namespace + ".svc") ?? [0];
        var hosts = new Dictionary<string, (byte[] Fqdn, List<byte[]> Addresses)>(StringComparer.Ordinal);
        var endpointAddresses = new List<byte[]>();
        var srv = new List<SrvEntry>();
        var srvSeen = new HashSet<(string, string, int, string)>();

        if (info.Kind != ServiceKind.ExternalName && slices is not null)
        {
            // Deterministic order (slice name, then position) so answers do not reshuffle between snapshots.
            foreach (var slice in slices.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                foreach (var endpoint in slice.Endpoints)
                {
                    if (!endpoint.Ready && !info.PublishNotReady)
                    {
                        continue;
                    }
                    foreach (var address in endpoint.Addresses)
                    {
                        var bytes = address.GetAddressBytes();
                        var hostname = endpoint.Hostname ?? IpKey.Dashed(address);
                        if (!hosts.TryGetValue(hostname, out var host))
                        {
                            if (Fqdn(hostname + "." + info.Name + "." + info.Namespace + ".svc") is not { } hostFqdn)
                            {
                                continue;
                            }
                            hosts[hostname] = host = (hostFqdn, []);
                        }
                        AddDistinct(host.Addresses, bytes);
                        AddDistinct(endpointAddresses, bytes);
                    }
                }
            }
        }

        var hostOwners = hosts.ToDictionary(h => h.Key, h => new AddressOwner(h.Value.Fqdn, SortFamilies(h.Value.Addresses)), StringComparer.Ordinal);
        var self = info.Kind switch
        {
            ServiceKind.ClusterIP => new AddressOwner(serviceFqdn, SortFamilies([.. info.ClusterIPs.Select(ip => ip.GetAddressBytes())])),
            ServiceKind.Headless => new AddressOwner(serviceFqdn, SortFamilies(endpointAddresses)),
            _ => new AddressOwner(serviceFqdn, []),
        };

        if (info.Kind == ServiceKind.ClusterIP)
        {
            foreach (var port in info.Ports)
            {
                if (srvSeen.Add((port.Name, port.Protocol, port.Port, "")))
                {
                    srv.Add(new SrvEntry(port.Name.ToLowerInvariant(), port.Protocol, (ushort)port.Port, self));
                }
            }
        }
        else if (info.Kind == ServiceKind.Headless && slices is not null)
        {
            // Headless: every ready endpoint × every port of its slice (S11); the slice's ports carry the names.
            foreach (var slice in slices.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                foreach (var endpoint in slice.Endpoints)
                {
                    if (!endpoint.Ready && !info.PublishNotReady)
                    {
                        continue;
                    }
                    foreach (var address in endpoint.Addresses)
                    {
                        var hostname = endpoint.Hostname ?? IpKey.Dashed(address);
                        if (!hostOwners.ContainsKey(hostname))
                        {
                            continue;
                        }
                        foreach (var port in slice.Ports)
                        {
                            if (srvSeen.Add((port.Name, port.Protocol, port.Port, hostname)))
                            {
                                srv.Add(new SrvEntry(port.Name.ToLowerInvariant(), port.Protocol, (ushort)port.Port, hostOwners[hostname]));
                            }
                        }
                    }
                }
            }
        }

        byte[]? external = null;
        if (info.Kind == ServiceKind.ExternalName && info.ExternalName is { Length: > 0 } target)
        {
            Span<byte> buffer = stackalloc byte[DnsLimits.MaxNameLength + 1];
            if (DnsName.TryEncode(target, buffer, out var length))
            {
                external = buffer[..length].ToArray();
            }
        }

        return new ServiceEntry
        {
            Kind = info.Kind,
            Self = self,
            Hosts = hostOwners,
            Srv = [.. srv],
            ExternalName = external,
        };
    }

    private void AddReverse(string key, ServiceInfo info, ServiceEntry entry, HashSet<UInt128> touched)
    {
        if (info.Kind == ServiceKind.ClusterIP)
        {
            foreach (var address in entry.Self.Addresses)
            {
                AddReverseSource(IpKey.From(address), key, entry.Self.Fqdn, touched);
            }
        }
        // Endpoint IPs of any Service point back to their endpoint name, as CoreDNS does (S12).
        foreach (var host in entry.Hosts.Values)
        {
            foreach (var address in host.Addresses)
            {
                AddReverseSource(IpKey.From(address), key, host.Fqdn, touched);
            }
        }
    }

    private void AddReverseSource(UInt128 ip, string key, byte[] name, HashSet<UInt128> touched)
    {
        if (!_reverseSources.TryGetValue(ip, out var list))
        {
            _reverseSources[ip] = list = [];
        }
        list.Add((key, name));
        touched.Add(ip);
    }

    private void RemoveReverse(string key, HashSet<UInt128> touched)
    {
        if (!_current.Services.TryGetValue(key, out var old))
        {
            return;
        }
        foreach (var address in old.Self.Addresses.Concat(old.Hosts.Values.SelectMany(h => h.Addresses)))
        {
            var ip = IpKey.From(address);
            if (_reverseSources.TryGetValue(ip, out var list))
            {
                list.RemoveAll(e => e.Service == key);
                touched.Add(ip);
            }
        }
    }

    private static byte[][] DistinctNames(List<(string Service, byte[] Name)> list)
    {
        var result = new List<byte[]>(list.Count);
        foreach (var (_, name) in list.OrderBy(e => e.Service, StringComparer.Ordinal))
        {
            if (!result.Any(n => n.AsSpan().SequenceEqual(name)))
            {
                result.Add(name);
            }
        }
        return [.. result];
    }

    private Dictionary<UInt128, string[]> BuildPodMap()
    {
        var map = new Dictionary<UInt128, string[]>();
        foreach (var pod in _pods.Values)
        {
            if (pod.HostNetwork)
            {
                continue; // a host-network Pod has the node's IP, shared with every other such Pod
            }
            foreach (var ip in pod.IPs)
            {
                var key = IpKey.From(ip);
                map[key] = map.TryGetValue(key, out var existing)
                    ? existing.Contains(pod.Namespace, StringComparer.Ordinal) ? existing : [.. existing, pod.Namespace]
                    : [pod.Namespace];
            }
        }
        return map;
    }

    /// <summary>relative + zone in wire form; null when the result is not a valid name (a hostname the API let through, too long a name).</summary>
    private byte[]? Fqdn(string relative)
    {
        Span<byte> rel = stackalloc byte[DnsLimits.MaxNameLength + 1];
        if (!DnsName.TryEncode(relative, rel, out var length) || length - 1 + _zone.Length > DnsLimits.MaxNameLength)
        {
            return null;
        }
        var result = new byte[length - 1 + _zone.Length];
        rel[..(length - 1)].CopyTo(result);
        _zone.CopyTo(result, length - 1);
        return result;
    }

    private static void AddDistinct(List<byte[]> list, byte[] address)
    {
        foreach (var a in list)
        {
            if (a.AsSpan().SequenceEqual(address))
            {
                return;
            }
        }
        list.Add(address);
    }

    private static byte[][] SortFamilies(List<byte[]> addresses) => [.. addresses.Where(a => a.Length == 4), .. addresses.Where(a => a.Length == 16)];

    internal static bool IsIPv4(IPAddress ip) => ip.AddressFamily == AddressFamily.InterNetwork;
}
