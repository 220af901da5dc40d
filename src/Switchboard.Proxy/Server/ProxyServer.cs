using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Cache;
using Switchboard.Client.Informers;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;
using Switchboard.Proxy.Sync;
using Switchboard.Proxy.Tracking;

namespace Switchboard.Proxy.Server;

/// <summary>
/// The node's Service proxy (upstream cmd/kube-proxy ProxyServer with the nftables MetaProxier): one
/// <see cref="NftablesProxier"/> and one <see cref="BoundedFrequencyRunner"/> per IP family of the node, fed by
/// Service, EndpointSlice, own-Node and ServiceCIDR informers. Register with <see cref="Register"/> before the
/// factory starts, then <see cref="RunAsync"/>. <see cref="FirstSync"/> completes after every family's first
/// successful sync (the agent reports readiness on it).
/// </summary>
internal sealed class ProxyServer : IDisposable
{
    private readonly ProxyServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<(NftablesProxier Proxier, BoundedFrequencyRunner Runner)> _families = [];
    private readonly List<HealthCheck.ServiceHealthServer> _healthServers = [];
    private readonly Lock _healthLock = new();
    private Task _healthTail = Task.CompletedTask;
    private readonly ServiceCidrTracker _serviceCidrs = new();
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<IDisposable> _registrations = [];
    private int _pendingFirstSyncs;
    private SharedInformer<V1Service>? _services;
    private SharedInformer<V1EndpointSlice>? _slices;

    public ProxyServer(ProxyServerOptions options, Func<IpFamily, INftables> nftables, TimeProvider time, ILoggerFactory? loggers = null,
        Func<IpFamily, Netfilter.Conntrack.IConntrack>? conntrack = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Health = new HealthCheck.ProxierHealth(time, 2 * options.SyncPeriod);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(nftables);
        _options = options;
        _time = time;
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<ProxyServer>();
        foreach (var family in new[] { IpFamily.IPv4, IpFamily.IPv6 })
        {
            var nodeIp = options.NodeIps.FirstOrDefault(ip => family.Matches(ip));
            if (nodeIp is null)
            {
                continue;
            }

            var proxier = new NftablesProxier(new NftablesProxierOptions
            {
                Family = family,
                NodeName = options.NodeName,
                NodeIp = nodeIp,
                TableName = options.TableName,
                ClusterCidrs = [.. options.ClusterCidrs.Where(c => family.Matches(c.BaseAddress))],
                NodePortAddresses = [.. (options.NodePortAddresses ?? options.NodeIps).Where(ip => family.Matches(ip))],
                MasqueradeAll = options.MasqueradeAll,
                MinSyncPeriod = options.MinSyncPeriod,
                SyncPeriod = options.SyncPeriod,
            }, nftables(family), time, loggers.CreateLogger<NftablesProxier>(),
                conntrack is null ? null : new Conntrack.ConntrackCleaner(conntrack(family), loggers.CreateLogger<Conntrack.ConntrackCleaner>()));

            // Burst 2 and a 1 h backstop as upstream's nftables proxier; retries come through RetryAfter.
            var runner = new BoundedFrequencyRunner(proxier.SyncAsync, options.MinSyncPeriod, TimeSpan.FromHours(1), 2, time);
            var f = family;
            proxier.RequestSync = () =>
            {
                Health.QueuedUpdate(f);
                runner.Run();
            };
            proxier.RequestSyncAfter = runner.RetryAfter;
            _families.Add((proxier, runner));
        }

        if (_families.Count == 0)
        {
            throw new ArgumentException("NodeIps has no IPv4 or IPv6 address: nothing to proxy", nameof(options));
        }

        _pendingFirstSyncs = _families.Count;
        foreach (var (proxier, _) in _families)
        {
            var seen = 0;
            HealthCheck.ServiceHealthServer? health = null;
            if (options.ServeHealthChecks)
            {
                // Upstream: one server per family, on that family's NodePort addresses.
                health = new HealthCheck.ServiceHealthServer(
                    [.. (options.NodePortAddresses ?? options.NodeIps).Where(ip => proxier.Family.Matches(ip))], Health.IsHealthy, loggers.CreateLogger<HealthCheck.ServiceHealthServer>());
                _healthServers.Add(health);
            }

            proxier.Synced = outcome =>
            {
                Health.Updated(proxier.Family);
                if (health is not null)
                {
                    lock (_healthLock)
                    {
                        // Serialised off the sync loop: opening/closing listeners must not delay the next sync.
                        _healthTail = _healthTail.ContinueWith(async _ =>
                        {
                            await health.SyncServicesAsync(outcome.HealthCheckNodePorts).ConfigureAwait(false);
                            health.SyncEndpoints(outcome.LocalReadyEndpoints);
                        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                    }
                }

                if (Interlocked.Exchange(ref seen, 1) == 0 && Interlocked.Decrement(ref _pendingFirstSyncs) == 0)
                {
                    _firstSync.TrySetResult();
                }

                Synced?.Invoke(proxier.Family, outcome);
            };
        }
    }

    /// <summary>The proxy's own health, for the agent's <c>/healthz</c> (10256) and the healthCheckNodePort answers.</summary>
    public HealthCheck.ProxierHealth Health { get; }

    /// <summary>Completes after the first successful sync of every family.</summary>
    public Task FirstSync => _firstSync.Task;

    /// <summary>After each successful sync (health-check servers, conntrack clean-up, metrics hook here).</summary>
    public Action<IpFamily, SyncOutcome>? Synced { get; set; }

    internal IReadOnlyList<NftablesProxier> Proxiers => [.. _families.Select(f => f.Proxier)];

    /// <summary>Asks the factory for the informers the proxy needs and registers the handlers.</summary>
    public void Register(SharedInformerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);

        // kube-proxy filters service-proxy-name and headless with label selectors; the trackers filter instead, so an
        // object that gains the label is seen as an update and removed (a selector watch may not report it leaving).
        _services = factory.Informer<V1Service>();
        _slices = factory.Informer<V1EndpointSlice>();
        var nodes = factory.Informer<V1Node>(ResourceRequest.For<V1Node>() with { FieldSelector = "metadata.name=" + _options.NodeName });
        var cidrs = factory.Informer<V1ServiceCIDR>();

        _registrations.Add(_services.AddEventHandler(new ResourceEventHandler<V1Service>(
            s => Each(p => p.OnServiceAdd(s)),
            (o, n) => Each(p => p.OnServiceUpdate(o, n)),
            s => Each(p => p.OnServiceDelete(s)))));
        _registrations.Add(_slices.AddEventHandler(new ResourceEventHandler<V1EndpointSlice>(
            s => Each(p => p.OnEndpointSliceAdd(s)),
            (_, n) => Each(p => p.OnEndpointSliceUpdate(n)),
            s => Each(p => p.OnEndpointSliceDelete(s)))));
        _registrations.Add(nodes.AddEventHandler(new ResourceEventHandler<V1Node>(
            n => OnNode(n),
            (_, n) => OnNode(n),
            n => OnNode(null))));
        _registrations.Add(cidrs.AddEventHandler(new ResourceEventHandler<V1ServiceCIDR>(
            c => OnServiceCidr(null, c),
            (o, n) => OnServiceCidr(o, n),
            c => OnServiceCidr(c, null))));
    }

    /// <summary>Runs the sync loops until cancelled; nothing is written before Services and EndpointSlices have synced.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_services is null || _slices is null)
        {
            throw new InvalidOperationException("Register the proxy with an informer factory before running it");
        }

        var loops = _families.Select(f => f.Runner.RunAsync(cancellationToken)).ToList();
        await _services.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
        Each(p => p.OnServicesSynced());
        await _slices.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
        Each(p => p.OnEndpointSlicesSynced());
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
    }

