using System.Globalization;
using System.Net;
using System.Text;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Topology;
using Switchboard.Proxy.Tracking;

namespace Switchboard.Proxy.Nftables;

/// <summary>What one successful sync did, for health-check servers, conntrack cleanup and metrics.</summary>
internal sealed record SyncOutcome(
    bool FullSync,
    NftTransaction Transaction,
    ServiceUpdateResult Services,
    EndpointsUpdateResult Endpoints,
    IReadOnlyDictionary<ServiceName, int> HealthCheckNodePorts,
    IReadOnlyDictionary<ServiceName, int> LocalReadyEndpoints,
    SyncTimings Timings);

/// <summary>Where one sync spent its time (benchmarks and debug logs): tracker apply, the start-up listing, the
/// delayed deletion of stale chains, building the transaction, and running it (nft -f, process and kernel).</summary>
internal sealed record SyncTimings(TimeSpan Apply, TimeSpan Learn, TimeSpan StaleDelete, TimeSpan Build, TimeSpan Nft)
{
    public TimeSpan Total => Apply + Learn + StaleDelete + Build + Nft;
}

/// <summary>
/// The nftables backend for one IP family, in the shape of kube-proxy's nftables proxier (see README.md in this
/// folder for the table/chain/hook/priority contract). Feed it with the On* handlers; <see cref="SyncAsync"/>
/// applies everything pending in one atomic transaction: a full resync at start, after a failure and when the
/// node's topology labels change; otherwise a partial sync that rewrites only changed Services' chains and sends
/// only changed map elements, from an in-memory mirror of what was programmed.
/// </summary>
internal sealed partial class NftablesProxier
{
    private const string FilterPrerouting = "filter-prerouting";
    private const string FilterInput = "filter-input";
    private const string FilterForward = "filter-forward";
    private const string FilterOutput = "filter-output";
    private const string FilterOutputPostDnat = "filter-output-post-dnat";
    private const string NatPrerouting = "nat-prerouting";
    private const string NatOutput = "nat-output";
    private const string NatPostrouting = "nat-postrouting";

    private const string ServicesChain = "services";
    private const string ServiceIpsMap = "service-ips";
    private const string ServiceNodePortsMap = "service-nodeports";
    private const string NodePortIpsSet = "nodeport-ips";
    private const string ClusterIpsSet = "cluster-ips";
    private const string ServiceEndpointsCheckChain = "service-endpoints-check";
    private const string NodePortEndpointsCheckChain = "nodeport-endpoints-check";
    private const string NoEndpointServicesMap = "no-endpoint-services";
    private const string NoEndpointNodePortsMap = "no-endpoint-nodeports";
    private const string RejectChain = "reject-chain";
    private const string ClusterIpsCheckChain = "cluster-ips-check";
    private const string FirewallIpsMap = "firewall-ips";
    private const string FirewallCheckChain = "firewall-check";
    private const string MarkMasqChain = "mark-for-masquerade";
    private const string MasqueradingChain = "masquerading";
    private const string HairpinSet = "hairpin-connections";

    private static readonly (string Name, string Type, string Hook, string Priority)[] BaseChains =
    [
        // Filter chains run before DNAT so they see the service IP the client used.
        (FilterPrerouting, NftChainType.Filter, NftHook.Prerouting, "dstnat-10"),
        (FilterInput, NftChainType.Filter, NftHook.Input, "dstnat-10"),
        (FilterForward, NftChainType.Filter, NftHook.Forward, "dstnat-10"),
        (FilterOutput, NftChainType.Filter, NftHook.Output, "dstnat-10"),
        (FilterOutputPostDnat, NftChainType.Filter, NftHook.Output, "dstnat+10"),
        (NatPrerouting, NftChainType.Nat, NftHook.Prerouting, "dstnat"),
        (NatOutput, NftChainType.Nat, NftHook.Output, "dstnat"),
        (NatPostrouting, NftChainType.Nat, NftHook.Postrouting, "srcnat"),
    ];

    private static readonly (string Dst, string Src, string Extra)[] JumpChains =
    [
        // reject is only valid in input/forward/output before kernel 5.9, so no-endpoint checks are not in prerouting.
        (NodePortEndpointsCheckChain, FilterInput, "ct state new "),
        (ServiceEndpointsCheckChain, FilterInput, "ct state new "),
        (ServiceEndpointsCheckChain, FilterForward, "ct state new "),
        (ServiceEndpointsCheckChain, FilterOutput, "ct state new "),
        (FirewallCheckChain, FilterPrerouting, "ct state new "),
        (FirewallCheckChain, FilterOutput, "ct state new "),
        (ServicesChain, NatOutput, ""),
        (ServicesChain, NatPrerouting, ""),
        (MasqueradingChain, NatPostrouting, ""),
        (ClusterIpsCheckChain, FilterForward, "ct state new "),
        (ClusterIpsCheckChain, FilterOutputPostDnat, "ct state new "),
    ];

    private readonly NftablesProxierOptions _options;
    private readonly INftables _nft;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NftTableRef _table;
    private readonly string _ipX;
    private readonly string _addrType;
    private readonly string _noLocalhost;
    private readonly string _masqueradeMark;
    private readonly string? _ifLocal;
    private readonly string? _ifNotLocal;
    private readonly StringBuilder _sb = new(256);
    private readonly Conntrack.ConntrackCleaner? _conntrack;

