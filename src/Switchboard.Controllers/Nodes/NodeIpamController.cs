using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client;
using Switchboard.Client.Cache;

namespace Switchboard.Controllers.Nodes;

/// <summary>
/// kube-controller-manager's node IPAM controller (range allocator): a Node registered without spec.podCIDRs gets
/// one block per family of --cluster-cidr. Allocation happens only after the Node cache synced, so blocks held
/// by existing Nodes are known; one pass at a time, so two Nodes never get the same block from this process.
/// </summary>
internal sealed partial class NodeIpamController : IResourceEventHandler<V1Node>, IDisposable
{
    private readonly Kubernetes _client;
    private readonly PodCidrAllocator _allocator;
    private readonly Reflector<V1Node> _reflector;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _dirty = new(0, 1);

    // Assignments patched but not yet seen in the cache, by node UID (only the loop touches it). The cache lags the
    // patch: without this a pass on a stale snapshot would hand the same CIDR to a second node, or patch the first
    // again with another one (422 "may not change podCIDR"), as upstream's range allocator avoids by marking the
    // CIDR taken at allocation.
    private readonly Dictionary<string, List<string>> _pending = new(StringComparer.Ordinal);

    public NodeIpamController(Kubernetes client, string clusterCidr, ILoggerFactory loggers, TimeProvider time)
    {
        _client = client;
        _time = time;
        _allocator = new PodCidrAllocator(clusterCidr);
        _logger = loggers.CreateLogger<NodeIpamController>();
        _reflector = new Reflector<V1Node>(client, ResourceRequest.For<V1Node>(), this, logger: _logger, timeProvider: time);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var reflector = _reflector.RunAsync(ct);
        try
        {
            await _reflector.WaitForSyncAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                var retry = false;
                try
                {
                    retry = !await PassAsync(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException or JsonException)
                {
                    Log.Failed(_logger, e.Message);
                    retry = true;
                }
                if (retry)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
                }
                else
                {
                    await _dirty.WaitAsync(ct).ConfigureAwait(false);
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

    public void OnAdd(V1Node obj) => Signal(obj);

    public void OnUpdate(V1Node oldObj, V1Node newObj) => Signal(newObj);

    public void OnDelete(V1Node obj)
    {
    }

    private void Signal(V1Node node)
    {
        if (node.Spec?.PodCIDRs is not { Count: > 0 } && _dirty.CurrentCount == 0)
        {
            try
            {
                _dirty.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another event signalled first: one pass covers both.
            }
        }
    }

    /// <summary>Allocates for every Node lacking CIDRs; false when something must be retried.</summary>
    private async Task<bool> PassAsync(CancellationToken ct)
    {
        var nodes = _reflector.Store.Snapshot();
        var waiting = nodes.Where(n => n.Spec?.PodCIDRs is not { Count: > 0 }).Select(n => n.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
        foreach (var uid in _pending.Keys.Where(u => !waiting.Contains(u)).ToList())
        {
            _pending.Remove(uid);
        }
        var used = nodes.SelectMany(n => n.Spec?.PodCIDRs ?? []).Concat(_pending.Values.SelectMany(c => c)).Select(PodCidrAllocator.Canonical).ToList();
        var ok = true;
        foreach (var node in nodes.Where(n => n.Spec?.PodCIDRs is not { Count: > 0 } && !_pending.ContainsKey(n.Metadata.Uid)).OrderBy(n => n.Metadata.Name, StringComparer.Ordinal))
        {
            var cidrs = _allocator.Allocate(used);
            if (cidrs is null)
            {
                Log.Exhausted(_logger, node.Metadata.Name);
                ok = false;
                continue;
            }
            // A merge patch of spec only, guarded by the UID we looked at: it cannot clobber the agent's status writes,
            // and a node deleted and recreated under the same name meanwhile is left to the next pass.
            var patch = JsonSerializer.Serialize(new { metadata = new { uid = node.Metadata.Uid }, spec = new { podCIDR = cidrs[0], podCIDRs = cidrs } });
            try
            {
                await _client.CoreV1.PatchNodeAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), node.Metadata.Name, cancellationToken: ct).ConfigureAwait(false);
                used.AddRange(cidrs);
                _pending[node.Metadata.Uid] = [.. cidrs];
                Log.Assigned(_logger, node.Metadata.Name, cidrs);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Conflict)
            {
                // Gone, or recreated with another UID: the cache will show it.
            }
        }
        return ok;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "assigned pod CIDRs {Cidrs} to node {Node}")]
        public static partial void Assigned(ILogger logger, string node, IReadOnlyList<string> cidrs);

        [LoggerMessage(Level = LogLevel.Warning, Message = "no free pod CIDR left for node {Node}")]
        public static partial void Exhausted(ILogger logger, string node);

        [LoggerMessage(Level = LogLevel.Warning, Message = "pod CIDR assignment failed, retrying: {Error}")]
        public static partial void Failed(ILogger logger, string error);
    }
}