    /// <summary>Removes the proxy's tables (agent shutdown in <c>up</c>, or switching proxy mode).</summary>
    public async Task CleanupAsync(CancellationToken cancellationToken)
    {
        foreach (var (proxier, _) in _families)
        {
            try
            {
                await proxier.CleanupAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NftablesException ex)
            {
                ProxyServerLog.CleanupFailed(_logger, ex, proxier.Family.ToString());
            }
        }
    }

    public void Dispose()
    {
        foreach (var h in _healthServers)
        {
            h.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (var r in _registrations)
        {
            r.Dispose();
        }

        foreach (var (_, runner) in _families)
        {
            runner.Dispose();
        }
    }

    private void Each(Action<NftablesProxier> action)
    {
        foreach (var (proxier, _) in _families)
        {
            action(proxier);
        }
    }

    private void OnNode(V1Node? node)
    {
        if (node is not null && node.Metadata?.Name != _options.NodeName)
        {
            return;
        }

        var labels = node?.Metadata?.Labels is { } l ? new Dictionary<string, string>(l) : [];
        Each(p => p.OnNodeLabels(labels));
    }

    private void OnServiceCidr(V1ServiceCIDR? previous, V1ServiceCIDR? current)
    {
        if (_serviceCidrs.Update(previous, current))
        {
            Each(p => p.OnServiceCidrsChanged(_serviceCidrs.Snapshot(p.Family)));
        }
    }
}

internal static partial class ProxyServerLog
{
    [LoggerMessage(1, LogLevel.Warning, "Could not remove the proxy's nftables table ({Family})")]
    public static partial void CleanupFailed(ILogger logger, Exception exception, string family);
}