    private readonly ServicePortMap _svcPortMap = [];
    private readonly EndpointsMap _endpointsMap = [];
    private readonly ElementStorage _clusterIps = new(ClusterIpsSet, isMap: false);
    private readonly ElementStorage _serviceIps = new(ServiceIpsMap, isMap: true);
    private readonly ElementStorage _firewallIps = new(FirewallIpsMap, isMap: true);
    private readonly ElementStorage _noEndpointServices = new(NoEndpointServicesMap, isMap: true);
    private readonly ElementStorage _noEndpointNodePorts = new(NoEndpointNodePortsMap, isMap: true);
    private readonly ElementStorage _serviceNodePorts = new(ServiceNodePortsMap, isMap: true);
    private readonly ElementStorage[] _storages;
    private readonly SharedElementSet _hairpin = new(HairpinSet);

    private readonly Dictionary<ServicePortName, ServiceChains> _serviceChainNames = [];
    private readonly Dictionary<(ServicePortName, string), (string Chain, string Affinity)> _endpointChainNames = [];

    // What exists in the kernel after the last successful transaction: service/endpoint chains and affinity sets.
    private HashSet<string>? _programmedChains;
    private HashSet<string>? _programmedAffinitySets;
    private readonly Dictionary<string, DateTimeOffset> _staleChains = new(StringComparer.Ordinal);

    // What each Service programmed (chains, affinity sets, map/set keys) after the last successful sync, so a partial
    // sync touches only the Services that changed: O(changes), not O(Services) (kube-proxy walks every Service).
    private Dictionary<ServiceName, ProgrammedService> _programmedServices = [];

    private readonly Lock _lock = new();
    private Dictionary<string, string> _nodeLabels = [];
    private IReadOnlyList<IPNetwork> _serviceCidrs = [];
    private bool _needFullSync = true;
    private bool _servicesSynced;
    private bool _endpointSlicesSynced;
    private bool _baseChainsRecreated;

    public NftablesProxier(NftablesProxierOptions options, INftables nft, TimeProvider time, ILogger? logger = null, Conntrack.ConntrackCleaner? conntrack = null)
    {
        _conntrack = conntrack;
        _options = options;
        _nft = nft;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        var v6 = options.Family == IpFamily.IPv6;
        _table = new NftTableRef(v6 ? NftFamily.Ip6 : NftFamily.Ip, options.TableName);
        _ipX = v6 ? "ip6" : "ip";
        _addrType = v6 ? "ipv6_addr" : "ipv4_addr";
        _noLocalhost = v6 ? "ip6 daddr != ::1" : "ip daddr != 127.0.0.0/8";
        _masqueradeMark = "0x" + (1 << options.MasqueradeBit).ToString("x", CultureInfo.InvariantCulture);
        var cidrs = options.ClusterCidrs.Where(c => options.Family.Matches(c.BaseAddress)).Select(c => c.ToString()).ToArray();
        if (cidrs.Length > 0)
        {
            var match = cidrs.Length == 1 ? cidrs[0] : "{ " + string.Join(", ", cidrs) + " }";
            _ifLocal = _ipX + " saddr " + match;
            _ifNotLocal = _ipX + " saddr != " + match;
        }

        ServiceChanges = new ServiceChangeTracker(options.Family);
        EndpointChanges = new EndpointsChangeTracker(options.NodeName, options.Family, time);
        _storages = [_clusterIps, _serviceIps, _firewallIps, _noEndpointServices, _noEndpointNodePorts, _serviceNodePorts];
    }

    public IpFamily Family => _options.Family;

    public NftTableRef Table => _table;

    public ServiceChangeTracker ServiceChanges { get; }

    public EndpointsChangeTracker EndpointChanges { get; }

    /// <summary>Asks for a sync soon (wired to the bounded-frequency runner's Run by the owner).</summary>
    public Action? RequestSync { get; set; }

    /// <summary>Asks for a sync no later than the given delay (runner's RetryAfter).</summary>
    public Action<TimeSpan>? RequestSyncAfter { get; set; }

    /// <summary>Called after each successful sync.</summary>
    public Action<SyncOutcome>? Synced { get; set; }

    public bool IsInitialized
    {
        get
        {
            lock (_lock)
            {
                return _servicesSynced && _endpointSlicesSynced;
            }
        }
    }

    public void OnServiceAdd(V1Service service) => OnServiceUpdate(null, service);

    public void OnServiceUpdate(V1Service? previous, V1Service? current)
    {
        if (ServiceChanges.Update(previous, current) && IsInitialized)
        {
            RequestSync?.Invoke();
        }
    }

    public void OnServiceDelete(V1Service service) => OnServiceUpdate(service, null);

    public void OnServicesSynced()
    {
        lock (_lock)
        {
            _servicesSynced = true;
        }

        RequestSync?.Invoke();
    }

    public void OnEndpointSliceAdd(V1EndpointSlice slice) => OnEndpointSliceUpdate(slice, remove: false);

    public void OnEndpointSliceUpdate(V1EndpointSlice slice, bool remove = false)
    {
        if (EndpointChanges.EndpointSliceUpdate(slice, remove) && IsInitialized)
        {
            RequestSync?.Invoke();
        }
    }

    public void OnEndpointSliceDelete(V1EndpointSlice slice) => OnEndpointSliceUpdate(slice, remove: true);

    public void OnEndpointSlicesSynced()
    {
        lock (_lock)
        {
            _endpointSlicesSynced = true;
        }

        RequestSync?.Invoke();
    }

