using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Switchboard.Controllers.Tests.Support;

/// <summary>
/// kwok-style simulated nodes and pods: there is no node agent yet, so tests register Nodes (Ready, zone label,
/// allocatable CPU) and renew each node's Lease in kube-node-lease every 10 s like a kubelet, and play the kubelet
/// for pods by writing their status (IPs, Ready condition, phase) through the pods/status subresource.
/// Dispose stops the renewals and removes the nodes and leases (they are cluster-scoped).
/// </summary>
internal sealed class SimulatedCluster : IAsyncDisposable
{
    public const string LeaseNamespace = "kube-node-lease";
    private static readonly TimeSpan RenewInterval = TimeSpan.FromSeconds(10);

    private readonly IKubernetes _client;
    private readonly List<string> _nodes = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _renewals;

    public SimulatedCluster(IKubernetes client) => _client = client;

    public IReadOnlyList<string> Nodes => _nodes;

    /// <summary>Registers a Ready node with the zone label and allocatable CPU, and its Lease.</summary>
    public async Task<string> AddNodeAsync(string name, string? zone, string cpu = "4", bool ready = true)
    {
        var labels = new Dictionary<string, string> { ["kubernetes.io/hostname"] = name, ["type"] = "kwok" };
        if (zone is not null)
        {
            labels["topology.kubernetes.io/zone"] = zone;
        }
        var node = await _client.CoreV1.CreateNodeAsync(new V1Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        });
        _nodes.Add(name);
        var now = Now();
        var status = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["capacity"] = new JsonObject { ["cpu"] = cpu, ["memory"] = "8Gi", ["pods"] = "110" },
                ["allocatable"] = new JsonObject { ["cpu"] = cpu, ["memory"] = "8Gi", ["pods"] = "110" },
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Ready",
                    ["status"] = ready ? "True" : "False",
                    ["reason"] = ready ? "KubeletReady" : "KubeletNotReady",
                    ["lastHeartbeatTime"] = now,
                    ["lastTransitionTime"] = now,
                }),
                ["addresses"] = new JsonArray(new JsonObject { ["type"] = "Hostname", ["address"] = name }),
            },
        };
        await _client.CoreV1.PatchNodeStatusAsync(new V1Patch(status.ToJsonString(), V1Patch.PatchType.MergePatch), name);
        await _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            ApiVersion = "coordination.k8s.io/v1",
            Kind = "Lease",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = LeaseNamespace,
                OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = name, Uid = node.Metadata.Uid }],
            },
            Spec = new V1LeaseSpec { HolderIdentity = name, LeaseDurationSeconds = 40, RenewTime = DateTime.UtcNow },
        }, LeaseNamespace);
        _renewals ??= Task.Run(() => RenewLoopAsync(_stop.Token));
        return name;
    }

    /// <summary>Creates a pod bound to a node (no scheduler runs); it stays Pending until <see cref="SetPodStatusAsync"/>.</summary>
    public Task<V1Pod> CreatePodAsync(string ns, string name, string node, IDictionary<string, string> labels, IList<V1ContainerPort>? ports = null, string? hostname = null, string? subdomain = null) =>
        _client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = labels },
            Spec = new V1PodSpec
            {
                NodeName = node,
                Hostname = hostname,
                Subdomain = subdomain,
                Containers = [new V1Container { Name = "app", Image = "registry.k8s.io/pause:3.10", Ports = ports }],
            },
        }, ns);

    /// <summary>The kubelet's status write: Running with these IPs, Ready as given (lastTransitionTime now).</summary>
    public Task<V1Pod> SetPodStatusAsync(string ns, string name, bool ready, params string[] ips)
    {
        var now = Now();
        var podIps = new JsonArray();
        foreach (var ip in ips)
        {
            podIps.Add(new JsonObject { ["ip"] = ip });
        }
        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["podIP"] = ips.Length > 0 ? ips[0] : null,
                ["podIPs"] = podIps,
                ["conditions"] = new JsonArray(
                    new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False", ["lastTransitionTime"] = now },
                    new JsonObject { ["type"] = "ContainersReady", ["status"] = ready ? "True" : "False", ["lastTransitionTime"] = now }),
            },
        };
        return _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns);
    }

    /// <summary>Creates a pod and makes it Running and Ready with the given IPs.</summary>
    public async Task<V1Pod> RunPodAsync(string ns, string name, string node, IDictionary<string, string> labels, params string[] ips)
    {
        await CreatePodAsync(ns, name, node, labels);
        return await SetPodStatusAsync(ns, name, ready: true, ips);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_renewals is not null)
        {
            try
            {
                await _renewals;
            }
            catch (OperationCanceledException)
            {
            }
        }
        foreach (var name in _nodes)
        {
            await Objects.TryReadAsync(() => _client.CoordinationV1.DeleteNamespacedLeaseAsync(name, LeaseNamespace));
            await Objects.TryReadAsync(() => _client.CoreV1.DeleteNodeAsync(name));
        }
        _stop.Dispose();
    }

    private async Task RenewLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(RenewInterval, ct);
            foreach (var name in _nodes.ToArray())
            {
                var patch = new JsonObject { ["spec"] = new JsonObject { ["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture) } };
                try
                {
                    await _client.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, LeaseNamespace, cancellationToken: ct);
                }
                catch (k8s.Autorest.HttpOperationException)
                {
                    // The server may be going away at the end of a test; the next round tries again.
                }
            }
        }
    }

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
