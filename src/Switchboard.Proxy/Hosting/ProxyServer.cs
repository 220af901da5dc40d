using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Cache;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Health;
using Switchboard.Proxy.Hosting.Http;
using Switchboard.Proxy.Metrics;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;
using Switchboard.Proxy.Sync;
using Switchboard.Proxy.Tracking;

namespace Switchboard.Proxy.Hosting;

/// <summary>
/// The node's service proxy, as kube-proxy's nftables mode runs it (cmd/kube-proxy/app/server.go): informers for
/// Services, EndpointSlices, the own Node and ServiceCIDRs feed one <see cref="NftablesProxier"/> per family, each
/// driven by a <see cref="BoundedFrequencyRunner"/>; after every successful sync it updates health, metrics and the
/// healthCheckNodePort servers and cleans stale UDP conntrack entries. Stopping leaves the rules in place (a
/// restart keeps established connections; the next start does a full resync over them).
/// </summary>
internal sealed partial class ProxyServer : IAsyncDisposable
{
    private static readonly TimeSpan ListenRetry = TimeSpan.FromSeconds(5);

    /// <summary>Full syncs at least this big are followed by an aggressive (memory-returning) collection.</summary>
    private const int LargeFullSyncOperations = 50_000;

    private readonly ProxyServerOptions _options;
    private readonly IConntrack _conntrack;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SharedInformerFactory _informers;
    private readonly bool _ownsInformers;
    private readonly SharedInformer<V1Service> _services;
    private readonly SharedInformer<V1EndpointSlice> _slices;
    private readonly SharedInformer<V1Node> _nodes;
    private readonly SharedInformer<V1ServiceCIDR> _serviceCidrs;
    private readonly ServiceCidrTracker _cidrTracker = new();
    private readonly FamilyProxy[] _families;
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<IDisposable> _registrations = [];
    private readonly Lock _healthLock = new();
    private TinyHttpServer? _healthz;
    private TinyHttpServer? _metrics;
    private readonly string _familyNames;
    private int _started;

    /// <param name="client">API client (kubeconfig of the agent).</param>
    /// <param name="nftables">One backend per family to run (IPv4 and/or IPv6): <c>new NftablesRunner()</c> in the agent.</param>
    /// <param name="conntrack">Conntrack access: <c>new ConntrackTool()</c> in the agent.</param>
    /// <param name="informers">A factory to share with the rest of the agent; null makes a private one.</param>
    public ProxyServer(
        Kubernetes client,
        ProxyServerOptions options,
        IReadOnlyDictionary<IpFamily, INftables> nftables,
        IConntrack conntrack,
        TimeProvider? time = null,
        ILoggerFactory? loggers = null,
        EventRecorder? events = null,
        SharedInformerFactory? informers = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(nftables);
        ArgumentNullException.ThrowIfNull(conntrack);
        if (string.IsNullOrWhiteSpace(options.NodeName))
        {
            throw new ArgumentException("NodeName is required", nameof(options));
        }

        if (nftables.Count == 0)
        {
            throw new ArgumentException("at least one IP family (nftables backend) is required", nameof(nftables));
        }

        if (options.MinSyncPeriod < TimeSpan.Zero || options.SyncPeriod <= TimeSpan.Zero || options.MaxSyncPeriod < options.MinSyncPeriod)
        {
            throw new ArgumentException($"bad sync periods: min {options.MinSyncPeriod}, sync {options.SyncPeriod}, max {options.MaxSyncPeriod}", nameof(options));
        }

        _options = options;
        _conntrack = conntrack;
        _time = time ?? TimeProvider.System;
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<ProxyServer>();
        _ownsInformers = informers is null;
        _informers = informers ?? new SharedInformerFactory(client, loggers, _time);

        Metrics = new ProxyMetrics(nftables.Keys);
        Health = new ProxyHealthState(_time, options.HealthTimeout ?? (2 * options.SyncPeriod));
        ServiceHealth = new ServiceHealthServer(
            options.HealthCheckNodePortAddresses ?? options.NodePortAddresses ?? [],
            () => Health.IsHealthy,
            _time,
            options.NodeName,
            loggers.CreateLogger<ServiceHealthServer>(),
            events);

        var proxierLogger = loggers.CreateLogger<NftablesProxier>();
        _families = [.. nftables.OrderBy(kv => kv.Key).Select(kv => CreateFamily(kv.Key, kv.Value, proxierLogger))];
        _familyNames = string.Join(",", _families.Select(f => f.Family));
        Metrics.ServiceChangesPending = () => _families[0].Proxier.ServiceChanges.PendingCount;

        // Upstream filters service-proxy-name and headless with label selectors; here the trackers filter, so an
        // object that gains the label arrives as an update and is removed (a selector watch may not report it leaving).
        _services = _informers.Informer<V1Service>();
        _slices = _informers.Informer<V1EndpointSlice>();
        _slices.AddIndex(Indexers.NamespaceLabel, Indexers.ByNamespaceLabel);
        _nodes = _informers.Informer<V1Node>(ResourceRequest.For<V1Node>() with { FieldSelector = "metadata.name=" + options.NodeName });
        _serviceCidrs = _informers.Informer<V1ServiceCIDR>();
        if (_ownsInformers)
        {
            // Private informers: nobody else reads these caches, so keep only what the proxy reads (agent RSS).
            _services.SetTransform(ObjectTrimming.ServiceTransform());
            _slices.SetTransform(ObjectTrimming.EndpointSliceTransform());
        }
    }