    /// <summary>This node's labels changed: topology (zone) may differ, so the next sync is a full one.</summary>
    public void OnNodeLabels(IReadOnlyDictionary<string, string>? labels)
    {
        labels ??= new Dictionary<string, string>();
        lock (_lock)
        {
            if (_nodeLabels.Count == labels.Count && _nodeLabels.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value))
            {
                return;
            }

            _nodeLabels = new Dictionary<string, string>(labels);
            _needFullSync = true;
        }

        RequestSync?.Invoke();
    }

    /// <summary>The ServiceCIDRs changed (all families; this proxier keeps its own). Written by the next (full) sync.</summary>
    public void OnServiceCidrsChanged(IReadOnlyList<IPNetwork> cidrs)
    {
        var mine = cidrs.Where(c => Family.Matches(c.BaseAddress)).ToArray();
        lock (_lock)
        {
            if (mine.SequenceEqual(_serviceCidrs))
            {
                return;
            }

            _serviceCidrs = mine;

            // Upstream only picks the change up at the next full sync; the drop rule lives in the base setup.
            _needFullSync = true;
        }

        RequestSync?.Invoke();
    }

    /// <summary>Applies all pending changes in one transaction. Never throws for nft errors: a failed sync is retried in full.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (!IsInitialized)
        {
            Log.NotInitialized(_logger, Family.ToString());
            return;
        }

        bool full;
        Dictionary<string, string> nodeLabels;
        IReadOnlyList<IPNetwork> serviceCidrs;
        lock (_lock)
        {
            full = _needFullSync;
            nodeLabels = _nodeLabels;
            serviceCidrs = _serviceCidrs;
        }

        var start = _time.GetUtcNow();
        var t0 = _time.GetTimestamp();
        var serviceResult = _svcPortMap.Apply(ServiceChanges);
        var endpointResult = _endpointsMap.Apply(EndpointChanges);
        var t1 = _time.GetTimestamp();

        if (_programmedChains is null)
        {
            await LearnExistingObjectsAsync(cancellationToken).ConfigureAwait(false);
        }

        var t2 = _time.GetTimestamp();
        await DeleteStaleChainsAsync(start, cancellationToken).ConfigureAwait(false);
        var t3 = _time.GetTimestamp();
        long t4;

        NftTransaction transaction;
        var activeChains = new HashSet<string>(StringComparer.Ordinal);
        var activeAffinitySets = new HashSet<string>(StringComparer.Ordinal);
        var newlyStale = new List<string>();
        var deletedSets = new List<string>();
        var proposed = new Dictionary<ServiceName, ProgrammedService>();
        HashSet<ServiceName>? dirty = null;
        if (!full)
        {
            dirty = [.. serviceResult.UpdatedServices];
            dirty.UnionWith(endpointResult.UpdatedServices);
        }

        try
        {
            transaction = BuildTransaction(full, serviceCidrs, nodeLabels, dirty, proposed, activeChains, activeAffinitySets, newlyStale, deletedSets);
            t4 = _time.GetTimestamp();
            await _nft.RunAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // nft refused it, or (a bug) the builder rejected an object: nothing was applied, so retry in full.
            foreach (var s in _storages)
            {
                s.Abort();
            }

            _hairpin.Abort();

            lock (_lock)
            {
                _needFullSync = true;
            }

            Log.SyncFailed(_logger, ex, Family.ToString(), _options.SyncPeriod);
            RequestSyncAfter?.Invoke(_options.SyncPeriod);
            return;
        }

        var t5 = _time.GetTimestamp();
        var timings = new SyncTimings(
            _time.GetElapsedTime(t0, t1), _time.GetElapsedTime(t1, t2), _time.GetElapsedTime(t2, t3), _time.GetElapsedTime(t3, t4), _time.GetElapsedTime(t4, t5));
        foreach (var s in _storages)
        {
            s.Commit();
        }

        _hairpin.Commit();

        if (full)
        {
            _baseChainsRecreated = true;
        }

        foreach (var chain in newlyStale)
        {
            _staleChains.TryAdd(chain, start);
        }

        foreach (var chain in activeChains)
        {
            _staleChains.Remove(chain);
        }

        if (full)
        {
            activeChains.UnionWith(_staleChains.Keys);
            _programmedChains = activeChains;
            _programmedAffinitySets = activeAffinitySets;
            _programmedServices = proposed;
        }
        else
        {
            // Stale chains stay in _programmedChains until DeleteStaleChainsAsync deletes them.
            _programmedChains!.UnionWith(activeChains);
            _programmedAffinitySets!.ExceptWith(deletedSets);
            _programmedAffinitySets.UnionWith(activeAffinitySets);
            foreach (var svc in dirty!)
            {
                if (proposed.TryGetValue(svc, out var state))
                {
                    _programmedServices[svc] = state;
                }
                else
                {
                    _programmedServices.Remove(svc);
                }
            }
        }
        lock (_lock)
        {
            // A label or CIDR change that raced with this sync set the flag again after we read it; keep it then.
            if (ReferenceEquals(nodeLabels, _nodeLabels) && ReferenceEquals(serviceCidrs, _serviceCidrs))
            {
                _needFullSync = false;
            }
        }

        if (_staleChains.Count > 0)
        {
            RequestSyncAfter?.Invoke(_options.StaleChainDelay);
        }

        Log.Synced(_logger, Family.ToString(), full ? "full" : "partial", _svcPortMap.Count, transaction.Count);
        if (_conntrack is not null)
        {
            // After the rules changed, as upstream: entries created before now point at the old destination.
            await _conntrack.CleanAsync(_svcPortMap, serviceResult, endpointResult, Family, cancellationToken).ConfigureAwait(false);
        }

        Synced?.Invoke(new SyncOutcome(full, transaction, serviceResult, endpointResult, _svcPortMap.HealthCheckNodePorts(), _endpointsMap.LocalReadyEndpoints(), timings));
    }

    private NftTransaction BuildTransaction(bool full, IReadOnlyList<IPNetwork> serviceCidrs, Dictionary<string, string> nodeLabels,
        HashSet<ServiceName>? dirty, Dictionary<ServiceName, ProgrammedService> proposed, HashSet<string> activeChains, HashSet<string> activeAffinitySets,
        List<string> newlyStale, List<string> deletedSets)
    {
        var tx = new NftTransactionBuilder(_table);
        foreach (var s in _storages)
        {
            s.Begin(full);
        }

        if (full)
        {
            SetupTable(tx, serviceCidrs);
        }

        _hairpin.Begin(tx, full);
        if (!full)
        {
            // Keys the changed Services had are gone unless written again below.
            foreach (var svc in dirty!)
            {
                if (_programmedServices.TryGetValue(svc, out var old))
                {
                    foreach (var (storage, key) in old.Elements)
                    {
                        _storages[storage].MarkLeftover(key);
                    }

                    _hairpin.Release(old.HairpinKeys);
                }
            }
        }

        nodeLabels.TryGetValue(ProxyLabels.TopologyZone, out var zone);
        foreach (var (spn, svc) in _svcPortMap)
        {
            if (dirty is not null && !dirty.Contains(spn.Service))
            {
                continue;
            }

            if (!proposed.TryGetValue(spn.Service, out var state))
            {
                proposed[spn.Service] = state = new ProgrammedService();
            }

            _endpointsMap.TryGetValue(spn, out var eps);
            for (var i = 0; i < _storages.Length; i++)
            {
                _storages[i].Collect(state.Elements, i);
            }

            WriteServicePort(tx, spn, svc, eps, zone, skip: false, state.Chains, state.AffinitySets, state.HairpinKeys);
            activeChains.UnionWith(state.Chains);
            activeAffinitySets.UnionWith(state.AffinitySets);
        }

        foreach (var state in proposed.Values)
        {
            _hairpin.Acquire(state.HairpinKeys);
        }

        _hairpin.Write(tx);

        foreach (var s in _storages)
        {
            s.Collect(null, 0);
        }

        if (full)
        {
            foreach (var chain in _programmedChains!)
            {
                if (!activeChains.Contains(chain))
                {
                    // Flush now; delete later, when the kernel has surely dropped references from deleted map elements.
                    tx.Flush(new NftChain { Name = chain });
                    newlyStale.Add(chain);
                }
            }

            foreach (var set in _programmedAffinitySets!)
            {
                if (!activeAffinitySets.Contains(set))
                {
                    tx.Delete(new NftSet { Name = set });
                    deletedSets.Add(set);
                }
            }
        }
        else
        {
            foreach (var svc in dirty!)
            {
                if (!_programmedServices.TryGetValue(svc, out var old))
                {
                    continue;
                }

                foreach (var chain in old.Chains)
                {
                    if (!activeChains.Contains(chain) && !_staleChains.ContainsKey(chain))
                    {
                        tx.Flush(new NftChain { Name = chain });
                        newlyStale.Add(chain);
                    }
                }

                foreach (var set in old.AffinitySets)
                {
                    if (!activeAffinitySets.Contains(set))
                    {
                        tx.Delete(new NftSet { Name = set });
                        deletedSets.Add(set);
                    }
                }
            }
        }

        foreach (var s in _storages)
        {
            s.CleanupLeftovers(tx);
        }

        return tx.Build();
    }

    /// <summary>Removes the whole table (agent shutdown or switching proxy mode).</summary>
    public async Task CleanupAsync(CancellationToken cancellationToken)
    {
        var tx = new NftTransactionBuilder(_table);
        tx.Add(new NftTable());
        tx.Delete(new NftTable());
        await _nft.RunAsync(tx.Build(), cancellationToken).ConfigureAwait(false);
        _programmedChains = null;
        _programmedAffinitySets = null;
        _staleChains.Clear();
        _baseChainsRecreated = false;
        lock (_lock)
        {
            _needFullSync = true;
        }
    }

    private async Task LearnExistingObjectsAsync(CancellationToken ct)
    {
        // Once at start (never on the hot path): chains and affinity sets a previous run left behind.
        _programmedChains = new HashSet<string>(StringComparer.Ordinal);
        _programmedAffinitySets = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var chain in await _nft.ListAsync(_table, NftObjectKind.Chain, ct).ConfigureAwait(false))
            {
                if (ChainNames.IsServiceChain(chain))
                {
                    _programmedChains.Add(chain);
                }
            }

            foreach (var set in await _nft.ListAsync(_table, NftObjectKind.Set, ct).ConfigureAwait(false))
            {
                if (ChainNames.IsAffinitySet(set))
                {
                    _programmedAffinitySets.Add(set);
                }
            }
        }
        catch (NftablesException ex) when (ex.Kind == NftErrorKind.NotFound)
        {
            // No table yet: nothing left over.
        }
        catch (NftablesException ex)
        {
            Log.ListFailed(_logger, ex, Family.ToString());
        }
    }

    private async Task DeleteStaleChainsAsync(DateTimeOffset now, CancellationToken ct)
    {
        if (_staleChains.Count == 0)
        {
            return;
        }

        var cutoff = now - _options.StaleChainDelay;
        var tx = new NftTransactionBuilder(_table);
        var deleted = new List<string>();
        foreach (var (chain, since) in _staleChains)
        {
            if (since <= cutoff)
            {
                tx.Delete(new NftChain { Name = chain });
                deleted.Add(chain);
            }
        }

        if (deleted.Count == 0)
        {
            return;
        }

        try
        {
            await _nft.RunAsync(tx.Build(), ct).ConfigureAwait(false);
            foreach (var chain in deleted)
            {
                _staleChains.Remove(chain);
                _programmedChains?.Remove(chain);
            }
        }
        catch (NftablesException ex)
        {
            // They stay stale (still flushed) and are retried at the next sync.
            Log.StaleDeleteFailed(_logger, ex, deleted.Count, Family.ToString());
        }
    }

    private void SetupTable(NftTransactionBuilder tx, IReadOnlyList<IPNetwork> serviceCidrs)
    {
        tx.Add(new NftTable { Comment = "rules for switchboard-proxy" });

        // Once per process: delete and recreate base chains so a changed hook priority cannot fail the transaction.
        if (!_baseChainsRecreated)
        {
            foreach (var bc in BaseChains)
            {
                tx.Add(new NftChain { Name = bc.Name });
                tx.Delete(new NftChain { Name = bc.Name });
            }
        }

        foreach (var bc in BaseChains)
        {
            var chain = new NftChain { Name = bc.Name, Type = bc.Type, Hook = bc.Hook, Priority = bc.Priority };
            tx.Add(chain);
            tx.Flush(chain);
        }

        var created = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (dst, src, extra) in JumpChains)
        {
            EnsureChain(tx, dst, created, skipCreation: false);
            tx.Add(new NftRule { Chain = src, Text = extra + "jump " + dst });
        }

        EnsureChain(tx, ServicesChain, created, false);
        EnsureChain(tx, ClusterIpsCheckChain, created, false);
        EnsureChain(tx, MasqueradingChain, created, false);
        EnsureChain(tx, MarkMasqChain, created, false);

        tx.Add(new NftRule { Chain = MarkMasqChain, Text = "mark set mark or " + _masqueradeMark });

        // Hairpin (an endpoint reaching its own Service) is decided here, after DNAT: source == DNATed destination.
        // One shared set instead of a rule per endpoint chain, so Services without affinity need no endpoint chains.
        tx.Add(new NftSet { Name = HairpinSet, Type = _addrType + " . " + _addrType, Comment = "endpoint IP . same IP: hairpin connections to masquerade" });
        tx.Add(new NftRule
        {
            Chain = MasqueradingChain,
            Text = "ct status dnat " + _ipX + " saddr . " + _ipX + " daddr @" + HairpinSet + " jump " + MarkMasqChain,
        });
        tx.Add(new NftRule { Chain = MasqueradingChain, Text = "mark and " + _masqueradeMark + " == 0 return" });
        tx.Add(new NftRule { Chain = MasqueradingChain, Text = "mark set mark xor " + _masqueradeMark });
        tx.Add(new NftRule { Chain = MasqueradingChain, Text = "masquerade fully-random" });

        tx.Add(new NftSet { Name = ClusterIpsSet, Type = _addrType, Comment = "Active ClusterIPs" });
        tx.Add(new NftRule { Chain = ClusterIpsCheckChain, Text = _ipX + " daddr @" + ClusterIpsSet + " reject", Comment = "Reject traffic to invalid ports of ClusterIPs" });
        if (serviceCidrs.Count > 0)
        {
            tx.Add(new NftRule
            {
                Chain = ClusterIpsCheckChain,
                Text = _ipX + " daddr { " + string.Join(", ", serviceCidrs) + " } drop",
                Comment = "Drop traffic to unallocated ClusterIPs",
            });
        }

        // add+delete makes sure the set is gone without failing when it does not exist.
        tx.Add(new NftSet { Name = NodePortIpsSet, Type = _addrType, Comment = "IPs that accept NodePort traffic" });
        var matchAll = _options.NodePortAddresses is null;
        if (matchAll)
        {
            tx.Delete(new NftSet { Name = NodePortIpsSet });
        }
        else
        {
            tx.Flush(new NftSet { Name = NodePortIpsSet });
            foreach (var ip in _options.NodePortAddresses!)
            {
                if (!Family.Matches(ip))
                {
                    continue;
                }

                if (IPAddress.IsLoopback(ip))
                {
                    Log.LocalhostNodePort(_logger, ip.ToString());
                    continue;
                }

                tx.Add(new NftElement { Set = NodePortIpsSet, Key = [ip.ToString()] });
            }
        }

        tx.Add(new NftMap { Name = NoEndpointServicesMap, Type = _addrType + " . inet_proto . inet_service : verdict", Comment = "vmap to drop or reject packets to services with no endpoints" });
        tx.Add(new NftMap { Name = NoEndpointNodePortsMap, Type = "inet_proto . inet_service : verdict", Comment = "vmap to drop or reject packets to service nodeports with no endpoints" });
        tx.Add(new NftChain { Name = RejectChain, Comment = "helper for @no-endpoint-services / @no-endpoint-nodeports" });
        tx.Flush(new NftChain { Name = RejectChain });
        tx.Add(new NftRule { Chain = RejectChain, Text = "reject" });
        tx.Add(new NftRule { Chain = ServiceEndpointsCheckChain, Text = _ipX + " daddr . meta l4proto . th dport vmap @" + NoEndpointServicesMap });
        tx.Add(new NftRule
        {
            Chain = NodePortEndpointsCheckChain,
            Text = (matchAll ? _noLocalhost : _ipX + " daddr @" + NodePortIpsSet) + " meta l4proto . th dport vmap @" + NoEndpointNodePortsMap,
        });

        tx.Add(new NftMap { Name = FirewallIpsMap, Type = _addrType + " . inet_proto . inet_service : verdict", Comment = "destinations that are subject to LoadBalancerSourceRanges" });
        tx.Add(new NftRule { Chain = FirewallCheckChain, Text = _ipX + " daddr . meta l4proto . th dport vmap @" + FirewallIpsMap });

        tx.Add(new NftMap { Name = ServiceIpsMap, Type = _addrType + " . inet_proto . inet_service : verdict", Comment = "ClusterIP, ExternalIP and LoadBalancer IP traffic" });
        tx.Add(new NftMap { Name = ServiceNodePortsMap, Type = "inet_proto . inet_service : verdict", Comment = "NodePort traffic" });
        tx.Add(new NftRule { Chain = ServicesChain, Text = _ipX + " daddr . meta l4proto . th dport vmap @" + ServiceIpsMap });
        tx.Add(new NftRule
        {
            Chain = ServicesChain,
            Text = (matchAll ? "fib daddr type local " + _noLocalhost : _ipX + " daddr @" + NodePortIpsSet) + " meta l4proto . th dport vmap @" + ServiceNodePortsMap,
        });

        foreach (var s in _storages)
        {
            s.Reset(tx);
        }
    }

    private static void EnsureChain(NftTransactionBuilder tx, string chain, HashSet<string> created, bool skipCreation)
    {
        if (!created.Add(chain) || skipCreation)
        {
            return;
        }

        tx.Add(new NftChain { Name = chain });
        tx.Flush(new NftChain { Name = chain });
    }

    /// <summary>A Service or endpoint chain: flushed only when the kernel may already have it (a cold start sends
    /// about a quarter fewer operations).</summary>
    private void EnsureServiceChain(NftTransactionBuilder tx, string chain, HashSet<string> created, bool skipCreation)
    {
        if (!created.Add(chain) || skipCreation)
        {
            return;
        }

        tx.Add(new NftChain { Name = chain });
        if (_programmedChains!.Contains(chain))
        {
            tx.Flush(new NftChain { Name = chain });
        }
    }

    private ServiceChains NamesFor(ServicePortName spn, ServicePortInfo svc)
    {
        if (!_serviceChainNames.TryGetValue(spn, out var names))
        {
            var b = ChainNames.ServicePortBase(spn, svc.ProtocolLower);
            // Element comments are limited to 128 bytes (names are ASCII DNS labels, so characters = bytes).
            var display = spn.ToString();
            display = display.Length <= 128 ? display : string.Concat(display.AsSpan(0, 125), "...");
            names = new ServiceChains(
                ChainNames.ServicePrefix + b, ChainNames.LocalPrefix + b, ChainNames.ExternalPrefix + b, ChainNames.FirewallPrefix + b, display);
            _serviceChainNames[spn] = names;
        }

        return names;
    }

    private (string Chain, string Affinity) NamesFor(ServicePortName spn, ServicePortInfo svc, EndpointInfo ep)
    {
        if (!_endpointChainNames.TryGetValue((spn, ep.Key), out var names))
        {
            var b = ChainNames.EndpointBase(spn, svc.ProtocolLower, ep);
            names = (ChainNames.EndpointPrefix + b, ChainNames.AffinityPrefix + b);
            _endpointChainNames[(spn, ep.Key)] = names;
        }

        return names;
    }

    private void WriteServicePort(NftTransactionBuilder tx, ServicePortName spn, ServicePortInfo svc, EndpointInfo[]? eps, string? zone,
        bool skip, HashSet<string> activeChains, HashSet<string> activeAffinitySets, List<string> hairpinKeys)
    {
        var names = NamesFor(spn, svc);
        var protocol = svc.ProtocolLower;
        var port = svc.PortText;
        var clusterIp = svc.ClusterIPText;
        var c = EndpointCategorizer.Categorize(eps, svc, _options.NodeName, zone);

        foreach (var ep in c.AllReachable)
        {
            hairpinKeys.Add(string.Concat(ep.Ip, " . ", ep.Ip));
            if (svc.SessionAffinityClientIP)
            {
                // Only affinity needs a chain per endpoint (it records the client there); others DNAT in the service chain.
                var (chain, affinity) = NamesFor(spn, svc, ep);
                EnsureServiceChain(tx, chain, activeChains, skip);
                activeAffinitySets.Add(affinity);
            }
        }

        var usesClusterChain = c.Cluster.Count > 0 && svc.UsesClusterEndpoints;
        if (usesClusterChain)
        {
            EnsureServiceChain(tx, names.Cluster, activeChains, skip);
        }

        var usesLocalChain = c.Local.Count > 0 && svc.UsesLocalEndpoints;
        if (usesLocalChain)
        {
            EnsureServiceChain(tx, names.Local, activeChains, skip);
        }

        var internalChain = names.Cluster;
        var hasInternal = c.HasAnyEndpoints;
        if (svc.InternalPolicyLocal)
        {
            internalChain = names.Local;
            hasInternal = c.Local.Count > 0;
        }

        var externalPolicyChain = names.Cluster;
        var hasExternal = c.HasAnyEndpoints;
        if (svc.ExternalPolicyLocal)
        {
            externalPolicyChain = names.Local;
            hasExternal = c.Local.Count > 0;
        }

        // The external chain is needed even without usable external endpoints: it short-circuits local traffic.
        var usesExternalChain = c.HasAnyEndpoints && svc.ExternallyAccessible;
        if (usesExternalChain)
        {
            EnsureServiceChain(tx, names.External, activeChains, skip);
        }

        string? internalVerdict = null, externalVerdict = null;
        if (!c.HasAnyEndpoints)
        {
            internalVerdict = "goto " + RejectChain;
            externalVerdict = internalVerdict;
        }
        else
        {
            if (!hasInternal)
            {
                // iTP Local without local endpoints: ClusterIP traffic is dropped, external may still work.
                internalVerdict = "drop";
            }

            if (!hasExternal)
            {
                // eTP Local without local endpoints: outside traffic is dropped, pod/node traffic short-circuits.
                externalVerdict = "drop";
            }
        }

        _clusterIps.Ensure(tx, clusterIp, null, null);
        if (hasInternal)
        {
            _serviceIps.Ensure(tx, clusterIp, protocol, port, names.GotoFor(internalChain), null);
        }
        else
        {
            _noEndpointServices.Ensure(tx, clusterIp, protocol, port, internalVerdict, names.Display);
        }

        foreach (var ip in svc.ExternalIPs)
        {
            var text = ip.ToString();
            if (c.HasAnyEndpoints)
            {
                _serviceIps.Ensure(tx, text, protocol, port, names.GotoExternal, null);
            }

            if (!hasExternal)
            {
                _noEndpointServices.Ensure(tx, text, protocol, port, externalVerdict, names.Display);
            }
        }

        var usesFirewall = !svc.LoadBalancerVIPs.IsEmpty && !svc.LoadBalancerSourceRanges.IsEmpty;
        if (usesFirewall)
        {
            EnsureServiceChain(tx, names.Firewall, activeChains, skip);
        }

        foreach (var ip in svc.LoadBalancerVIPs)
        {
            var text = ip.ToString();
            if (c.HasAnyEndpoints)
            {
                _serviceIps.Ensure(tx, text, protocol, port, names.GotoExternal, null);
            }

            if (usesFirewall)
            {
                _firewallIps.Ensure(tx, text, protocol, port, names.GotoFirewall, null);
            }

            if (!hasExternal)
            {
                _noEndpointServices.Ensure(tx, text, protocol, port, externalVerdict, names.Display);
            }
        }

        if (svc.NodePort != 0)
        {
            var nodePort = svc.NodePortText;

            // NodePorts are not subject to loadBalancerSourceRanges (upstream behaviour).
            if (c.HasAnyEndpoints)
            {
                _serviceNodePorts.Ensure(tx, protocol, nodePort, names.GotoExternal, null);
            }

            if (!hasExternal)
            {
                _noEndpointNodePorts.Ensure(tx, protocol, nodePort, externalVerdict, names.Display);
            }
        }

        if (skip)
        {
            return;
        }

        if (hasInternal)
        {
            if (_options.MasqueradeAll)
            {
                AddRule(tx, internalChain, Sb().Append(_ipX).Append(" daddr ").Append(clusterIp).Append(' ').Append(protocol)
                    .Append(" dport ").Append(port).Append(" jump ").Append(MarkMasqChain));
            }
            else if (_ifNotLocal is not null)
            {
                // Off-cluster traffic to a ClusterIP (a static route to the service range) may bounce off-node: masquerade.
                AddRule(tx, internalChain, Sb().Append(_ipX).Append(" daddr ").Append(clusterIp).Append(' ').Append(protocol)
                    .Append(" dport ").Append(port).Append(' ').Append(_ifNotLocal).Append(" jump ").Append(MarkMasqChain));
            }
        }

        if (usesExternalChain)
        {
            if (!svc.ExternalPolicyLocal)
            {
                // Endpoints may be on other nodes: masquerade so replies come back through this node.
                tx.Add(new NftRule { Chain = names.External, Text = "jump " + MarkMasqChain });
            }
            else
            {
                if (_ifLocal is not null)
                {
                    // Pod → external IP behaves as if it went out to the load balancer and came back: Cluster policy.
                    tx.Add(new NftRule { Chain = names.External, Text = _ifLocal + " goto " + names.Cluster, Comment = "short-circuit pod traffic" });
                }

                // The node's own traffic has a local source (maybe the VIP itself): masquerade and use Cluster policy.
                tx.Add(new NftRule { Chain = names.External, Text = "fib saddr type local jump " + MarkMasqChain, Comment = "masquerade local traffic" });
                tx.Add(new NftRule { Chain = names.External, Text = "fib saddr type local goto " + names.Cluster, Comment = "short-circuit local traffic" });
            }

            if (hasExternal)
            {
                tx.Add(new NftRule { Chain = names.External, Text = "goto " + externalPolicyChain });
            }
        }

        if (usesFirewall)
        {
            var sb = Sb().Append(_ipX).Append(" saddr != { ");
            var allowFromNode = false;
            for (var i = 0; i < svc.LoadBalancerSourceRanges.Count; i++)
            {
                var cidr = svc.LoadBalancerSourceRanges[i];
                sb.Append(i == 0 ? "" : ", ").Append(cidr.ToString());
                allowFromNode |= _options.NodeIp is not null && cidr.Contains(_options.NodeIp);
            }

            if (allowFromNode)
            {
                // A node reaching a VIP that is also a local address gets the VIP as source: allow it.
                foreach (var ip in svc.LoadBalancerVIPs)
                {
                    sb.Append(", ").Append(ip.ToString());
                }
            }

            AddRule(tx, names.Firewall, sb.Append(" } drop"));
        }

        if (svc.SessionAffinityClientIP)
        {
            var timeout = TimeSpan.FromSeconds(svc.StickyMaxAgeSeconds);
            foreach (var ep in c.AllReachable)
            {
                // "dynamic" too: some kernels add it to a set updated from the packet path, and a later add without it would fail.
                tx.Add(new NftSet
                {
                    Name = NamesFor(spn, svc, ep).Affinity,
                    Type = _addrType,
                    Flags = [NftSetFlags.Dynamic, NftSetFlags.Timeout],
                    Timeout = timeout,
                });
            }
        }

        if (usesClusterChain)
        {
            WriteServiceToEndpointRules(tx, spn, svc, names.Cluster, c.Cluster);
        }

        if (usesLocalChain)
        {
            WriteServiceToEndpointRules(tx, spn, svc, names.Local, c.Local);
        }

        if (!svc.SessionAffinityClientIP)
        {
            return;
        }

        foreach (var ep in c.AllReachable)
        {
            // Hairpin is not here: the masquerading chain matches @hairpin-connections after DNAT.
            var (chain, affinity) = NamesFor(spn, svc, ep);
            AddRule(tx, chain, Sb().Append("update @").Append(affinity).Append(" { ").Append(_ipX).Append(" saddr }"));

            // nft 1.0.6 needs the L4 protocol before "dnat to ip:port".
            AddRule(tx, chain, Sb().Append("meta l4proto ").Append(protocol).Append(" dnat to ").Append(ep.Key));
        }
    }

    private void WriteServiceToEndpointRules(NftTransactionBuilder tx, ServicePortName spn, ServicePortInfo svc, string chain, IReadOnlyList<EndpointInfo> endpoints)
    {
        if (svc.SessionAffinityClientIP)
        {
            foreach (var ep in endpoints)
            {
                var (epChain, affinity) = NamesFor(spn, svc, ep);
                AddRule(tx, chain, Sb().Append(_ipX).Append(" saddr @").Append(affinity).Append(" goto ").Append(epChain));
            }
        }

        // Endpoint i is taken with probability 1/(N-i) once the earlier ones were passed over: uniform overall, as
        // iptables' statistic rules. Not upstream's "numgen random mod N vmap { … }": each such rule is an anonymous
        // set, and the kernel names every new anonymous set by scanning all sets of the table (quadratic: a full
        // sync of 5,000 Services took 41 s instead of 8 s), and nft 1.0.6 dumps every set before each transaction.
        // Without affinity each step DNATs directly (no endpoint chains: nft 1.0.6 lists every chain of the table
        // before each transaction, so 100,000 endpoint chains cost over a second per sync); nft 1.0.6 needs the L4
        // protocol before "dnat to ip:port".
        for (var i = 0; i < endpoints.Count; i++)
        {
            var sb = Sb();
            if (i < endpoints.Count - 1)
            {
                sb.Append("numgen random mod ").Append(endpoints.Count - i).Append(" 0 ");
            }

            if (svc.SessionAffinityClientIP)
            {
                sb.Append("goto ").Append(NamesFor(spn, svc, endpoints[i]).Chain);
            }
            else
            {
                sb.Append("meta l4proto ").Append(svc.ProtocolLower).Append(" dnat to ").Append(endpoints[i].Key);
            }

            AddRule(tx, chain, sb);
        }
    }

    private StringBuilder Sb() => _sb.Clear();

    private static void AddRule(NftTransactionBuilder tx, string chain, StringBuilder text) =>
        tx.Add(new NftRule { Chain = chain, Text = text.ToString() });

    /// <summary>What one Service has in the kernel: its chains, affinity sets and (storage index, key) elements.</summary>
    private sealed class ProgrammedService
    {
        public HashSet<string> Chains { get; } = new(StringComparer.Ordinal);

        public HashSet<string> AffinitySets { get; } = new(StringComparer.Ordinal);

        public List<(int Storage, string Key)> Elements { get; } = [];

        /// <summary>Elements of the shared hairpin set, one per reachable endpoint per Service port ("ip . ip").</summary>
        public List<string> HairpinKeys { get; } = [];
    }

    private sealed record ServiceChains(string Cluster, string Local, string External, string Firewall, string Display)
    {
        // Verdict strings built once per Service port, not per sync.
        public string GotoCluster { get; } = "goto " + Cluster;

        public string GotoLocal { get; } = "goto " + Local;

        public string GotoExternal { get; } = "goto " + External;

        public string GotoFirewall { get; } = "goto " + Firewall;

        public string GotoFor(string chain) => ReferenceEquals(chain, Local) ? GotoLocal : GotoCluster;
    }
}
