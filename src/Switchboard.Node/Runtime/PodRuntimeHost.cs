using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Cache;
using Switchboard.Client.Events;
using Switchboard.Client.Informers;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Runtime;

/// <summary>
/// The runtime in the agent: waits for the Node's spec.podCIDRs (or --pod-cidr), writes the conflist, re-adopts
/// pod dirs, then feeds <see cref="PodRuntime"/> from an informer on Pods with spec.nodeName = this node.
/// Everything goes through KubernetesClient / Switchboard.Client, so it runs against any API server.
/// </summary>
internal sealed partial class PodRuntimeHost : IDisposable
{
    private readonly Kubernetes _client;
    private readonly RuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly SharedInformerFactory _informers;
    private readonly EventRecorder _events;

    public PodRuntimeHost(Kubernetes client, RuntimeOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        _client = client;
        _options = options;
        _logger = loggers.CreateLogger<PodRuntimeHost>();
        _informers = new SharedInformerFactory(client, loggers, time);
        _events = new EventRecorder(client, "kubelet", loggers.CreateLogger<EventRecorder>(), time);
        var services = _informers.Informer<V1Service>();
        Runtime = new PodRuntime(new RuntimeServices(
            options,
            new SandboxManager(new ProcessCommandRunner(), options.EtcNetnsDir),
            new PosixSpawnLauncher(),
            new Prober(options.NodeNetns, time),
            new ApiPodApi(client, _events),
            new ApiPodDependencies(client, services),
            time,
            _logger));
    }

    /// <summary>The runtime, also the <see cref="IContainerLocator"/> for the kubelet API.</summary>
    public PodRuntime Runtime { get; }

    public void Dispose() => _informers.Dispose();

    public async Task RunAsync(CancellationToken ct)
    {
        var nodes = _informers.Informer<V1Node>(ResourceRequest.For<V1Node>() with { FieldSelector = "metadata.name=" + _options.NodeName });
        var pods = _informers.Informer<V1Pod>(ResourceRequest.For<V1Pod>() with { FieldSelector = "spec.nodeName=" + _options.NodeName });
        var ready = false;
        using var registration = pods.AddEventHandler(new ResourceEventHandler<V1Pod>(
            p =>
            {
                if (Volatile.Read(ref ready))
                {
                    Runtime.Upsert(p);
                }
            },
            (_, p) =>
            {
                if (Volatile.Read(ref ready))
                {
                    Runtime.Upsert(p);
                }
            },
            p => Runtime.Delete(p)));
        var events = _events.RunAsync(ct);
        var informers = _informers.RunAsync(ct);
        try
        {
            // Records first: after an agent restart, exec and logs of the running containers are served as soon as
            // the kubelet API listens, before the informers have synced (the workers start only after that).
            var adopted = Runtime.AdoptFromDisk();
            var cidrs = _options.PodCidrOverride;
            while (cidrs.Count == 0)
            {
                // As kubelet: no Pod networking until node IPAM gave the Node its CIDRs.
                if (nodes.Lister.TryGet(null, _options.NodeName, out var node) && node.Spec?.PodCIDRs is { Count: > 0 } assigned)
                {
                    cidrs = [.. assigned];
                    break;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
            }
            if (UnderIpNetnsExec())
            {
                Log.PrivateMountNamespace(_logger);
            }
            Runtime.SetPodCidrs(cidrs);
            await pods.WaitForSyncAsync(ct).ConfigureAwait(false);
            var cidrText = string.Join(',', cidrs);
            Log.Started(_logger, _options.NodeName, cidrText, adopted);
            Volatile.Write(ref ready, true);
            await Runtime.StartAsync(pods.Lister.List(), ct).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        // Containers keep running: stopping the agent only stops watching them.
        await Runtime.WhenStoppedAsync().ConfigureAwait(false);
        await informers.ConfigureAwait(false);
        await events.ConfigureAwait(false);
    }

    /// <summary>
    /// True when this process runs in the private mount namespace of <c>ip netns exec</c> (it remounts /sys with the
    /// namespace name as source): mounts made here (the Pods' uts/mnt namespace files) die with the agent.
    /// </summary>
    internal static bool UnderIpNetnsExec()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var parts = line.Split(" - ", 2);
                var fields = parts[0].Split(' ');
                if (fields.Length > 4 && fields[4] == "/sys" && parts.Length == 2)
                {
                    var tail = parts[1].Split(' ');
                    return tail.Length > 1 && tail[0] == "sysfs" && tail[1] != "sysfs" && File.Exists("/run/netns/" + tail[1]);
                }
            }
        }
        catch (IOException)
        {
        }
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "the agent runs under 'ip netns exec' (a private mount namespace): Pod namespace files will not survive an agent restart; start the agent with 'nsenter --net=/run/netns/<node>' instead")]
        public static partial void PrivateMountNamespace(ILogger logger);

        [LoggerMessage(Level = LogLevel.Information, Message = "pod runtime of node {Node} started: pod CIDRs {Cidrs}, {Adopted} pod dirs re-adopted")]
        public static partial void Started(ILogger logger, string node, string cidrs, int adopted);
    }
}

