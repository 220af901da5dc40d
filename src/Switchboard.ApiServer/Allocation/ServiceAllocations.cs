using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Api.Validation;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry.Strategies;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// ClusterIPs and node ports of Services, as upstream v1.33's registry allocates them
/// (pkg/registry/core/service/storage/alloc.go): IP family defaulting and checks (initIPFamilyFields), clusterIP
/// allocation per family from the Service CIDRs with IPAddress objects as the durable record, node ports (one per
/// service port number on create), healthCheckNodePort for Local LoadBalancers, and the release rules of updates
/// and deletes. Each prepared write keeps a transaction (keyed by the object instance the registry passes to every
/// hook) so that an aborted write releases exactly what it took.
/// </summary>
internal sealed partial class ServiceAllocations : IAsyncDisposable
{
    public const string FamilyLabel = "ipaddress.kubernetes.io/ip-family";
    public const string ManagedByLabel = "ipaddress.kubernetes.io/managed-by";
    public const string ControllerName = "ipallocator.k8s.io";

    /// <summary>A lost race for an address (someone created its IPAddress first) is retried this often.</summary>
    private const int MaxCollisions = 1024;

    private static readonly ResourceInfo ServiceInfo = ResourceCatalog.Default.FindKind("", "Service")!;

    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<V1Service, Transaction> _transactions = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Seeds each new range's Random; used by the single writer of the range model only.</summary>
    private readonly Random _seed;

    /// <summary>
    /// The ranges Services take addresses from, in the order allocation tries them. Published whole and never
    /// changed afterwards, so readers take no lock; <see cref="ApplyServiceCidrsAsync"/> is the only writer.
    /// </summary>
    private volatile ClusterIpRange[] _ranges;
    private IIpAddressObjects? _objects;
    private int _disposed;

    public ServiceAllocations(IReadOnlyList<string> serviceCidrs, string nodePortRange, Random random, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(serviceCidrs);
        ArgumentNullException.ThrowIfNull(random);
        _time = time;
        _logger = logger;
        _seed = random;
        if (serviceCidrs.Count is 0 or > 2)
        {
            throw new ArgumentException("--service-cluster-ip-range must name one CIDR, or two of different families", nameof(serviceCidrs));
        }
        var cidrs = serviceCidrs.Select(ServiceCidr.Parse).ToList();
        var ranges = new List<ClusterIpRange>();
        foreach (var cidr in cidrs)
        {
            if (!_families.Add(cidr.FamilyName))
            {
                throw new ArgumentException("--service-cluster-ip-range: two CIDRs must be of different IP families", nameof(serviceCidrs));
            }
            // Every range and the port allocator get their own Random: each is used under its owner's lock only.
            ranges.Add(new ClusterIpRange(cidr, new Random(random.Next())));
        }
        // Until the ServiceCIDR objects are read (ApplyServiceCidrsAsync), the flag's ranges stand in for the default one.
        _ranges = [.. ranges];
        Cidrs = cidrs;
        PrimaryFamily = cidrs[0].FamilyName;
        NodePorts = new NodePortAllocator(PortRange.Parse(nodePortRange), new Random(random.Next()));
    }

    /// <summary>The --service-cluster-ip-range CIDRs: they decide the families Services may use and seed the `kubernetes` ServiceCIDR.</summary>
    public IReadOnlyList<ServiceCidr> Cidrs { get; }

    /// <summary>The family of the first --service-cluster-ip-range entry: the default for single-stack Services.</summary>
    public string PrimaryFamily { get; }

    /// <summary>
    /// As upstream, the families come from the flag alone (one MetaAllocator per configured family): a ServiceCIDR of
    /// another family is stored but gives Services nothing.
    /// </summary>
    public bool DualStack => _families.Count == 2;

    public bool IsFamilyConfigured(string family) => _families.Contains(family);

    public NodePortAllocator NodePorts { get; }

    /// <summary>Every range of every ServiceCIDR (ready or not), in allocation order.</summary>
    public IReadOnlyList<ClusterIpRange> Ranges => _ranges;

    /// <summary>The ranges whose CIDR contains ip (ServiceCIDRs may overlap).</summary>
    public IEnumerable<ClusterIpRange> RangesContaining(IPAddress ip) => _ranges.Where(r => r.Cidr.Contains(ip));

