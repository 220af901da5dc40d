using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Switchboard.Controllers.Nodes;

/// <summary>
/// The health half of upstream's node lifecycle controller: every 5 s (nodeMonitorPeriod) it looks at each
/// Node's Lease and Ready heartbeat; when neither changed for 40 s (nodeMonitorGracePeriod) it sets the Node's
/// conditions to Unknown ("Kubelet stopped posting node status."). Like upstream it times the heartbeat by when
/// it observed the change, not by the timestamps in the objects, so clock skew between machines does not matter.
/// Not yet: the unreachable taints and marking the Node's Pods not Ready (no Pods exist yet).
/// </summary>
internal sealed partial class NodeLifecycleController(Kubernetes client, ILoggerFactory loggers, TimeProvider time)
{
    public static readonly TimeSpan MonitorPeriod = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(40);

    private readonly ILogger _logger = loggers.CreateLogger<NodeLifecycleController>();
    private readonly Dictionary<string, (string Probe, DateTimeOffset Seen)> _observed = new(StringComparer.Ordinal);

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await MonitorAsync(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException or JsonException)
                {
                    Log.Failed(_logger, e.Message);
                }
                await Task.Delay(MonitorPeriod, time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    internal async Task MonitorAsync(CancellationToken ct)
    {
        var nodes = await client.CoreV1.ListNodeAsync(cancellationToken: ct).ConfigureAwait(false);
        var leases = (await client.CoordinationV1.ListNamespacedLeaseAsync("kube-node-lease", cancellationToken: ct).ConfigureAwait(false))
            .Items.ToDictionary(l => l.Metadata.Name, StringComparer.Ordinal);
        var now = time.GetUtcNow();
        foreach (var gone in _observed.Keys.Except(nodes.Items.Select(n => n.Metadata.Name)).ToList())
        {
            _observed.Remove(gone);
        }
        foreach (var node in nodes.Items)
        {
            var name = node.Metadata.Name;
            var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
            var probe = (leases.TryGetValue(name, out var lease) ? lease.Spec?.RenewTime?.ToString("O") : "") + "|" + ready?.LastHeartbeatTime?.ToString("O") + "|" + ready?.Status;
            if (!_observed.TryGetValue(name, out var seen) || seen.Probe != probe)
            {
                // First sight counts as a heartbeat, as upstream: a restarted controller gives every Node the full grace period.
                _observed[name] = (probe, now);
                continue;
            }
            if (now - seen.Seen <= GracePeriod || ready is null || ready.Status == "Unknown")
            {
                continue;
            }
            foreach (var condition in node.Status!.Conditions!)
            {
                condition.Status = "Unknown";
                condition.Reason = "NodeStatusUnknown";
                condition.Message = "Kubelet stopped posting node status.";
                condition.LastTransitionTime = now.UtcDateTime;
            }
            try
            {
                await client.CoreV1.ReplaceNodeStatusAsync(node, name, cancellationToken: ct).ConfigureAwait(false);
                Log.Unknown(_logger, name, GracePeriod.TotalSeconds);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is System.Net.HttpStatusCode.Conflict or System.Net.HttpStatusCode.NotFound)
            {
                // The agent wrote meanwhile (or the Node went): the next period decides again with fresh data.
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "node {Node} stopped renewing its lease for more than {Seconds} s; its conditions are Unknown")]
        public static partial void Unknown(ILogger logger, string node, double seconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "node health check failed, retrying: {Error}")]
        public static partial void Failed(ILogger logger, string error);
    }
}