/// <summary>pods/status, the final delete and Events through KubernetesClient.</summary>
internal sealed class ApiPodApi(IKubernetes client, EventRecorder events) : IPodApi
{
    private static readonly HashSet<string> Owned = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];

    public async Task UpdateStatusAsync(V1Pod pod, V1PodStatus status, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            V1Pod current;
            try
            {
                current = await client.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return;
            }
            if (current.Metadata.Uid != pod.Metadata.Uid)
            {
                return;
            }
            var foreign = (current.Status?.Conditions ?? []).Where(c => !Owned.Contains(c.Type));
            var scheduled = current.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
            status.Conditions = [.. status.Conditions.Where(c => c.Type != "PodScheduled" || scheduled is null), .. scheduled is null ? [] : new[] { scheduled }, .. foreign];
            status.NominatedNodeName = current.Status?.NominatedNodeName;
            status.QosClass = current.Status?.QosClass ?? status.QosClass;
            current.Status = status;
            try
            {
                await client.CoreV1.ReplaceNamespacedPodStatusAsync(current, current.Metadata.Name, current.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                // Someone else wrote meanwhile: read again.
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return;
            }
        }
        throw new IOException($"pod {pod.Metadata.NamespaceProperty}/{pod.Metadata.Name}: status update kept conflicting");
    }

    public async Task DeleteAsync(V1Pod pod, CancellationToken ct)
    {
        try
        {
            await client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty,
                new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid } }, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Already gone, or a new Pod of the same name (the UID precondition protects it).
        }
    }

    public void Event(V1Pod pod, string type, string reason, string message)
    {
        var reference = EventRecorder.Reference(pod, "v1", "Pod");
        events.Record(reference, type, reason, message);
    }
}

/// <summary>ConfigMaps, Secrets and tokens read when a container starts; Services from the shared informer.</summary>
internal sealed class ApiPodDependencies(IKubernetes client, SharedInformer<V1Service> services) : IPodDependencies
{
    public async Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct)
    {
        if (!services.HasSynced)
        {
            await services.WaitForSyncAsync(ct).ConfigureAwait(false);
        }
        return services.Lister.List(ns);
    }

    public async Task<string?> ServiceAccountTokenAsync(V1Pod pod, CancellationToken ct)
    {
        var request = new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec
            {
                Audiences = [],
                // kubelet's default projected token lifetime (and the legacy-compatible extension) is not modelled: one day.
                ExpirationSeconds = (long)PodWorker.TokenLifetime.TotalSeconds,
                BoundObjectRef = new V1BoundObjectReference { ApiVersion = "v1", Kind = "Pod", Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
            },
        };
        try
        {
            var result = await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, pod.Spec?.ServiceAccountName ?? "default", pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
            return result.Status?.Token;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            // No ServiceAccount yet, or the API is away: the worker retries in a minute; the sandbox is not undone for it.
            return null;
        }
    }
}