    /// <summary>True when some ServiceCIDR, ready or not, contains ip.</summary>
    public bool Covers(IPAddress ip) => _ranges.Any(r => r.Cidr.Contains(ip));

    /// <summary>True while a release of ip (the delete of its IPAddress object) is in progress.</summary>
    public bool IsReleasing(IPAddress ip) => _ranges.Any(r => r.Cidr.Contains(ip) && r.IsReleasing(ip));

    /// <summary>An IPAddress object for ip exists: every range containing it must treat it as taken.</summary>
    public void MarkTaken(IPAddress ip)
    {
        foreach (var range in _ranges)
        {
            range.MarkTaken(ip);
        }
    }

    /// <summary>The IPAddress object for ip is known to be gone.</summary>
    public void Free(IPAddress ip)
    {
        foreach (var range in _ranges)
        {
            range.Free(ip);
        }
    }

    internal IIpAddressObjects Objects => _objects ?? throw new InvalidOperationException("IPAddress storage not attached");

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>Connects the IPAddress storage (it is built after the strategies that use this allocator).</summary>
    public void Attach(IIpAddressObjects objects) => _objects = objects;

    // ---- create ----

    /// <summary>Upstream beginCreate: IP family fields, clusterIPs, node ports, healthCheckNodePort.</summary>
    public async ValueTask PrepareCreateAsync(V1Service service, bool dryRun, CancellationToken cancellationToken)
    {
        // A dry run answers with what it filled in, so there is nothing to restore.
        var transaction = new Transaction(dryRun, dryRun ? null : Snapshot.Of(service));
        try
        {
            InitIpFamilyFields(service, null);
            await AllocateClusterIpsAsync(service, transaction, cancellationToken).ConfigureAwait(false);
            var ports = new PortOperation(NodePorts, dryRun, transaction);
            if (NeedsNodePort(service))
            {
                InitNodePorts(service, ports);
            }
            if (ServiceValidation.NeedsHealthCheck(service))
            {
                AllocateHealthCheckNodePort(service, ports);
            }
        }
        catch
        {
            Revert(transaction);
            throw;
        }
        _transactions.AddOrUpdate(service, transaction);
    }

    /// <summary>The create did not persist: give back what it took and restore the fields it filled in.</summary>
    public void AbortCreate(V1Service service)
    {
        if (_transactions.TryGetValue(service, out var transaction))
        {
            _transactions.Remove(service);
            Revert(transaction);
            transaction.Original?.Restore(service);
        }
    }

    // ---- update ----

    /// <summary>Upstream beginUpdate from patchAllocatedValues on (normalization happens in the strategy first).</summary>
    public async ValueTask PrepareUpdateAsync(V1Service service, V1Service old, bool dryRun, CancellationToken cancellationToken)
    {
        var transaction = new Transaction(dryRun, null);
        try
        {
            InitIpFamilyFields(service, old);
            await UpdateClusterIpsAsync(service, old, transaction, cancellationToken).ConfigureAwait(false);
            var ports = new PortOperation(NodePorts, dryRun, transaction);
            if (NeedsNodePort(service))
            {
                UpdateNodePorts(service, old, ports);
            }
            if (!ServiceValidation.NeedsHealthCheck(old) && ServiceValidation.NeedsHealthCheck(service))
            {
                AllocateHealthCheckNodePort(service, ports);
            }
        }
        catch
        {
            Revert(transaction);
            throw;
        }
        _transactions.AddOrUpdate(service, transaction);
        // The registry deletes instead of updating when the last finalizer goes; it then reports the old object.
        _transactions.AddOrUpdate(old, transaction);
    }

    public void AbortUpdate(V1Service service, V1Service old)
    {
        if (_transactions.TryGetValue(service, out var transaction))
        {
            _transactions.Remove(service);
            _transactions.Remove(old);
            Revert(transaction);
        }
    }

    /// <summary>The update persisted: release what the old object held and the new one does not.</summary>
    public void CommitUpdate(V1Service service, V1Service old)
    {
        _transactions.Remove(service);
        _transactions.Remove(old);
        var keepIps = HeldIps(service).ToHashSet(StringComparer.Ordinal);
        foreach (var ip in HeldIps(old).Where(ip => !keepIps.Contains(ip)))
        {
            ReleaseIp(ip, old);
        }
        var keepPorts = HeldPorts(service);
        foreach (var port in HeldPorts(old).Where(p => !keepPorts.Contains(p)))
        {
            NodePorts.Release(port);
        }
    }