    /// <summary>Completes when every family has synced successfully once (the agent's input to <c>up</c>'s ready line).</summary>
    public Task FirstSyncCompleted => _firstSync.Task;

    public ProxyMetrics Metrics { get; }

    public ProxyHealthState Health { get; }

    public ServiceHealthServer ServiceHealth { get; }

    /// <summary>Where /healthz and /livez are served, once bound.</summary>
    public IPEndPoint? HealthzEndPoint => Volatile.Read(ref _healthz)?.LocalEndPoint;

    /// <summary>Where /metrics is served, once bound.</summary>
    public IPEndPoint? MetricsEndPoint => Volatile.Read(ref _metrics)?.LocalEndPoint;

    /// <summary>The own-Node informer has listed (its labels reached the proxiers). For tests.</summary>
    internal bool NodeInformerSynced => _nodes.HasSynced;

    internal IReadOnlyList<NftablesProxier> Proxiers => [.. _families.Select(f => f.Proxier)];

    /// <summary>Runs until cancelled. Informer and nft errors are retried, never thrown; the rules stay on return.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("ProxyServer.RunAsync can only be called once");
        }

        Register();
        var tasks = new List<Task>
        {
            ListenAsync("healthz", _options.HealthzBindAddress, ep => HealthzServer.Start(ep, Health, Metrics, _logger), s => _healthz = s, cancellationToken),
            ListenAsync("metrics", _options.MetricsBindAddress, ep => MetricsServer.Start(ep, Metrics, _logger), s => _metrics = s, cancellationToken),
        };

        foreach (var f in _families)
        {
            // As upstream's SyncLoop: healthy from the start, so a first sync that never succeeds shows as overdue.
            Health.Updated(f.Family);
            tasks.Add(RunLoopAsync(f, cancellationToken));
        }

        _informers.Start(cancellationToken);
        tasks.Add(SignalSyncedAsync(_services, p => p.OnServicesSynced(), cancellationToken));
        tasks.Add(SignalSyncedAsync(_slices, p => p.OnEndpointSlicesSynced(), cancellationToken));
        Log.Started(_logger, _options.NodeName, _familyNames);

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            // Whoever waits for the first sync must not hang on a proxy that stopped before it.
            _firstSync.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : new CancellationToken(true));
            Log.Stopped(_logger);
        }
    }

    /// <summary>Removes the proxy's tables (agent shutdown in <c>up</c>, or switching proxy mode); not done on a normal stop.</summary>
    public async Task CleanupAsync(CancellationToken cancellationToken)
    {
        foreach (var f in _families)
        {
            try
            {
                await f.Proxier.CleanupAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NftablesException ex)
            {
                Log.CleanupFailed(_logger, ex, f.Family);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }

        if (_ownsInformers)
        {
            _informers.Dispose();
        }

        foreach (var f in _families)
        {
            f.Runner.Dispose();
        }

        await ServiceHealth.DisposeAsync().ConfigureAwait(false);
        TinyHttpServer? healthz, metrics;
        lock (_healthLock)
        {
            healthz = _healthz;
            metrics = _metrics;
        }

        if (healthz is not null)
        {
            await healthz.DisposeAsync().ConfigureAwait(false);
        }

        if (metrics is not null)
        {
            await metrics.DisposeAsync().ConfigureAwait(false);
        }
    }

    private FamilyProxy CreateFamily(IpFamily family, INftables nft, ILogger proxierLogger)
    {
        var proxierOptions = new NftablesProxierOptions
        {
            Family = family,
            NodeName = _options.NodeName,
            TableName = _options.TableName,
            NodeIp = _options.NodeIps.FirstOrDefault(ip => family.Matches(ip)),
            ClusterCidrs = [.. _options.ClusterCidrs.Where(c => family.Matches(c.BaseAddress))],
            // Upstream nftables default ("primary"): NodePorts on the node's primary IPs only.
            NodePortAddresses = [.. (_options.NodePortAddresses ?? _options.NodeIps).Where(ip => family.Matches(ip))],
            MasqueradeAll = _options.MasqueradeAll,
            MasqueradeBit = _options.MasqueradeBit,
            MinSyncPeriod = _options.MinSyncPeriod,
            SyncPeriod = _options.SyncPeriod,
        };
        var proxier = new NftablesProxier(proxierOptions, nft, _time, proxierLogger);
        var f = new FamilyProxy(family, proxier, Metrics.For(family));
        f.Runner = new BoundedFrequencyRunner(ct => SyncFamilyAsync(f, ct), _options.MinSyncPeriod, _options.MaxSyncPeriod, 2, _time);
        proxier.RequestSync = () =>
        {
            // Upstream's Sync(): the health server learns an update is queued, then the runner is poked.
            Health.QueuedUpdate(family);
            f.Metrics.LastQueuedTimestamp.Set(_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            f.Runner.Run();
        };
        proxier.RequestSyncAfter = f.Runner.RetryAfter;
        proxier.Synced = outcome => f.LastOutcome = outcome;
        return f;
    }

    private void Register()
    {
        _registrations.Add(_services.AddEventHandler(new ResourceEventHandler<V1Service>(
            svc => OnService(null, svc),
            (old, svc) => OnService(old, svc),
            svc => OnService(svc, null))));
        _registrations.Add(_slices.AddEventHandler(new ResourceEventHandler<V1EndpointSlice>(
            s => OnSlice(s, remove: false),
            (_, s) => OnSlice(s, remove: false),
            s => OnSlice(s, remove: true))));
        _registrations.Add(_nodes.AddEventHandler(new ResourceEventHandler<V1Node>(
            OnNode,
            (_, n) => OnNode(n),
            OnNodeDeleted)));
        _registrations.Add(_serviceCidrs.AddEventHandler(new ResourceEventHandler<V1ServiceCIDR>(
            c => OnServiceCidr(null, c),
            OnServiceCidr,
            c => OnServiceCidr(c, null))));
    }

    private void OnService(V1Service? previous, V1Service? current)
    {
        Metrics.ServiceChangesTotal.Inc();
        foreach (var f in _families)
        {
            f.Proxier.OnServiceUpdate(previous, current);
        }
    }

    private void OnSlice(V1EndpointSlice slice, bool remove)
    {
        Metrics.EndpointChangesTotal.Inc();
        foreach (var f in _families)
        {
            f.Proxier.OnEndpointSliceUpdate(slice, remove);
        }
    }

    private void OnNode(V1Node node)
    {
        if (node.Metadata?.Name != _options.NodeName)
        {
            return;
        }

        Health.SyncNode(node);
        var labels = node.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
        foreach (var f in _families)
        {
            // The proxier compares labels and forces a full resync only when they changed (topology).
            f.Proxier.OnNodeLabels(labels);
        }
    }

    private void OnNodeDeleted(V1Node node)
    {
        if (node.Metadata?.Name != _options.NodeName)
        {
            return;
        }

        Health.SyncNode(null);
        foreach (var f in _families)
        {
            f.Proxier.OnNodeLabels(null);
        }
    }

    private void OnServiceCidr(V1ServiceCIDR? previous, V1ServiceCIDR? current)
    {
        if (!_cidrTracker.Update(previous, current))
        {
            return;
        }

        foreach (var f in _families)
        {
            f.Proxier.OnServiceCidrsChanged(_cidrTracker.Snapshot(f.Family));
        }
    }

    private async Task SignalSyncedAsync<T>(SharedInformer<T> informer, Action<NftablesProxier> synced, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            await informer.WaitForSyncAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        foreach (var f in _families)
        {
            synced(f.Proxier);
        }
    }

    private static async Task RunLoopAsync(FamilyProxy f, CancellationToken ct)
    {
        try
        {
            await f.Runner.RunAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task SyncFamilyAsync(FamilyProxy f, CancellationToken ct)
    {
        if (!f.Proxier.IsInitialized)
        {
            // Nothing is written before both informers have synced; not a failure.
            return;
        }

        f.LastOutcome = null;
        var start = _time.GetTimestamp();
        try
        {
            await f.Proxier.SyncAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // nft errors are handled inside the proxier; anything else (nft missing, a bug) must not end the loop.
            Log.SyncCrashed(_logger, ex, f.Family, _options.SyncPeriod);
            f.LastOutcome = null;
            f.Runner.RetryAfter(_options.SyncPeriod);
        }

        var seconds = _time.GetElapsedTime(start).TotalSeconds;
        f.Metrics.SyncDuration.Observe(seconds);

        // The outcome is read in a separate method so nothing in this (async) frame keeps it: a full sync's
        // transaction is hundreds of MB at 10,000 Services and must be garbage before the collection below.
        var result = Record(f, seconds);
        if (result == SyncRecord.Failed)
        {
            f.Metrics.SyncFailures.Inc();
            return;
        }

        await CleanConntrackAsync(f, ct).ConfigureAwait(false);
        if (result == SyncRecord.LargeFullSync)
        {
            // A fresh frame: this one may still hold the sync's awaiter (when the conntrack step completed
            // synchronously), whose task keeps the sync's locals, the whole transaction among them, alive.
            await Task.Yield();

            // A big full sync (start, failure, zone change: rare) leaves hundreds of MB of committed but free GC
            // memory behind; give it back to the node instead of keeping it for the next one.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        f.Synced = true;
        if (_families.All(x => x.Synced))
        {
            if (_firstSync.TrySetResult())
            {
                Log.FirstSync(_logger);
            }
        }
    }

    private enum SyncRecord
    {
        Failed,
        Synced,
        LargeFullSync,
    }

    /// <summary>Takes the last outcome off the family and records it (metrics, health, healthCheckNodePorts).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private SyncRecord Record(FamilyProxy f, double seconds)
    {
        var outcome = f.LastOutcome;
        f.LastOutcome = null;
        if (outcome is null)
        {
            return SyncRecord.Failed;
        }

        (outcome.FullSync ? f.Metrics.FullSyncDuration : f.Metrics.PartialSyncDuration).Observe(seconds);
        var now = _time.GetUtcNow();
        f.Metrics.LastSyncTimestamp.Set(now.ToUnixTimeMilliseconds() / 1000.0);
        foreach (var (_, times) in outcome.Endpoints.LastChangeTriggerTimes)
        {
            foreach (var t in times)
            {
                // From the endpoints controller's trigger stamp to the end of the sync that programmed it.
                var latency = (now - t).TotalSeconds;
                if (latency >= 0)
                {
                    f.Metrics.NetworkProgrammingDuration.Observe(latency);
                }
            }
        }

        Health.Updated(f.Family);
        f.HealthCheckNodePorts = outcome.HealthCheckNodePorts;
        f.LocalReadyEndpoints = outcome.LocalReadyEndpoints;
        SyncServiceHealth();
        return outcome.FullSync && outcome.Transaction.Count >= LargeFullSyncOperations ? SyncRecord.LargeFullSync : SyncRecord.Synced;
    }

    private void SyncServiceHealth()
    {
        // One set of listeners for all families: union of ports, the larger local endpoint count.
        var ports = new Dictionary<ServiceName, int>();
        var endpoints = new Dictionary<ServiceName, int>();
        foreach (var f in _families)
        {
            foreach (var (svc, port) in f.HealthCheckNodePorts)
            {
                ports.TryAdd(svc, port);
            }

            foreach (var (svc, n) in f.LocalReadyEndpoints)
            {
                endpoints[svc] = Math.Max(n, endpoints.GetValueOrDefault(svc));
            }
        }

        ServiceHealth.SyncEndpoints(endpoints);
        ServiceHealth.SyncServices(ports);
    }

    private async Task CleanConntrackAsync(FamilyProxy f, CancellationToken ct)
    {
        var start = _time.GetTimestamp();
        try
        {
            var deleted = await ConntrackReconciler.ReconcileAsync(_conntrack, f.Family, UdpServicePorts(f.Family), ct).ConfigureAwait(false);
            f.Metrics.ConntrackDeletedEntries.Inc(deleted);
            if (deleted > 0)
            {
                Log.ConntrackCleaned(_logger, f.Family, deleted);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Upstream logs and moves on; the next sync reconciles again.
            Log.ConntrackFailed(_logger, ex, f.Family);
        }

        f.Metrics.ConntrackReconcileDuration.Observe(_time.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>
    /// UDP Service ports of a family with their serving endpoint IPs, computed from the informer caches with the
    /// core's own conversions (the proxier keeps its maps private; see Hosting/README.md).
    /// </summary>
    internal List<UdpServicePort> UdpServicePorts(IpFamily family)
    {
        var result = new List<UdpServicePort>();
        foreach (var svc in _services.Lister.List())
        {
            if (svc.Spec?.Ports is not { } specPorts || !specPorts.Any(p => p.Protocol == "UDP"))
            {
                continue;
            }

            var ports = ServiceConversion.ToServicePorts(svc, family);
            if (ports.Count == 0)
            {
                continue;
            }

            var ns = svc.Metadata?.NamespaceProperty ?? "default";
            var tracker = new EndpointsChangeTracker(_options.NodeName, family, _time);
            foreach (var slice in _slices.Lister.List(ns, new Dictionary<string, string> { [ProxyLabels.ServiceName] = svc.Metadata?.Name ?? "" }))
            {
                tracker.EndpointSliceUpdate(slice, remove: false);
            }

            var endpoints = new EndpointsMap();
            endpoints.Apply(tracker);
            foreach (var (spn, info) in ports)
            {
                if (info.Protocol != "UDP")
                {
                    continue;
                }

                var serving = new HashSet<string>(StringComparer.Ordinal);
                if (endpoints.TryGetValue(spn, out var eps))
                {
                    foreach (var ep in eps)
                    {
                        if (ep.Serving)
                        {
                            serving.Add(ep.Ip);
                        }
                    }
                }

                result.Add(new UdpServicePort(info, serving));
            }
        }

        return result;
    }

    private async Task ListenAsync(string what, IPEndPoint? endpoint, Func<IPEndPoint, TinyHttpServer> start, Action<TinyHttpServer> store, CancellationToken ct)
    {
        if (endpoint is null)
        {
            return;
        }

        while (!ct.IsCancellationRequested)
        {
            try
            {
                var server = start(endpoint);
                lock (_healthLock)
                {
                    store(server);
                }

                Log.Listening(_logger, what, server.LocalEndPoint);
                return;
            }
            catch (SocketException ex)
            {
                // As kube-proxy: a listener that cannot bind is retried, the proxy keeps running.
                Log.ListenFailed(_logger, ex, what, endpoint);
            }

            try
            {
                await Task.Delay(ListenRetry, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private sealed class FamilyProxy(IpFamily family, NftablesProxier proxier, FamilyMetrics metrics)
    {
        public IpFamily Family { get; } = family;

        public NftablesProxier Proxier { get; } = proxier;

        public FamilyMetrics Metrics { get; } = metrics;

        public BoundedFrequencyRunner Runner { get; set; } = null!;

        // Written by the proxier's Synced callback on the runner loop, read right after on the same loop.
        public SyncOutcome? LastOutcome { get; set; }

        public IReadOnlyDictionary<ServiceName, int> HealthCheckNodePorts { get; set; } = new Dictionary<ServiceName, int>();

        public IReadOnlyDictionary<ServiceName, int> LocalReadyEndpoints { get; set; } = new Dictionary<ServiceName, int>();

        public volatile bool Synced;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Service proxy starting on node {Node} (families {Families}, nftables)")]
        public static partial void Started(ILogger logger, string node, string families);

        [LoggerMessage(Level = LogLevel.Information, Message = "Service proxy stopped; rules left in place")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(Level = LogLevel.Information, Message = "Service proxy: first sync completed")]
        public static partial void FirstSync(ILogger logger);

        [LoggerMessage(Level = LogLevel.Information, Message = "Serving {What} on {Endpoint}")]
        public static partial void Listening(ILogger logger, string what, IPEndPoint endpoint);

        [LoggerMessage(Level = LogLevel.Error, Message = "Cannot listen for {What} on {Endpoint}; retrying in 5 s")]
        public static partial void ListenFailed(ILogger logger, Exception exception, string what, IPEndPoint endpoint);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Deleted {Count} stale UDP conntrack entries ({Family})")]
        public static partial void ConntrackCleaned(ILogger logger, IpFamily family, int count);

        [LoggerMessage(Level = LogLevel.Error, Message = "Sync of {Family} failed unexpectedly; retrying in {Retry}")]
        public static partial void SyncCrashed(ILogger logger, Exception exception, IpFamily family, TimeSpan retry);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove the proxy's nftables table ({Family})")]
        public static partial void CleanupFailed(ILogger logger, Exception exception, IpFamily family);

        [LoggerMessage(Level = LogLevel.Error, Message = "UDP conntrack clean-up failed ({Family})")]
        public static partial void ConntrackFailed(ILogger logger, Exception exception, IpFamily family);
    }
}
