using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Cache;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Routing;

/// <summary>
/// Watches Nodes and keeps one namespace's Pod-CIDR routes current through <see cref="PodCidrRouteSyncer"/>:
/// every change wakes one sync over the whole cached Node list (a few routes; no per-event diffing needed).
/// Failed syncs are retried every second. Routes stay in place when this stops: the data path keeps working
/// while an agent restarts, and the next run's sync starts from what the kernel holds.
/// </summary>
internal sealed partial class PodCidrRouteController : IResourceEventHandler<V1Node>, IDisposable
{
    private readonly Reflector<V1Node> _reflector;
    private readonly PodCidrRouteSyncer _syncer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _dirty = new(0, 1);

    public PodCidrRouteController(Kubernetes client, ICommandRunner runner, string? netns, string? selfNode, ILoggerFactory loggers, TimeProvider time)
    {
        _time = time;
        _logger = loggers.CreateLogger<PodCidrRouteController>();
        _syncer = new PodCidrRouteSyncer(runner, netns, selfNode, _logger);
        _reflector = new Reflector<V1Node>(client, ResourceRequest.For<V1Node>(), this, logger: _logger, timeProvider: time);
    }

    /// <summary>The routes the last sync left in place.</summary>
    public IReadOnlyCollection<PodCidrRoute> Programmed => _syncer.Programmed;

    public async Task RunAsync(CancellationToken ct)
    {
        var reflector = _reflector.RunAsync(ct);
        try
        {
            await _reflector.WaitForSyncAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                if (await _syncer.SyncAsync(_reflector.Store.Snapshot(), ct).ConfigureAwait(false))
                {
                    await _dirty.WaitAsync(ct).ConfigureAwait(false);
                }
                else
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            try
            {
                await reflector.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public void Dispose() => _dirty.Dispose();

    public void OnAdd(V1Node obj) => Signal();

    public void OnUpdate(V1Node oldObj, V1Node newObj)
    {
        // Heartbeat-only status writes change neither CIDRs nor addresses.
        if (!SameRouting(oldObj, newObj))
        {
            Signal();
        }
    }

    public void OnDelete(V1Node obj) => Signal();

    private static bool SameRouting(V1Node a, V1Node b) =>
        (a.Spec?.PodCIDRs ?? []).SequenceEqual(b.Spec?.PodCIDRs ?? [])
        && (a.Status?.Addresses ?? []).Select(x => x.Type + "=" + x.Address).SequenceEqual((b.Status?.Addresses ?? []).Select(x => x.Type + "=" + x.Address))
        && (a.Metadata.DeletionTimestamp is null) == (b.Metadata.DeletionTimestamp is null);

    private void Signal()
    {
        if (_dirty.CurrentCount == 0)
        {
            try
            {
                _dirty.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another event signalled first: one sync covers both.
            }
        }
    }
}