    /// <summary>The Service is gone: release everything it held (and what a pending update on it took).</summary>
    public void ReleaseDeleted(V1Service service)
    {
        if (_transactions.TryGetValue(service, out var pending))
        {
            _transactions.Remove(service);
            Revert(pending);
        }
        foreach (var ip in HeldIps(service))
        {
            ReleaseIp(ip, service);
        }
        foreach (var port in HeldPorts(service))
        {
            NodePorts.Release(port);
        }
    }

    /// <summary>Waits for address releases in progress (their IPAddress deletes) to finish.</summary>
    public async Task WhenReleasedAsync()
    {
        while (true)
        {
            var pending = _ranges.SelectMany(r => r.PendingReleases()).ToArray();
            if (pending.Length == 0)
            {
                return;
            }
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await WhenReleasedAsync().WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Releases that did not finish are settled by the next start's repair pass.
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Addresses a Service holds: its clusterIPs unless ExternalName or headless.</summary>
    public static IEnumerable<string> HeldIps(V1Service service)
    {
        if (service.Spec is null || service.Spec.Type == "ExternalName" || service.Spec.ClusterIPs is not { Count: > 0 } ips || ips[0] == "None")
        {
            return [];
        }
        return ips.Where(ip => ip.Length > 0);
    }

    /// <summary>Node ports a Service holds: every nonzero nodePort and the healthCheckNodePort.</summary>
    public static HashSet<int> HeldPorts(V1Service service)
    {
        var result = new HashSet<int>();
        foreach (var port in service.Spec?.Ports ?? [])
        {
            if (port.NodePort is { } np && np != 0)
            {
                result.Add(np);
            }
        }
        if (service.Spec?.HealthCheckNodePort is { } hc && hc != 0)
        {
            result.Add(hc);
        }
        return result;
    }

    public static bool NeedsNodePort(V1Service s) => s.Spec?.Type is "NodePort" or "LoadBalancer";

    private static bool ShouldAllocateNodePorts(V1Service s) =>
        s.Spec.Type == "NodePort" || (s.Spec.Type == "LoadBalancer" && s.Spec.AllocateLoadBalancerNodePorts != false);

    // ---- IP families (upstream initIPFamilyFields) ----

    private void InitIpFamilyFields(V1Service service, V1Service? old)
    {
        var spec = service.Spec;
        if (spec.Type == "ExternalName" || IsMatchingPreferDualStack(service, old))
        {
            return;
        }
        // No static default: an update adopts the old policy so that changing clusterIPs alone never flips stacks.
        if (spec.IpFamilyPolicy is null)
        {
            if (old?.Spec.IpFamilyPolicy is { } oldPolicy)
            {
                spec.IpFamilyPolicy = oldPolicy;
            }
            else if (spec.ClusterIP == "None" && spec.Selector is null or { Count: 0 })
            {
                spec.IpFamilyPolicy = "RequireDualStack";
            }
            else
            {
                spec.IpFamilyPolicy = "SingleStack";
            }
        }

        var pre = ServiceValidation.ValidateClusterIpsRelatedFields(service);
        if (pre.Count > 0)
        {
            throw Invalid(service, pre);
        }

        var errors = new List<FieldError>();
        var policy = spec.IpFamilyPolicy;
        if (old is not null)
        {
            if (policy == "SingleStack")
            {
                // With clusterIPs and ipFamilies unchanged, SingleStack is a clear request to drop the secondary.
                if (SameList(old.Spec.ClusterIPs, spec.ClusterIPs) && spec.ClusterIPs!.Count > 1)
                {
                    spec.ClusterIPs = [spec.ClusterIPs[0]];
                }
                if (SameList(old.Spec.IpFamilies, spec.IpFamilies) && spec.IpFamilies!.Count > 1)
                {
                    spec.IpFamilies = [spec.IpFamilies[0]];
                }
            }
            else
            {
                if (spec.ClusterIPs is { Count: > 0 } ips && ips.Count < (old.Spec.ClusterIPs?.Count ?? 0))
                {
                    errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", policy, "must be 'SingleStack' to release the secondary cluster IP"));
                }
                if (spec.IpFamilies is { Count: > 0 } families && families.Count < (old.Spec.IpFamilies?.Count ?? 0))
                {
                    errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", policy, "must be 'SingleStack' to release the secondary IP family"));
                }
            }
        }
        if (policy == "SingleStack")
        {
            if (spec.ClusterIPs?.Count == 2)
            {
                errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
            }
            if (spec.IpFamilies?.Count == 2)
            {
                errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
            }
        }

        // Families follow the requested IPs; an IP of an unconfigured family is the better error to report.
        var clusterIps = spec.ClusterIPs ?? [];
        for (var i = 0; i < clusterIps.Count; i++)
        {
            if (clusterIps[i] == "None")
            {
                break;
            }
            var family = FamilyOf(clusterIps[i]);
            if (i >= (spec.IpFamilies?.Count ?? 0))
            {
                if (!_families.Contains(family))
                {
                    errors.Add(ServiceValidation.Raw(Path("spec.clusterIPs", i), ServiceValidation.StringSlice(spec.ClusterIPs), $"{family} is not configured on this cluster"));
                }
                else
                {
                    spec.IpFamilies ??= [];
                    spec.IpFamilies.Add(family);
                }
            }
        }
        if (errors.Count > 0)
        {
            throw Invalid(service, errors);
        }

        // Headless and selectorless: endpoints of any family may come, so both are allowed even on a single-stack cluster.
        if (spec.ClusterIP == "None" && spec.Selector is null or { Count: 0 })
        {
            if (spec.IpFamilies is null or { Count: 0 })
            {
                spec.IpFamilies = [PrimaryFamily];
            }
            if (spec.IpFamilies.Count < 2 && spec.IpFamilyPolicy != "SingleStack")
            {
                spec.IpFamilies.Add(Other(spec.IpFamilies[0]));
            }
            return;
        }

        if (spec.IpFamilyPolicy == "RequireDualStack" && !DualStack)
        {
            errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", spec.IpFamilyPolicy, "this cluster is not configured for dual-stack services"));
        }
        var requested = spec.IpFamilies ?? [];
        for (var i = 0; i < requested.Count; i++)
        {
            if (!_families.Contains(requested[i]))
            {
                errors.Add(FieldError.Invalid(Path("spec.ipFamilies", i), requested[i], "not configured on this cluster"));
            }
        }
        if (errors.Count > 0)
        {
            throw Invalid(service, errors);
        }
        if (spec.IpFamilies is null or { Count: 0 })
        {
            spec.IpFamilies = [PrimaryFamily];
        }
        if (spec.IpFamilyPolicy != "SingleStack" && spec.IpFamilies.Count == 1 && DualStack)
        {
            spec.IpFamilies.Add(Other(spec.IpFamilies[0]));
        }
    }

    /// <summary>
    /// A PreferDualStack Service is not upgraded or downgraded just because the cluster changed stacks: only an
    /// explicit policy or family change does that.
    /// </summary>
    private static bool IsMatchingPreferDualStack(V1Service service, V1Service? old) =>
        old is not null
        && service.Spec.IpFamilyPolicy is not null
        && old.Spec.Type == service.Spec.Type
        && service.Spec.Type is "ClusterIP" or "NodePort" or "LoadBalancer"
        && service.Spec.IpFamilyPolicy == "PreferDualStack"
        && (old.Spec.IpFamilyPolicy is null || old.Spec.IpFamilyPolicy == "PreferDualStack")
        && SameList(old.Spec.ClusterIPs, service.Spec.ClusterIPs)
        && SameList(old.Spec.IpFamilies, service.Spec.IpFamilies);

    // ---- clusterIPs ----

    private async Task AllocateClusterIpsAsync(V1Service service, Transaction transaction, CancellationToken cancellationToken)
    {
        var spec = service.Spec;
        if (spec.Type == "ExternalName" || spec.ClusterIPs is ["None", ..])
        {
            return;
        }
        spec.ClusterIPs ??= [];
        var families = spec.IpFamilies ?? [];
        for (var i = 0; i < families.Count; i++)
        {
            if (i > spec.ClusterIPs.Count - 1)
            {
                spec.ClusterIPs.Add("");
            }
        }
        // Upstream walks a map here; the families' order is the stable equivalent.
        for (var i = 0; i < families.Count; i++)
        {
            spec.ClusterIPs[i] = await AllocateIpAsync(service, families[i], spec.ClusterIPs[i], transaction, cancellationToken).ConfigureAwait(false);
        }
        if (spec.ClusterIPs.Count > 0)
        {
            spec.ClusterIP = spec.ClusterIPs[0];
        }
    }

    private async Task UpdateClusterIpsAsync(V1Service service, V1Service old, Transaction transaction, CancellationToken cancellationToken)
    {
        if (IsMatchingPreferDualStack(service, old))
        {
            return;
        }
        var spec = service.Spec;
        if (old.Spec.Type == "ExternalName" && spec.Type != "ExternalName")
        {
            await AllocateClusterIpsAsync(service, transaction, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (old.Spec.ClusterIPs is ["None", ..] || spec.Type == "ExternalName")
        {
            // Headless needs nothing; a switch to ExternalName releases on commit.
            return;
        }
        var upgraded = old.Spec.IpFamilies?.Count == 1 && spec.IpFamilies?.Count == 2;
        if (upgraded)
        {
            spec.ClusterIPs ??= [];
            if (spec.ClusterIPs.Count < 2)
            {
                spec.ClusterIPs.Add("");
            }
            spec.ClusterIPs[1] = await AllocateIpAsync(service, spec.IpFamilies![1], spec.ClusterIPs[1], transaction, cancellationToken).ConfigureAwait(false);
        }
        // A downgrade releases the secondary on commit.
    }

    /// <summary>
    /// Upstream MetaAllocator: a dynamic address comes from the first ready range of the family with room, a requested
    /// one from any ready range that contains it. The IPAddress object's create decides who gets an address.
    /// </summary>
    private async Task<string> AllocateIpAsync(V1Service service, string family, string requested, Transaction transaction, CancellationToken cancellationToken)
    {
        var meta = service.Metadata;
        var ranges = _ranges.Where(r => r.Cidr.FamilyName == family).ToArray();
        if (requested.Length == 0)
        {
            if (transaction.DryRun)
            {
                // Upstream's dry-run allocator does not look for a free address: it answers with a range's network address.
                return ranges.FirstOrDefault(r => r.Ready) is { } any
                    ? IpText.Format(any.Cidr.Network)
                    : throw RangeFull(ranges);
            }
            var waited = false;
            for (var attempt = 0; attempt < MaxCollisions; attempt++)
            {
                ClusterIpRange? range = null;
                IPAddress? ip = null;
                foreach (var candidate in ranges)
                {
                    if (candidate.ReserveNext(Stamp()) is { } reserved)
                    {
                        (range, ip) = (candidate, reserved);
                        break;
                    }
                }
                if (range is null || ip is null)
                {
                    // Upstream releases inside the delete request; here a release may still be deleting its
                    // IPAddress object, so a full range waits for those before it says so.
                    var pending = ranges.Where(r => r.Ready).SelectMany(r => r.PendingReleases()).ToArray();
                    if (pending.Length == 0 || waited)
                    {
                        throw RangeFull(ranges);
                    }
                    waited = true;
                    await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (await CreateObjectAsync(range, ip, family, meta, cancellationToken).ConfigureAwait(false))
                {
                    transaction.Ips.Add(ip);
                    return IpText.Format(ip);
                }
                // Someone else's IPAddress object holds it: it stays taken, try another.
            }
            throw RangeFull(ranges);
        }

        var parsed = IpText.Parse(requested)!;
        // Upstream picks any ready allocator whose prefix contains the address; with overlapping ServiceCIDRs the
        // one where it is an allocatable address (not a network or broadcast address) is the one that can succeed.
        var containing = ranges.Where(r => r.Ready && r.Cidr.Contains(parsed)).ToArray();
        if (containing.Length == 0)
        {
            throw AllocationFailed(service, requested, MismatchedNetwork);
        }
        var chosen = containing.FirstOrDefault(r => r.Cidr.OffsetOf(parsed) is not null);
        if (chosen is null)
        {
            throw AllocationFailed(service, requested, NotInRange(parsed, containing[0]));
        }
        if (transaction.DryRun)
        {
            return requested;
        }
        for (var attempt = 0; ; attempt++)
        {
            switch (chosen.TryReserve(parsed, Stamp(), out var releasing))
            {
                case ReserveOutcome.NotInRange:
                    throw AllocationFailed(service, requested, NotInRange(parsed, chosen));
                case ReserveOutcome.NotReady:
                    // Its ServiceCIDR started terminating meanwhile.
                    throw AllocationFailed(service, requested, MismatchedNetwork);
                case ReserveOutcome.Taken:
                    throw AllocationFailed(service, requested, "provided IP is already allocated");
                case ReserveOutcome.Releasing when attempt < 8:
                    // A Service just deleted (kubectl replace --force): its address is free once its IPAddress is gone.
                    await releasing!.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                case ReserveOutcome.Releasing:
                    throw AllocationFailed(service, requested, "provided IP is already allocated");
                default:
                    if (!await CreateObjectAsync(chosen, parsed, family, meta, cancellationToken).ConfigureAwait(false))
                    {
                        throw AllocationFailed(service, requested, "provided IP is already allocated");
                    }
                    transaction.Ips.Add(parsed);
                    return requested;
            }
        }
    }

    /// <summary>
    /// Creates the IPAddress object of an address reserved in range; false (address stays taken) when it already
    /// existed. Overlapping ranges learn that the address is taken too.
    /// </summary>
    private async Task<bool> CreateObjectAsync(ClusterIpRange range, IPAddress ip, string family, V1ObjectMeta meta, CancellationToken cancellationToken)
    {
        bool created;
        try
        {
            created = await Objects.TryCreateAsync(IpText.Format(ip), family, meta.NamespaceProperty, meta.Name, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            range.Free(ip);
            throw;
        }
        range.Settle(ip);
        foreach (var other in _ranges)
        {
            if (!ReferenceEquals(other, range))
            {
                other.MarkTaken(ip);
            }
        }
        return created;
    }

    /// <summary>ipallocator.ErrMismatchedNetwork: no ready ServiceCIDR contains the address.</summary>
    private const string MismatchedNetwork = "the provided network does not match the current range";

    private static string NotInRange(IPAddress ip, ClusterIpRange range) =>
        $"the provided IP ({IpText.Format(ip)}) is not in the valid range. The range of valid IPs is {range.Cidr.Text}";

    /// <summary>Upstream says "range is full"; the ready ranges are named so the operator knows which ones.</summary>
    private static ApiException RangeFull(IEnumerable<ClusterIpRange> ranges)
    {
        var ready = ranges.Where(r => r.Ready).Select(r => r.Cidr.Text).ToArray();
        return ApiException.Internal(ready.Length == 0
            ? "failed to allocate a serviceIP: range is full"
            : $"failed to allocate a serviceIP: range is full ({string.Join(", ", ready)})");
    }

    private static ApiException AllocationFailed(V1Service service, string ip, string why) =>
        Invalid(service, [ServiceValidation.Raw("spec.clusterIPs", ServiceValidation.StringSlice(service.Spec.ClusterIPs), $"failed to allocate IP {ip}: {why}")]);

    /// <summary>Starts releasing an address the Service held (its IPAddress object is deleted in the background).</summary>
    private void ReleaseIp(string text, V1Service owner)
    {
        if (IpText.Parse(text) is not { } ip)
        {
            return;
        }
        var name = IpText.Format(ip);
        var ns = owner.Metadata?.NamespaceProperty;
        var svc = owner.Metadata?.Name;
        if (BeginRelease(ip, () => Objects.DeleteAsync(name, ns, svc, null, _stopping.Token)))
        {
            return;
        }
        // Not ours to track (outside today's ranges, or never reserved here): still drop its IPAddress object.
        _ = DeleteQuietlyAsync(name, ns, svc);
    }

    /// <summary>
    /// Starts one delete of ip's IPAddress object on behalf of every range that holds the address (ServiceCIDRs may
    /// overlap); each frees it once the delete succeeded. False when no range held it.
    /// </summary>
    private bool BeginRelease(IPAddress ip, Func<Task<bool>> delete)
    {
        var once = new Lazy<Task<bool>>(delete);
        var started = false;
        foreach (var range in _ranges)
        {
            if (range.Cidr.Contains(ip) && range.BeginRelease(ip, () => once.Value))
            {
                started = true;
            }
        }
        return started;
    }

    private async Task DeleteQuietlyAsync(string name, string? ns, string? svc)
    {
        try
        {
            await Objects.DeleteAsync(name, ns, svc, null, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.ReleaseFailed(_logger, name, e);
        }
    }

    // ---- node ports ----

    /// <summary>Create: ports with the same port number (53/TCP and 53/UDP) share one nodePort.</summary>
    private static void InitNodePorts(V1Service service, PortOperation ports)
    {
        var list = service.Spec.Ports ?? [];
        var byPort = new Dictionary<int, int>();
        for (var i = 0; i < list.Count; i++)
        {
            var port = list[i];
            var requested = port.NodePort ?? 0;
            if (requested == 0 && !ShouldAllocateNodePorts(service))
            {
                // No new ports, but explicit requests are honoured.
                continue;
            }
            if (!byPort.TryGetValue(port.Port, out var shared) || shared == 0)
            {
                // A later sibling may carry the user's value for this port number.
                var np = list.Where(p => p.Port == port.Port).Select(p => p.NodePort ?? 0).FirstOrDefault(n => n != 0);
                if (np != 0)
                {
                    if (ports.Allocate(np) is { } error)
                    {
                        throw Invalid(service, [FieldError.InvalidNumber(Path("spec.ports", i) + ".nodePort", np, error)]);
                    }
                    port.NodePort = np;
                }
                else
                {
                    port.NodePort = ports.AllocateNext() ?? throw ApiException.Internal($"failed to allocate a nodePort: range is full ({ports.RangeText})");
                }
                byPort[port.Port] = port.NodePort.Value;
            }
            else if (requested != shared)
            {
                if (requested == 0)
                {
                    port.NodePort = shared;
                }
                else if (ports.Allocate(requested) is { } error)
                {
                    throw Invalid(service, [FieldError.InvalidNumber(Path("spec.ports", i) + ".nodePort", requested, error)]);
                }
            }
        }
    }

    /// <summary>Update: keep what the old Service held, take what is new (upstream does not share by port number here).</summary>
    private static void UpdateNodePorts(V1Service service, V1Service old, PortOperation ports)
    {
        var oldPorts = (old.Spec.Ports ?? []).Select(p => p.NodePort ?? 0).Where(p => p != 0).ToHashSet();
        var taken = new HashSet<int>();
        var seen = new HashSet<(string?, int)>();
        var list = service.Spec.Ports ?? [];
        for (var i = 0; i < list.Count; i++)
        {
            var port = list[i];
            var np = port.NodePort ?? 0;
            if (np == 0 && !ShouldAllocateNodePorts(service))
            {
                continue;
            }
            if (np != 0)
            {
                if (!oldPorts.Contains(np) && !taken.Contains(np))
                {
                    if (ports.Allocate(np) is { } error)
                    {
                        throw Invalid(service, [FieldError.InvalidNumber(Path("spec.ports", i) + ".nodePort", np, error)]);
                    }
                    taken.Add(np);
                }
            }
            else
            {
                np = ports.AllocateNext() ?? throw ApiException.Internal($"failed to allocate a nodePort: range is full ({ports.RangeText})");
                port.NodePort = np;
            }
            if (!seen.Add((port.Protocol, np)))
            {
                throw ApiException.Internal(string.Create(CultureInfo.InvariantCulture, $"duplicate nodePort: {{{port.Protocol} {np}}}"));
            }
        }
    }

    private static void AllocateHealthCheckNodePort(V1Service service, PortOperation ports)
    {
        var requested = service.Spec.HealthCheckNodePort ?? 0;
        if (requested != 0)
        {
            if (ports.Allocate(requested) is { } error)
            {
                throw ApiException.Internal(string.Create(CultureInfo.InvariantCulture, $"failed to allocate requested HealthCheck NodePort {requested}: {error}"));
            }
            return;
        }
        service.Spec.HealthCheckNodePort = ports.AllocateNext()
            ?? throw ApiException.Internal($"failed to allocate a HealthCheck NodePort 0: range is full ({ports.RangeText})");
    }

    // ---- helpers ----

    private void Revert(Transaction transaction)
    {
        foreach (var ip in transaction.Ips)
        {
            var name = IpText.Format(ip);
            if (!BeginRelease(ip, () => Objects.DeleteAsync(name, null, null, null, _stopping.Token)))
            {
                _ = DeleteQuietlyAsync(name, null, null);
            }
        }
        transaction.Ips.Clear();
        if (!transaction.DryRun)
        {
            foreach (var port in transaction.Ports)
            {
                NodePorts.Release(port);
            }
        }
        transaction.Ports.Clear();
    }

    private long Stamp() => _time.GetTimestamp();

    private static string FamilyOf(string ip) => IpText.Parse(ip) is { } parsed ? IpText.FamilyName(parsed) : "unknown";

    private static string Other(string family) => family == "IPv4" ? "IPv6" : "IPv4";

    private static string Path(string path, int i) => path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]";

    private static bool SameList(IList<string>? a, IList<string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || b is null || a.SequenceEqual(b, StringComparer.Ordinal));

    public static ApiException Invalid(V1Service service, IReadOnlyList<FieldError> errors) =>
        ApiException.Invalid(ServiceInfo, service.Metadata?.Name ?? "", errors);

    /// <summary>What one prepared write took, to give back if it does not persist.</summary>
    private sealed class Transaction(bool dryRun, Snapshot? original)
    {
        public bool DryRun { get; } = dryRun;

        public Snapshot? Original { get; } = original;

        public List<IPAddress> Ips { get; } = [];

        public List<int> Ports { get; } = [];
    }

    /// <summary>The request's allocation fields before a create filled them in (a retried create starts over).</summary>
    private sealed record Snapshot(string? ClusterIp, List<string>? ClusterIps, List<string>? Families, string? Policy, int?[] NodePorts, int? HealthCheck)
    {
        public static Snapshot Of(V1Service s) => new(s.Spec.ClusterIP, s.Spec.ClusterIPs?.ToList(), s.Spec.IpFamilies?.ToList(), s.Spec.IpFamilyPolicy,
            [.. (s.Spec.Ports ?? []).Select(p => p.NodePort)], s.Spec.HealthCheckNodePort);

        public void Restore(V1Service s)
        {
            s.Spec.ClusterIP = ClusterIp;
            s.Spec.ClusterIPs = ClusterIps?.ToList();
            s.Spec.IpFamilies = Families?.ToList();
            s.Spec.IpFamilyPolicy = Policy;
            var ports = s.Spec.Ports ?? [];
            for (var i = 0; i < ports.Count && i < NodePorts.Length; i++)
            {
                ports[i].NodePort = NodePorts[i];
            }
            s.Spec.HealthCheckNodePort = HealthCheck;
        }
    }

    /// <summary>
    /// Upstream's PortAllocationOperation: ports taken now and given back on revert. Dry runs touch nothing: a
    /// requested port only has to be free, and "allocated" ports are placeholders counting up from 32769.
    /// </summary>
    private sealed class PortOperation(NodePortAllocator allocator, bool dryRun, Transaction transaction)
    {
        private readonly List<int> _dryRun = [];

        public string RangeText => allocator.Range.ToString();

        /// <summary>Null on success, else upstream's error text.</summary>
        public string? Allocate(int port)
        {
            if (dryRun)
            {
                if (allocator.IsTaken(port) || _dryRun.Contains(port))
                {
                    return "provided port is already allocated";
                }
                _dryRun.Add(port);
                return null;
            }
            switch (allocator.TryReserve(port))
            {
                case PortOutcome.NotInRange:
                    return $"provided port is not in the valid range. The range of valid ports is {allocator.Range}";
                case PortOutcome.Taken:
                    return "provided port is already allocated";
                default:
                    transaction.Ports.Add(port);
                    return null;
            }
        }

        public int? AllocateNext()
        {
            if (dryRun)
            {
                var next = (_dryRun.Count == 0 ? 32768 : _dryRun.Max()) + 1;
                _dryRun.Add(next);
                return next;
            }
            var port = allocator.ReserveNext();
            if (port is { } p)
            {
                transaction.Ports.Add(p);
            }
            return port;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing IPAddress {Name} failed; the repair pass will settle it")]
        public static partial void ReleaseFailed(ILogger logger, string name, Exception exception);
    }
}
