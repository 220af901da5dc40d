using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.ApiServer.Allocation;
using Switchboard.ApiServer.Bootstrap;
using Switchboard.ApiServer.Registry;
using Switchboard.ApiServer.Registry.Strategies;

namespace Switchboard.ApiServer.Hosting;

public sealed partial class ApiServerHost
{
    private ServiceNetworking? _serviceNetworking;

    /// <summary>Service allocation and its repair pass (tests drive and inspect them).</summary>
    internal ServiceNetworking? ServiceNetworking => _serviceNetworking;
}

/// <summary>
/// The Service half of the registry wired as one unit: the allocator behind the Service strategy, the ServiceCIDR and
/// IPAddress strategies, the ServiceCIDR controller, and the repair pass. Before the API serves, the controller reads
/// the ServiceCIDRs into the allocator and the repair pass rebuilds its reservations; both then keep running.
/// </summary>
internal sealed class ServiceNetworking : IAsyncDisposable
{
    /// <summary>Upstream's repair controllers run every 3 minutes.</summary>
    public static readonly TimeSpan RepairInterval = TimeSpan.FromMinutes(3);

    private readonly TimeProvider _time;

    public ServiceNetworking(ApiServerOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _time = time;
        var logger = loggerFactory.CreateLogger("Switchboard.ApiServer.Allocation");
        Allocations = new ServiceAllocations(options.ServiceCidrs, options.ServiceNodePortRange, new Random(), time, logger);
        Repair = new AllocationRepair(Allocations, time, logger, RepairInterval);
        ServiceCidrs = new ServiceCidrController(Allocations, time, logger, ServiceCidrController.ResyncInterval);
    }

    public ServiceAllocations Allocations { get; }

    public AllocationRepair Repair { get; }

    public ServiceCidrController ServiceCidrs { get; }

    public void AddStrategies(IDictionary<Type, IResourceStrategy> strategies)
    {
        strategies[typeof(V1Service)] = new ServiceStrategy(Allocations);
        strategies[typeof(V1ServiceCIDR)] = new ServiceCidrStrategy(ServiceCidrs);
        strategies[typeof(V1IPAddress)] = new IpAddressStrategy(Allocations, Repair, ServiceCidrs);
    }

    /// <summary>Connects the registry and runs the start-up repair pass (before the API serves).</summary>
    public async Task StartAsync(ApiRegistry registry, ApiServerOptions options, CancellationToken cancellationToken)
    {
        Allocations.Attach(new RegistryIpAddressObjects(registry.Find("networking.k8s.io", "IPAddress")!));
        Repair.Attach(registry);
        // The default ServiceCIDR exists before anything is allocated (upstream blocks start-up on it too), and is
        // recreated on later passes if someone deletes it.
        ServiceCidrs.Attach(registry, ct => SystemObjects.EnsureServiceCidrAsync(registry, options, ct, _time));
        await ServiceCidrs.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        await Repair.RunStartupAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts the ServiceCIDR controller and the periodic repair pass once the server is up.</summary>
    public void StartRepairLoop()
    {
        ServiceCidrs.Start();
        Repair.Start();
    }

    public async ValueTask DisposeAsync()
    {
        await ServiceCidrs.DisposeAsync().ConfigureAwait(false);
        await Repair.DisposeAsync().ConfigureAwait(false);
        await Allocations.DisposeAsync().ConfigureAwait(false);
    }
}
