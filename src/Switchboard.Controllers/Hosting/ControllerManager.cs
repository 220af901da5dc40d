using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Client.Informers;
using Switchboard.Controllers.Endpoints;
using Switchboard.Controllers.EndpointSlices;
using Switchboard.Controllers.GarbageCollection;
using Switchboard.Controllers.LoadBalancer;
using Switchboard.Controllers.Namespaces;
using Switchboard.Controllers.Nodes;
using Switchboard.Controllers.Scheduling;
using Switchboard.Controllers.ServiceAccounts;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Hosting;

/// <summary>
/// Runs the control plane's controllers (kube-controller-manager's role) against an API server through
/// Switchboard.Client, like any other client. Stop by cancelling; DisposeAsync waits for them.
/// </summary>
public sealed partial class ControllerManager : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly Kubernetes _client;
    private readonly List<IDisposable> _owned = [];

    private readonly ILogger _logger;

    private ControllerManager(Kubernetes client, ILogger logger)
    {
        _client = client;
        _logger = logger;
    }

    /// <summary>Starts every controller with the given kubeconfig (admin credentials).</summary>
    /// <param name="clusterCidr">--cluster-cidr, the pool of the node IPAM controller.</param>
    /// <param name="lbPool">--lb-pool: when set, the built-in LoadBalancer provider allocates from it (only `up` sets it).</param>
    public static ControllerManager Start(string kubeconfigPath, ILoggerFactory loggers, TimeProvider time, string clusterCidr = "10.244.0.0/16,fd00:10:244::/56", string? lbPool = null)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath);
        var client = new Kubernetes(config);
        var manager = new ControllerManager(client, loggers.CreateLogger<ControllerManager>());
        var namespaces = new NamespaceController(client, ResourceCatalog.Default, loggers, time);
        manager._owned.Add(namespaces);
        manager._running.Add(Task.Run(() => namespaces.RunAsync(manager._stop.Token)));
        var garbage = new GarbageCollector(client, ResourceCatalog.Default, loggers, time);
        manager._owned.Add(garbage);
        manager._running.Add(Task.Run(() => garbage.RunAsync(manager._stop.Token)));
        // One informer per kind shared by the endpoint controllers; started after they registered handlers and indexes.
        var informers = new SharedInformerFactory(client, loggers, time);
        manager._owned.Add(informers);
        var slices = new EndpointSliceController(informers, client, loggers, time);
        manager._owned.Add(slices);
        manager._running.Add(Task.Run(() => slices.RunAsync(manager._stop.Token)));
        var endpoints = new EndpointsController(informers, client, loggers, time);
        manager._owned.Add(endpoints);
        manager._running.Add(Task.Run(() => endpoints.RunAsync(manager._stop.Token)));
        if (!string.IsNullOrEmpty(lbPool))
        {
            var loadBalancers = new LoadBalancerController(informers, client, lbPool, loggers, time);
            manager._owned.Add(loadBalancers);
            manager._running.Add(Task.Run(() => loadBalancers.RunAsync(manager._stop.Token)));
        }
        // Workloads and the scheduler share the Pod informer with the endpoint controllers.
        var replicaSets = new ReplicaSetController(informers, client, loggers, time);
        manager._owned.Add(replicaSets);
        manager._running.Add(Task.Run(() => replicaSets.RunAsync(manager._stop.Token)));
        var deployments = new DeploymentController(informers, client, loggers, time);
        manager._owned.Add(deployments);
        manager._running.Add(Task.Run(() => deployments.RunAsync(manager._stop.Token)));
        var scheduler = new Scheduler(informers, client, loggers, time);
        manager._owned.Add(scheduler);
        manager._running.Add(Task.Run(() => scheduler.RunAsync(manager._stop.Token)));
        var serviceAccounts = new ServiceAccountsController(informers, client, loggers, time);
        manager._owned.Add(serviceAccounts);
        manager._running.Add(Task.Run(() => serviceAccounts.RunAsync(manager._stop.Token)));
        manager._running.Add(informers.RunAsync(manager._stop.Token));
        var ipam = new NodeIpamController(client, clusterCidr, loggers, time);
        manager._owned.Add(ipam);
        manager._running.Add(Task.Run(() => ipam.RunAsync(manager._stop.Token)));
        var lifecycle = new NodeLifecycleController(client, loggers, time);
        manager._running.Add(Task.Run(() => lifecycle.RunAsync(manager._stop.Token)));
        return manager;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        // Wait for each controller; one that failed is reported, never allowed to break the shutdown of the rest
        // (an exception escaping here would abort `switchboard server`/`up` before it removed what it made).
        foreach (var task in _running)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
#pragma warning disable CA1031 // Shutdown must go on whatever a controller died of; it is logged.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.ControllerFailed(_logger, e);
            }
        }
        foreach (var d in _owned)
        {
            d.Dispose();
        }
        _client.Dispose();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "a controller stopped with an error")]
        public static partial void ControllerFailed(ILogger logger, Exception error);
    }
}
