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
/// When it turns a Ready Node Unknown it also sets the Ready condition of every Pod on that Node to False (upstream
/// MarkPodsNotReady, Event <c>NodeNotReady</c> on each pod), so EndpointSlices stop sending traffic there; a Node
/// whose pods could not all be marked is retried on the next pass while it stays not Ready. As upstream, a Node
/// that its own kubelet reports NotReady is left to that kubelet. Not yet: the unreachable/not-ready taints.
/// </summary>
internal sealed partial class NodeLifecycleController(Kubernetes client, ILoggerFactory loggers, TimeProvider time)
{
    public static readonly TimeSpan MonitorPeriod = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(40);

    private readonly ILogger _logger = loggers.CreateLogger<NodeLifecycleController>();
    private readonly Dictionary<string, (string Probe, DateTimeOffset Seen)> _observed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _retryPods = new(StringComparer.Ordinal);
    private Switchboard.Client.Events.EventRecorder? _recorder;

    private Switchboard.Client.Events.EventRecorder Recorder => _recorder ??= new Switchboard.Client.Events.EventRecorder(client, "node-controller", _logger, time);

    public async Task RunAsync(CancellationToken ct)
    {
        var events = Recorder.RunAsync(ct);
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
        await events.ConfigureAwait(false);
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
            _retryPods.Remove(gone);
        }
        foreach (var node in nodes.Items)
        {
            var name = node.Metadata.Name;
            var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
            if (_retryPods.Contains(name) && ready?.Status != "True")
            {
                await MarkPodsNotReadyAsync(name, ct).ConfigureAwait(false);
            }
            else if (ready?.Status == "True")
            {
                _retryPods.Remove(name);
            }
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
            var wasReady = ready.Status == "True";
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
                continue;
            }
            if (wasReady)
            {
                Recorder.Record(new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = name, Uid = node.Metadata.Uid }, "Normal", "NodeNotReady", $"Node {name} status is now: NodeNotReady");
                await MarkPodsNotReadyAsync(name, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>upstream MarkPodsNotReady: the Ready condition of each pod on the node goes False (nothing else changes).</summary>
    private async Task MarkPodsNotReadyAsync(string node, CancellationToken ct)
    {
        var failed = false;
        try
        {
            var pods = await client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "spec.nodeName=" + node, cancellationToken: ct).ConfigureAwait(false);
            foreach (var pod in pods.Items)
            {
                var ready = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
                if (ready is null || ready.Status == "False")
                {
                    continue;
                }
                ready.Status = "False";
                ready.LastTransitionTime = time.GetUtcNow().UtcDateTime;
                try
                {
                    await client.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
                    Recorder.Record(new V1ObjectReference { ApiVersion = "v1", Kind = "Pod", Name = pod.Metadata.Name, NamespaceProperty = pod.Metadata.NamespaceProperty, Uid = pod.Metadata.Uid }, "Warning", "NodeNotReady", "Node is not ready");
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                }
                catch (HttpOperationException e)
                {
                    Log.Failed(_logger, e.Message);
                    failed = true;
                }
            }
        }
        catch (HttpOperationException e)
        {
            Log.Failed(_logger, e.Message);
            failed = true;
        }
        if (failed)
        {
            _retryPods.Add(node);
        }
        else
        {
            _retryPods.Remove(node);
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
