using System.Net;
using System.Threading.Channels;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Kubernetes;

/// <summary>
/// Owns the cluster's Services, EndpointSlices, Namespaces and Pods (the slim objects the reflectors cached, shared,
/// never copied) and publishes <see cref="ZoneSnapshot"/>s. Writers (the reflectors' handlers) record a change and
/// mark its Service dirty; <see cref="Publish"/> rebuilds only the dirty Services on a copy of the last snapshot and
/// swaps it in (YARP's "immutable runtime model by atomic swap"). Readers call <see cref="Current"/> and take no lock.
/// </summary>
internal sealed class ZoneIndex
{
    private readonly Lock _gate = new();
    private readonly byte[] _zone;
    private readonly TimeProvider _time;
    private readonly byte[][] _fallbackNameservers;
    private readonly Dictionary<string, ServiceObject> _services = new(StringComparer.Ordinal);
    // Most Services have one slice: an array per Service (replaced on change) is far smaller than a dictionary.
    private readonly Dictionary<string, (string Key, EndpointSliceObject Slice)[]> _slicesByService = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Service, EndpointSliceObject Slice)> _slices = new(StringComparer.Ordinal);
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PodInfo> _pods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly List<(DateTimeOffset Time, string Service)> _pendingTriggers = [];

    // At most one pending wake-up: the publisher takes everything recorded so far when it runs.
    private readonly Channel<byte> _signal = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private ZoneSnapshot _current = ZoneSnapshot.NotSynced();
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

    public void UpsertService(ServiceObject service)
    {
        lock (_gate)
        {
            var key = ServiceInfo.KeyOf(service);
            _services[key] = service;
            _dirty.Add(key);
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

    /// <summary>Adds or replaces a slice; one DNS ignores (no Service label, FQDN addresses) is removed instead.</summary>
    public void UpsertSlice(EndpointSliceObject slice)
    {
        lock (_gate)
        {
            var key = slice.Metadata.NamespaceProperty + "/" + slice.Metadata.Name;
            _slices.TryGetValue(key, out var old);
            if (old.Slice is not null)
            {
                Detach(key, old.Service);
            }
            if (SliceInfo.ServiceKeyOf(slice) is not { } service)
            {
                return;
            }
            _slices[key] = (service, slice);
            _slicesByService[service] = _slicesByService.TryGetValue(service, out var set) ? [.. set, (key, slice)] : [(key, slice)];
            _dirty.Add(service);
            if (TriggerTime(slice) is { } t && t != (old.Slice is null ? null : TriggerTime(old.Slice)))
            {
                _pendingTriggers.Add((t, service));
            }
        }
        Changed();
    }

    public void RemoveSlice(string @namespace, string name)
    {
        lock (_gate)
        {
            var key = @namespace + "/" + name;
            if (_slices.TryGetValue(key, out var old))
            {
                Detach(key, old.Service);
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

            var services = first ? new Dictionary<string, ServiceEntry>(_services.Count, StringComparer.Ordinal) : new Dictionary<string, ServiceEntry>(prev.Services, StringComparer.Ordinal);
            var reverse = first ? new Dictionary<UInt128, ReverseName[]>() : new Dictionary<UInt128, ReverseName[]>(prev.Reverse);
            IEnumerable<string> keys = first ? [.. _services.Keys, .. _dirty] : _dirty;
            foreach (var key in keys.Distinct(StringComparer.Ordinal))
            {
                if (services.Remove(key, out var old))
                {
                    RemoveReverse(reverse, key, old);
                }
                if (_services.TryGetValue(key, out var service))
                {
                    var info = ServiceInfo.From(service);
                    var entry = BuildEntry(info, _slicesByService.GetValueOrDefault(key));
                    services[key] = entry;
                    AddReverse(reverse, key, info.Kind, entry);
                }
            }
            _dirty.Clear();

            var namespaces = _namespacesDirty || first ? new HashSet<string>(_namespaces, StringComparer.Ordinal) : prev.Namespaces;
            var pods = _podsDirty || first ? BuildPodMap() : prev.PodNamespaces;
            _namespacesDirty = false;
            _podsDirty = false;

            var nameservers = services.TryGetValue("kube-dns.kube-system", out var kubeDns) && kubeDns.Kind == ServiceKind.ClusterIP
                ? [.. kubeDns.Self.All()]
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
            latencies = _pendingTriggers.Count == 0 ? [] : [.. _pendingTriggers.Select(t => (now - t.Time, services.TryGetValue(t.Service, out var e) ? e.Kind : ServiceKind.ClusterIP))];
            _pendingTriggers.Clear();
        }
        Published?.Invoke(latencies);
    }

    private void Changed() => _signal.Writer.TryWrite(0);

    private void Detach(string sliceKey, string service)
    {
        _slices.Remove(sliceKey);
        if (_slicesByService.TryGetValue(service, out var set))
        {
            var kept = set.Where(s => s.Key != sliceKey).ToArray();
            if (kept.Length == 0)
            {
                _slicesByService.Remove(service);
            }
            else
            {
                _slicesByService[service] = kept;
            }
        }
        _dirty.Add(service);
    }

    private static DateTimeOffset? TriggerTime(EndpointSliceObject slice) =>
        slice.Metadata.Annotations?.TryGetValue(SliceInfo.TriggerTimeAnnotation, out var text) == true
        && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    private ServiceEntry BuildEntry(ServiceInfo info, (string Key, EndpointSliceObject Slice)[]? sliceObjects)
    {
        var serviceFqdn = Fqdn(info.Name + "." + info.Namespace + ".svc") ?? [0];
        var hosts = new Dictionary<string, (byte[] Fqdn, List<byte[]> Addresses)>(StringComparer.Ordinal);
        var endpointAddresses = new List<byte[]>();
        var srv = new List<(string Name, string Protocol, int Port, string Host)>();
        var srvSeen = new HashSet<(string, string, int, string)>();

        // Deterministic order (slice name, then position) so answers do not reshuffle between snapshots.
        var slices = info.Kind == ServiceKind.ExternalName || sliceObjects is null
            ? []
            : sliceObjects.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => SliceInfo.From(s.Slice)).OfType<SliceInfo>().ToList();
        foreach (var slice in slices)
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
                            continue; // not a valid DNS label; the API validates hostnames, so only a foreign server sends these
                        }
                        hosts[hostname] = host = (hostFqdn, []);
                    }
                    AddDistinct(host.Addresses, bytes);
                    AddDistinct(endpointAddresses, bytes);
                    if (info.Kind == ServiceKind.Headless)
                    {
                        // Headless: every ready endpoint × every port of its slice (S11); the slice's ports carry the names.
                        foreach (var port in slice.Ports)
                        {
                            if (srvSeen.Add((port.Name, port.Protocol, port.Port, hostname)))
                            {
                                srv.Add((port.Name, port.Protocol, port.Port, hostname));
                            }
                        }
                    }
                }
            }
        }

        var hostOwners = hosts.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => new AddressOwner(h.Value.Fqdn, h.Value.Addresses, h.Key)).ToArray();
        var self = info.Kind switch
        {
            ServiceKind.ClusterIP => new AddressOwner(serviceFqdn, info.ClusterIPs.Select(ip => ip.GetAddressBytes())),
            ServiceKind.Headless => new AddressOwner(serviceFqdn, endpointAddresses),
            _ => new AddressOwner(serviceFqdn, []),
        };
        SrvEntry[] srvEntries = info.Kind switch
        {
            ServiceKind.ClusterIP => [.. info.Ports.DistinctBy(p => (p.Name, p.Protocol, p.Port)).Select(p => new SrvEntry(p.Name.ToLowerInvariant(), p.Protocol, (ushort)p.Port, self))],
            ServiceKind.Headless => HeadlessSrv(srv, hostOwners),
            _ => [],
        };

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
            Srv = srvEntries,
            ExternalName = external,
        };
    }

    private static SrvEntry[] HeadlessSrv(List<(string Name, string Protocol, int Port, string Host)> srv, AddressOwner[] hosts)
    {
        var byName = hosts.ToDictionary(h => h.Hostname, StringComparer.Ordinal);
        return [.. srv.Select(s => new SrvEntry(s.Name.ToLowerInvariant(), s.Protocol, (ushort)s.Port, byName[s.Host]))];
    }

    private static void AddReverse(Dictionary<UInt128, ReverseName[]> reverse, string key, ServiceKind kind, ServiceEntry entry)
    {
        if (kind == ServiceKind.ClusterIP)
        {
            for (var i = 0; i < entry.Self.Count; i++)
            {
                Append(reverse, IpKey.From(entry.Self.Address(i)), new ReverseName(key, entry.Self.Fqdn));
            }
        }
        // Endpoint IPs of any Service point back to their endpoint name, as CoreDNS does (S12).
        foreach (var host in entry.Hosts)
        {
            for (var i = 0; i < host.Count; i++)
            {
                Append(reverse, IpKey.From(host.Address(i)), new ReverseName(key, host.Fqdn));
            }
        }
    }

    private static void Append(Dictionary<UInt128, ReverseName[]> reverse, UInt128 ip, ReverseName name) =>
        reverse[ip] = reverse.TryGetValue(ip, out var existing) ? [.. existing, name] : [name];

    private static void RemoveReverse(Dictionary<UInt128, ReverseName[]> reverse, string key, ServiceEntry old)
    {
        // Arrays are replaced, never edited: the previous snapshot may still be answering from them.
        foreach (var owner in (AddressOwner[])[old.Self, .. old.Hosts])
        {
            for (var i = 0; i < owner.Count; i++)
            {
                var ip = IpKey.From(owner.Address(i));
                if (reverse.TryGetValue(ip, out var names))
                {
                    var kept = names.Where(n => n.Service != key).ToArray();
                    if (kept.Length == 0)
                    {
                        reverse.Remove(ip);
                    }
                    else if (kept.Length != names.Length)
                    {
                        reverse[ip] = kept;
                    }
                }
            }
        }
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

    /// <summary>relative + zone in wire form; null when the result is not a valid name (a bad hostname, too long a name).</summary>
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
}
