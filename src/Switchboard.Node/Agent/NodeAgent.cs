using System.Globalization;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Switchboard.Node.Agent;

/// <summary>
/// The node half of kubelet that exists so far: registers the Node (addresses, labels, capacity, Ready,
/// daemon endpoint) and renews its Lease in kube-node-lease every 10 s, as kubelet does. Talks to the API only
/// through KubernetesClient, so it runs unchanged against any API server. Re-registers a deleted Node and sets
/// Ready again after the node lifecycle controller marked it Unknown.
/// </summary>
internal sealed partial class NodeAgent(IKubernetes client, AgentOptions options, TimeProvider time, ILogger<NodeAgent> logger)
{
    private const string LeaseNamespace = "kube-node-lease";

    // The first status write of this process always happens, so a Node left Ready by an earlier run gets a fresh heartbeat.
    private bool _statusPosted;

    public TimeSpan RenewInterval => TimeSpan.FromSeconds(options.LeaseDurationSeconds / 4.0);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var node = await EnsureNodeAsync(ct).ConfigureAwait(false);
                await RenewLeaseAsync(node, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                Log.SyncFailed(logger, e.Message);
            }
            try
            {
                await Task.Delay(RenewInterval, time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The Node as kubelet registers it (status too: Nodes accept status on create, as upstream).</summary>
    internal V1Node Desired()
    {
        var labels = new Dictionary<string, string>
        {
            ["kubernetes.io/hostname"] = options.NodeName,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64",
        };
        if (!string.IsNullOrEmpty(options.Zone))
        {
            labels["topology.kubernetes.io/zone"] = options.Zone;
        }
        var resources = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new(Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)),
            ["pods"] = new(options.MaxPods.ToString(CultureInfo.InvariantCulture)),
        };
        return new V1Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = new V1ObjectMeta { Name = options.NodeName, Labels = labels },
            Spec = new V1NodeSpec(),
            Status = new V1NodeStatus
            {
                Addresses = [.. options.NodeIps.Select(ip => new V1NodeAddress { Address = ip, Type = "InternalIP" }), new V1NodeAddress { Address = options.NodeName, Type = "Hostname" }],
                Capacity = resources,
                Allocatable = new Dictionary<string, ResourceQuantity>(resources),
                Conditions = [ReadyCondition()],
                DaemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = options.KubeletPort } },
                NodeInfo = new V1NodeSystemInfo
                {
                    Architecture = labels["kubernetes.io/arch"],
                    OperatingSystem = "linux",
                    KubeletVersion = "v1.33.0-switchboard",
                    KubeProxyVersion = "",
                    ContainerRuntimeVersion = "switchboard://0.1",
                    KernelVersion = Environment.OSVersion.Version.ToString(),
                    OsImage = "linux",
                    BootID = "",
                    MachineID = "",
                    SystemUUID = "",
                },
            },
        };
    }

    private V1NodeCondition ReadyCondition()
    {
        var now = time.GetUtcNow().UtcDateTime;
        return new V1NodeCondition
        {
            Type = "Ready",
            Status = "True",
            Reason = "KubeletReady",
            Message = "switchboard agent is posting ready status",
            LastHeartbeatTime = now,
            LastTransitionTime = now,
        };
    }

    private async Task<V1Node> EnsureNodeAsync(CancellationToken ct)
    {
        V1Node node;
        try
        {
            node = await client.CoreV1.ReadNodeAsync(options.NodeName, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            node = await client.CoreV1.CreateNodeAsync(Desired(), cancellationToken: ct).ConfigureAwait(false);
            Log.Registered(logger, options.NodeName);
        }
        var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        var desired = Desired();
        var addresses = node.Status?.Addresses?.Where(a => a.Type == "InternalIP").Select(a => a.Address).ToList() ?? [];
        if (!_statusPosted || ready?.Status != "True" || !addresses.SequenceEqual(options.NodeIps) || node.Status?.DaemonEndpoints?.KubeletEndpoint?.Port != options.KubeletPort)
        {
            // Status is written only when it changed (or the lifecycle controller marked it Unknown): the Lease is the heartbeat.
            if (ready is { Status: "True", LastTransitionTime: { } since })
            {
                // A restarted agent finds its Node still Ready: no transition happened, as kubelet keeps the time.
                desired.Status.Conditions[0].LastTransitionTime = since;
            }
            node.Status = desired.Status;
            node = await client.CoreV1.ReplaceNodeStatusAsync(node, options.NodeName, cancellationToken: ct).ConfigureAwait(false);
            _statusPosted = true;
        }
        return node;
    }

    private async Task RenewLeaseAsync(V1Node node, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        try
        {
            var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(options.NodeName, LeaseNamespace, cancellationToken: ct).ConfigureAwait(false);
            lease.Spec ??= new V1LeaseSpec();
            lease.Spec.HolderIdentity = options.NodeName;
            lease.Spec.LeaseDurationSeconds = options.LeaseDurationSeconds;
            lease.Spec.RenewTime = now;
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, options.NodeName, LeaseNamespace, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            var lease = new V1Lease
            {
                ApiVersion = "coordination.k8s.io/v1",
                Kind = "Lease",
                Metadata = new V1ObjectMeta
                {
                    Name = options.NodeName,
                    NamespaceProperty = LeaseNamespace,
                    // As kubelet: the Lease goes with its Node.
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = node.Metadata.Name, Uid = node.Metadata.Uid }],
                },
                Spec = new V1LeaseSpec { HolderIdentity = options.NodeName, LeaseDurationSeconds = options.LeaseDurationSeconds, RenewTime = now },
            };
            await client.CoordinationV1.CreateNamespacedLeaseAsync(lease, LeaseNamespace, cancellationToken: ct).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "registered node {Node}")]
        public static partial void Registered(ILogger logger, string node);

        [LoggerMessage(Level = LogLevel.Warning, Message = "node status or lease update failed, retrying: {Error}")]
        public static partial void SyncFailed(ILogger logger, string error);
    }
}
