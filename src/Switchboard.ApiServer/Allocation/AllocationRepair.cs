using System.Globalization;
using System.Net;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;
using Switchboard.Core.Loops;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// Reconciles allocations with stored Services, as upstream's ipallocator-repair-controller (repairip.go) and
/// portallocator-repair-controller do. At start-up, before the API serves, it rebuilds the in-memory reservations
/// exactly: every IPAddress object and every address and node port a stored Service holds is taken, orphaned IPAddress
/// objects (a crash between creating the IPAddress and storing the Service) are deleted, a Service address without its
/// IPAddress object gets one, and duplicates or out-of-range values are reported as Warning Events on the Service.
/// Then it runs every interval (and soon after an IPAddress is deleted by someone else); while requests are in
/// flight it only lets go of an address or port that has looked leaked for a grace period across several passes.
/// </summary>
internal sealed partial class AllocationRepair : IAsyncDisposable
{
    public const string IpRepairComponent = "ipallocator-repair-controller";
    public const string PortRepairComponent = "portallocator-repair-controller";

    /// <summary>Upstream deletes an IPAddress without a Service only once it is older than the apiserver's request timeout.</summary>
    public static readonly TimeSpan LeakGrace = TimeSpan.FromSeconds(60);

    private readonly ServiceAllocations _allocations;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, (DateTimeOffset First, int Runs)> _ipLeaks = new(StringComparer.Ordinal);
    private readonly Dictionary<int, (DateTimeOffset First, int Runs)> _portLeaks = [];
    private readonly SemaphoreSlim _runGate = new(1, 1);
    private readonly TriggeredLoop _loop;
    private ApiRegistry? _registry;
    private Func<CancellationToken, Task>? _periodic;
    private long _eventSequence;

    public AllocationRepair(ServiceAllocations allocations, TimeProvider time, ILogger logger, TimeSpan interval)
    {
        _allocations = allocations;
        _time = time;
        _logger = logger;
        // A burst of deletes settles into one pass.
        _loop = new TriggeredLoop(time, interval, PassAsync, e => Log.PassFailed(logger, e), settle: TimeSpan.FromSeconds(1));
    }

    /// <summary>Connects the registry (built after the strategies that hold this object); periodic runs extra work each pass.</summary>
    public void Attach(ApiRegistry registry, Func<CancellationToken, Task>? periodic = null)
    {
        _registry = registry;
        _periodic = periodic;
    }

    private ApiRegistry Registry => _registry ?? throw new InvalidOperationException("registry not attached");

    /// <summary>The start-up pass: nothing is in flight yet, so the rebuild is exact and orphans go at once.</summary>
    public Task RunStartupAsync(CancellationToken cancellationToken) => RunAsync(startup: true, cancellationToken);

    /// <summary>One pass now (tests; the loop calls it too).</summary>
    public Task RunOnceAsync(CancellationToken cancellationToken) => RunAsync(startup: false, cancellationToken);

    /// <summary>Starts the periodic loop.</summary>
    public void Start() => _loop.Start();

    /// <summary>Asks for a pass soon (an IPAddress was deleted by someone else).</summary>
    public void Trigger() => _loop.Trigger();

    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync().ConfigureAwait(false);
        _runGate.Dispose();
    }

    private async Task<bool> PassAsync(CancellationToken ct)
    {
        if (_periodic is not null)
        {
            await _periodic(ct).ConfigureAwait(false);
        }
        await RunAsync(startup: false, ct).ConfigureAwait(false);
        return false;
    }

    private async Task RunAsync(bool startup, CancellationToken ct)
    {
        await _runGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var since = _time.GetTimestamp() - (long)(LeakGrace.TotalSeconds * _time.TimestampFrequency);
            // IPAddress objects first, Services second: a Service stored in between already has its IPAddress.
            var addresses = await _allocations.Objects.ListAsync(ct).ConfigureAwait(false);
            var services = await ListServicesAsync(ct).ConfigureAwait(false);
            await RepairIpsAsync(startup, since, addresses, services, ct).ConfigureAwait(false);
            await RepairPortsAsync(startup, services, ct).ConfigureAwait(false);
        }
        finally
        {
            _runGate.Release();
        }
    }

    private async Task<List<V1Service>> ListServicesAsync(CancellationToken ct)
    {
        var storage = Registry.Find("", "Service")!;
        var list = await Registry.Store.ListAsync(storage.Info.StorePrefix, 0, null, 0, ct).ConfigureAwait(false);
        var result = new List<V1Service>(list.Items.Count);
        foreach (var item in list.Items)
        {
            if (KubeJson.Deserialize<V1Service>(item.Value.Span) is { Spec: not null } svc)
            {
                result.Add(svc);
            }
        }
        return result;
    }

    private async Task RepairIpsAsync(bool startup, long since, IReadOnlyList<StoredIpAddress> addresses, List<V1Service> services, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var byKey = services.ToDictionary(s => Key(s.Metadata.NamespaceProperty, s.Metadata.Name), StringComparer.Ordinal);
        var held = new Dictionary<string, V1Service>(StringComparer.Ordinal);
        foreach (var svc in services)
        {
            foreach (var ip in ServiceAllocations.HeldIps(svc))
            {
                if (IpText.Parse(ip) is { } parsed)
                {
                    held.TryAdd(IpText.Format(parsed), svc);
                }
            }
        }

        var objects = new Dictionary<string, StoredIpAddress>(StringComparer.Ordinal);
        foreach (var address in addresses)
        {
            objects[address.Name] = address;
            if (IpText.Parse(address.Name) is not { } ip)
            {
                continue;
            }
            if (!address.ManagedByAllocator)
            {
                // Someone's reservation: the allocator must not hand the address out.
                _allocations.MarkTaken(ip);
                continue;
            }
            var old = startup || now - address.Created > LeakGrace;
            if (!string.IsNullOrEmpty(address.Group) || address.Resource != "services")
            {
                if (old)
                {
                    await EventAsync(IpAddressRef(address), "IPAddressNotAllocated", "IPAddressAllocation",
                        $"IPAddress {address.Name} appears to have been modified, not referencing a Service {RenderRef(address)}: cleaning up", IpRepairComponent, ct).ConfigureAwait(false);
                    await DeleteOrphanAsync(ip, address, objects, ct).ConfigureAwait(false);
                }
                continue;
            }
            if (!byKey.TryGetValue(Key(address.Namespace, address.ServiceName), out var parent))
            {
                if (old && !_allocations.IsReleasing(ip))
                {
                    Log.IpLeaked(_logger, address.Name);
                    await EventAsync(IpAddressRef(address), "IPAddressNotAllocated", "IPAddressAllocation",
                        $"IPAddress: {address.Name} for Service {address.Namespace}/{address.ServiceName} appears to have leaked: cleaning up", IpRepairComponent, ct).ConfigureAwait(false);
                    await DeleteOrphanAsync(ip, address, objects, ct).ConfigureAwait(false);
                }
                else
                {
                    _allocations.MarkTaken(ip);
                }
                continue;
            }
            if (!ServiceAllocations.HeldIps(parent).Any(h => h == address.Name))
            {
                if (old && !_allocations.IsReleasing(ip))
                {
                    await EventAsync(IpAddressRef(address), "IPAddressWrongReference", "IPAddressAllocation",
                        $"IPAddress: {address.Name} for Service {address.Namespace}/{address.ServiceName} has a wrong reference; cleaning up", IpRepairComponent, ct).ConfigureAwait(false);
                    await DeleteOrphanAsync(ip, address, objects, ct).ConfigureAwait(false);
                }
                else
                {
                    _allocations.MarkTaken(ip);
                }
                continue;
            }
            _allocations.MarkTaken(ip);
        }

        foreach (var svc in services)
        {
            foreach (var text in ServiceAllocations.HeldIps(svc))
            {
                await RepairServiceIpAsync(svc, text, objects, byKey, ct).ConfigureAwait(false);
            }
        }

        if (startup)
        {
            _ipLeaks.Clear();
            return;
        }
        // Reservations nothing backs any more (an IPAddress deleted by hand, a release that failed half-way). Overlapping
        // ranges may each hold the address: it counts once per pass and is freed where it is settled.
        var candidates = new Dictionary<string, (IPAddress Ip, List<ClusterIpRange> Ranges)>(StringComparer.Ordinal);
        foreach (var range in _allocations.Ranges)
        {
            foreach (var ip in range.SettledTaken(since))
            {
                var name = IpText.Format(ip);
                if (objects.ContainsKey(name) || held.ContainsKey(name))
                {
                    continue;
                }
                if (!candidates.TryGetValue(name, out var candidate))
                {
                    candidate = (ip, []);
                    candidates[name] = candidate;
                }
                candidate.Ranges.Add(range);
            }
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, (ip, ranges)) in candidates)
        {
            var entry = _ipLeaks.TryGetValue(name, out var e) ? (e.First, e.Runs + 1) : (now, 1);
            if (entry.Item2 >= 2 && now - entry.Item1 >= LeakGrace)
            {
                Log.IpReservationFreed(_logger, name);
                foreach (var range in ranges)
                {
                    range.Free(ip);
                }
                _ipLeaks.Remove(name);
                continue;
            }
            _ipLeaks[name] = entry;
            seen.Add(name);
        }
        foreach (var stale in _ipLeaks.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _ipLeaks.Remove(stale);
        }
    }

    private async Task RepairServiceIpAsync(V1Service svc, string text, Dictionary<string, StoredIpAddress> objects, Dictionary<string, V1Service> byKey, CancellationToken ct)
    {
        var ns = svc.Metadata.NamespaceProperty;
        var name = svc.Metadata.Name;
        if (IpText.Parse(text) is not { } ip)
        {
            await EventAsync(ServiceRef(svc), "ClusterIPNotValid", "ClusterIPValidation", "Cluster IP <nil> is not a valid IP; please recreate Service", IpRepairComponent, ct).ConfigureAwait(false);
            return;
        }
        var family = IpText.FamilyName(ip);
        var canonical = IpText.Format(ip);
        if (!_allocations.Covers(ip))
        {
            Log.IpOutOfRange(_logger, ns, name, canonical);
            await EventAsync(ServiceRef(svc), "ClusterIPOutOfRange", "ClusterIPAllocation",
                $"Cluster IP [{family}]: {canonical} is not within any configured Service CIDR; please recreate service", IpRepairComponent, ct).ConfigureAwait(false);
            return;
        }
        if (_allocations.IsReleasing(ip))
        {
            return;
        }
        _allocations.MarkTaken(ip);
        if (!objects.TryGetValue(canonical, out var address))
        {
            Log.IpNotAllocated(_logger, ns, name, canonical);
            await EventAsync(ServiceRef(svc), "ClusterIPNotAllocated", "ClusterIPAllocation",
                $"Cluster IP [{family}]: {canonical} is not allocated; repairing", IpRepairComponent, ct).ConfigureAwait(false);
            if (await _allocations.Objects.TryCreateAsync(canonical, family, ns, name, ct).ConfigureAwait(false))
            {
                objects[canonical] = new StoredIpAddress(canonical, null, "services", ns, name, true, _time.GetUtcNow(), "");
            }
            return;
        }
        var wrongKind = !string.IsNullOrEmpty(address.Group) || address.Resource != "services";
        if (!wrongKind && address.Namespace == ns && address.ServiceName == name)
        {
            return;
        }
        if (!wrongKind && byKey.TryGetValue(Key(address.Namespace, address.ServiceName), out var other)
            && ServiceAllocations.HeldIps(other).Any(h => h == canonical))
        {
            Log.IpDuplicate(_logger, canonical, ns, name, address.Namespace, address.ServiceName);
            await EventAsync(ServiceRef(svc), "ClusterIPAlreadyAllocated", "ClusterIPAllocation",
                $"Cluster IP [{family}]:{canonical} was assigned to multiple services; please recreate service", IpRepairComponent, ct).ConfigureAwait(false);
            return;
        }
        await EventAsync(ServiceRef(svc), "ClusterIPNotAllocated", "ClusterIPAllocation",
            $"the ClusterIP [{family}]: {canonical} for Service {ns}/{name} has a wrong reference; repairing", IpRepairComponent, ct).ConfigureAwait(false);
        if (await _allocations.Objects.DeleteAsync(canonical, null, null, address.Uid.Length > 0 ? address.Uid : null, ct).ConfigureAwait(false))
        {
            await _allocations.Objects.TryCreateAsync(canonical, family, ns, name, ct).ConfigureAwait(false);
        }
    }

    private async Task DeleteOrphanAsync(IPAddress ip, StoredIpAddress address, Dictionary<string, StoredIpAddress> objects, CancellationToken ct)
    {
        // The uid precondition keeps a pass from deleting an object recreated for a new Service meanwhile.
        var gone = await _allocations.Objects.DeleteAsync(address.Name, null, null, address.Uid.Length > 0 ? address.Uid : null, ct).ConfigureAwait(false);
        if (gone)
        {
            objects.Remove(address.Name);
            _allocations.Free(ip);
        }
    }

    private async Task RepairPortsAsync(bool startup, List<V1Service> services, CancellationToken ct)
    {
        var ports = _allocations.NodePorts;
        var seen = new HashSet<int>();
        foreach (var svc in services)
        {
            foreach (var port in CollectNodePorts(svc))
            {
                if (!seen.Add(port))
                {
                    Log.PortDuplicate(_logger, port, svc.Metadata.NamespaceProperty, svc.Metadata.Name);
                    await EventAsync(ServiceRef(svc), "PortAlreadyAllocated", null, $"Port {port} was assigned to multiple services; please recreate service", PortRepairComponent, ct).ConfigureAwait(false);
                    continue;
                }
                if (!ports.Range.Contains(port))
                {
                    await EventAsync(ServiceRef(svc), "PortOutOfRange", null, $"Port {port} is not within the port range {ports.Range}; please recreate service", PortRepairComponent, ct).ConfigureAwait(false);
                    continue;
                }
                if (ports.TryReserve(port) == PortOutcome.Reserved && !startup)
                {
                    await EventAsync(ServiceRef(svc), "PortNotAllocated", null, $"Port {port} is not allocated; repairing", PortRepairComponent, ct).ConfigureAwait(false);
                }
            }
        }
        if (startup)
        {
            _portLeaks.Clear();
            return;
        }
        // Reserved ports no Service holds are in flight or leaked: free them only after several passes and a grace period.
        var now = _time.GetUtcNow();
        var current = new HashSet<int>();
        foreach (var port in ports.TakenPorts().Where(p => !seen.Contains(p)))
        {
            var entry = _portLeaks.TryGetValue(port, out var e) ? (e.First, e.Runs + 1) : (now, 1);
            if (entry.Item2 >= 3 && now - entry.Item1 >= LeakGrace)
            {
                Log.PortLeaked(_logger, port);
                ports.Release(port);
                _portLeaks.Remove(port);
                continue;
            }
            _portLeaks[port] = entry;
            current.Add(port);
        }
        foreach (var stale in _portLeaks.Keys.Where(k => !current.Contains(k)).ToList())
        {
            _portLeaks.Remove(stale);
        }
    }

    /// <summary>Upstream collectServiceNodePorts: a port shared by TCP and UDP counts once; healthCheckNodePort too.</summary>
    private static List<int> CollectNodePorts(V1Service svc)
    {
        var result = new List<int>();
        var protocols = new Dictionary<int, HashSet<string>>();
        foreach (var port in svc.Spec.Ports ?? [])
        {
            var np = port.NodePort ?? 0;
            if (np == 0)
            {
                continue;
            }
            var proto = port.Protocol ?? "TCP";
            if (!protocols.TryGetValue(np, out var set))
            {
                protocols[np] = [proto];
                result.Add(np);
            }
            else if (!set.Add(proto))
            {
                // The same nodePort twice for one protocol is a duplicate to report.
                result.Add(np);
            }
        }
        if (svc.Spec.HealthCheckNodePort is { } hc && hc != 0 && (!protocols.TryGetValue(hc, out var hcSet) || hcSet.Contains("TCP")))
        {
            result.Add(hc);
        }
        return result;
    }

    private async Task EventAsync(V1ObjectReference regarding, string reason, string? action, string message, string component, CancellationToken ct)
    {
        var events = Registry.Find("", "Event");
        if (events is null)
        {
            return;
        }
        var now = _time.GetUtcNow().UtcDateTime;
        var ns = string.IsNullOrEmpty(regarding.NamespaceProperty) ? "default" : regarding.NamespaceProperty;
        var ev = new Corev1Event
        {
            Metadata = new V1ObjectMeta
            {
                Name = regarding.Name + "." + now.Ticks.ToString("x", CultureInfo.InvariantCulture) + Interlocked.Increment(ref _eventSequence).ToString("x4", CultureInfo.InvariantCulture),
                NamespaceProperty = ns,
            },
            InvolvedObject = regarding,
            Reason = reason,
            Message = message,
            Type = "Warning",
            Source = new V1EventSource { Component = component },
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
            Action = action,
            ReportingComponent = component,
            ReportingInstance = component + "-" + Environment.MachineName,
        };
        try
        {
            await events.CreateAsync(ns, ev, WriteOptions.Default, ct).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            Log.EventFailed(_logger, reason, e);
        }
    }

    private static V1ObjectReference ServiceRef(V1Service svc) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        NamespaceProperty = svc.Metadata.NamespaceProperty,
        Name = svc.Metadata.Name,
        Uid = svc.Metadata.Uid,
        ResourceVersion = svc.Metadata.ResourceVersion,
    };

    private static V1ObjectReference IpAddressRef(StoredIpAddress a) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "IPAddress",
        Name = a.Name,
        Uid = a.Uid,
    };

    private static string RenderRef(StoredIpAddress a) => $"&ParentReference{{Group:{a.Group},Resource:{a.Resource},Namespace:{a.Namespace},Name:{a.ServiceName},}}";

    private static string Key(string? ns, string? name) => (ns ?? "") + "/" + (name ?? "");

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Allocation repair pass failed")]
        public static partial void PassFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "IPAddress {Name} appears to have leaked: cleaning up")]
        public static partial void IpLeaked(ILogger logger, string name);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Reservation of {Name} has no IPAddress object and no Service: freeing it")]
        public static partial void IpReservationFreed(ILogger logger, string name);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The ClusterIP {Ip} for Service {Namespace}/{Name} is not within any service CIDR; please recreate")]
        public static partial void IpOutOfRange(ILogger logger, string? @namespace, string? name, string ip);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The ClusterIP {Ip} for Service {Namespace}/{Name} is not allocated; repairing")]
        public static partial void IpNotAllocated(ILogger logger, string? @namespace, string? name, string ip);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster IP {Ip} for service {Namespace}/{Name} was assigned to other services {OtherNamespace}/{OtherName}; please recreate")]
        public static partial void IpDuplicate(ILogger logger, string ip, string? @namespace, string? name, string? otherNamespace, string? otherName);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The node port {Port} for service {Namespace}/{Name} was assigned to multiple services; please recreate")]
        public static partial void PortDuplicate(ILogger logger, int port, string? @namespace, string? name);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The node port {Port} appears to have leaked: cleaning up")]
        public static partial void PortLeaked(ILogger logger, int port);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record {Reason} event")]
        public static partial void EventFailed(ILogger logger, string reason, Exception exception);
    }
}
