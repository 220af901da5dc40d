using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer.Allocation;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry.Strategies;

namespace Switchboard.ApiServer.Tests.Services;

/// <summary>IP family defaulting and checks (upstream initIPFamilyFields) and allocation rollback, on an in-memory object store.</summary>
public sealed class ServiceAllocationsTests
{
    private const string DualStack = "10.96.0.0/12,fd00:10:96::/112";

    private sealed class FakeObjects : IIpAddressObjects
    {
        public ConcurrentDictionary<string, string> Objects { get; } = new();

        public Task<bool> TryCreateAsync(string name, string family, string serviceNamespace, string serviceName, CancellationToken cancellationToken) =>
            Task.FromResult(Objects.TryAdd(name, serviceNamespace + "/" + serviceName));

        public Task<bool> DeleteAsync(string name, string? serviceNamespace, string? serviceName, string? uid, CancellationToken cancellationToken)
        {
            if (Objects.TryGetValue(name, out var owner) && serviceName is not null && owner != serviceNamespace + "/" + serviceName)
            {
                return Task.FromResult(false);
            }
            Objects.TryRemove(name, out _);
            return Task.FromResult(true);
        }

        public Task<IReadOnlyList<StoredIpAddress>> ListAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<StoredIpAddress>>([]);
    }

    private static (ServiceAllocations Allocations, ServiceStrategy Strategy, FakeObjects Objects) Create(string cidrs = DualStack, string ports = "30000-32767")
    {
        var allocations = new ServiceAllocations(cidrs.Split(','), ports, new Random(1), TimeProvider.System, NullLogger.Instance);
        var objects = new FakeObjects();
        allocations.Attach(objects);
        return (allocations, new ServiceStrategy(allocations), objects);
    }

    private static V1Service Svc(Action<V1ServiceSpec>? tweak = null)
    {
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "s", NamespaceProperty = "ns" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "x" }, Ports = [new V1ServicePort { Port = 80 }] },
        };
        tweak?.Invoke(svc.Spec);
        return svc;
    }

    private static async Task<string> CreateErrorAsync(ServiceStrategy strategy, V1Service svc)
    {
        var e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForCreateAsync(svc, false, default).AsTask());
        return e.Message;
    }

    [Fact]
    public async Task Default_SingleStackPrimaryFamily()
    {
        var (_, strategy, objects) = Create();
        var svc = Svc();
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.Equal("SingleStack", svc.Spec.IpFamilyPolicy);
        Assert.Equal(["IPv4"], svc.Spec.IpFamilies);
        Assert.Single(svc.Spec.ClusterIPs);
        Assert.Equal(svc.Spec.ClusterIP, svc.Spec.ClusterIPs[0]);
        Assert.Equal("ns/s", objects.Objects[svc.Spec.ClusterIP]);
        Assert.Empty(strategy.ValidateCreate(svc));
    }

    [Theory]
    [InlineData("PreferDualStack", null, new[] { "IPv4", "IPv6" })]
    [InlineData("RequireDualStack", null, new[] { "IPv4", "IPv6" })]
    [InlineData("RequireDualStack", new[] { "IPv6" }, new[] { "IPv6", "IPv4" })]
    [InlineData("SingleStack", new[] { "IPv6" }, new[] { "IPv6" })]
    [InlineData(null, new[] { "IPv6", "IPv4" }, null)]
    public async Task DualStackCluster_FamiliesAndAddresses(string? policy, string[]? families, string[]? expected)
    {
        var (_, strategy, _) = Create();
        var svc = Svc(s => { s.IpFamilyPolicy = policy; s.IpFamilies = families?.ToList(); });
        if (expected is null)
        {
            // Two families with the defaulted SingleStack policy.
            Assert.Equal("Service \"s\" is invalid: spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
                await CreateErrorAsync(strategy, svc));
            return;
        }
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.Equal(expected, svc.Spec.IpFamilies);
        Assert.Equal(expected.Length, svc.Spec.ClusterIPs.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i] == "IPv6", IpText.IsIPv6(svc.Spec.ClusterIPs[i]));
        }
    }

    [Fact]
    public async Task SingleStackCluster_RequireDualStackAndIPv6_Rejected()
    {
        var (_, strategy, _) = Create("10.96.0.0/16");
        Assert.Equal("Service \"s\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services",
            await CreateErrorAsync(strategy, Svc(s => s.IpFamilyPolicy = "RequireDualStack")));
        Assert.Equal("Service \"s\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster",
            await CreateErrorAsync(strategy, Svc(s => s.IpFamilies = ["IPv6"])));
        Assert.Equal("Service \"s\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"fd00::5\"}: IPv6 is not configured on this cluster",
            await CreateErrorAsync(strategy, Svc(s => s.ClusterIP = "fd00::5")));

        // PreferDualStack quietly stays single-stack there.
        var prefer = Svc(s => s.IpFamilyPolicy = "PreferDualStack");
        await strategy.PrepareForCreateAsync(prefer, false, default);
        Assert.Equal(["IPv4"], prefer.Spec.IpFamilies);
    }

    [Fact]
    public async Task Headless_WithAndWithoutSelector()
    {
        var (_, strategy, objects) = Create("10.96.0.0/16");
        var withSelector = Svc(s => s.ClusterIP = "None");
        await strategy.PrepareForCreateAsync(withSelector, false, default);
        Assert.Equal("SingleStack", withSelector.Spec.IpFamilyPolicy);
        Assert.Equal(["IPv4"], withSelector.Spec.IpFamilies);
        Assert.Equal(["None"], withSelector.Spec.ClusterIPs);

        // Headless and selectorless: RequireDualStack with both families, even on a single-stack cluster.
        var selectorless = Svc(s => { s.ClusterIP = "None"; s.Selector = null; });
        await strategy.PrepareForCreateAsync(selectorless, false, default);
        Assert.Equal("RequireDualStack", selectorless.Spec.IpFamilyPolicy);
        Assert.Equal(["IPv4", "IPv6"], selectorless.Spec.IpFamilies);
        Assert.Empty(strategy.ValidateCreate(selectorless));
        Assert.Empty(objects.Objects);
    }

    [Fact]
    public async Task StaticIp_Errors_AsUpstream()
    {
        var (_, strategy, _) = Create("10.96.0.0/24");
        var first = Svc(s => s.ClusterIP = "10.96.0.10");
        await strategy.PrepareForCreateAsync(first, false, default);
        Assert.Equal("Service \"s\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated",
            await CreateErrorAsync(strategy, Svc(s => s.ClusterIP = "10.96.0.10")));
        Assert.Equal("Service \"s\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.255\"}: failed to allocate IP 10.96.0.255: the provided IP (10.96.0.255) is not in the valid range. The range of valid IPs is 10.96.0.0/24",
            await CreateErrorAsync(strategy, Svc(s => s.ClusterIP = "10.96.0.255")));
        Assert.Equal("Service \"s\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.97.0.1\"}: failed to allocate IP 10.97.0.1: the provided network does not match the current range",
            await CreateErrorAsync(strategy, Svc(s => s.ClusterIP = "10.97.0.1")));
    }

    [Fact]
    public async Task AbortCreate_ReleasesAndRestoresRequest()
    {
        var (allocations, strategy, objects) = Create(ports: "30000-30001");
        var svc = Svc(s => s.Type = "NodePort");
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.NotNull(svc.Spec.ClusterIP);
        Assert.NotNull(svc.Spec.Ports[0].NodePort);
        strategy.AbortCreate(svc);
        await allocations.WhenReleasedAsync();
        Assert.Null(svc.Spec.ClusterIP);
        Assert.Null(svc.Spec.Ports[0].NodePort);
        Assert.Empty(objects.Objects);
        Assert.Equal(0, allocations.NodePorts.Used);
    }

    [Fact]
    public async Task DryRun_TakesNothing_AnswersPlaceholders()
    {
        var (allocations, strategy, objects) = Create();
        var svc = Svc(s => { s.Type = "NodePort"; s.IpFamilyPolicy = "PreferDualStack"; s.Ports = [new V1ServicePort { Port = 80, Name = "a" }, new V1ServicePort { Port = 81, Name = "b" }]; });
        await strategy.PrepareForCreateAsync(svc, true, default);
        Assert.Equal(["10.96.0.0", "fd00:10:96::"], svc.Spec.ClusterIPs);
        Assert.Equal([32769, 32770], svc.Spec.Ports.Select(p => p.NodePort!.Value));
        strategy.AbortCreate(svc);
        Assert.Equal(["10.96.0.0", "fd00:10:96::"], svc.Spec.ClusterIPs);
        Assert.Empty(objects.Objects);
        Assert.Equal(0, allocations.NodePorts.Used);
    }

    [Fact]
    public async Task NodePorts_SharedByPortNumber_OnCreate_AndExactErrors()
    {
        var (allocations, strategy, _) = Create();
        var svc = Svc(s =>
        {
            s.Type = "LoadBalancer";
            s.ExternalTrafficPolicy = "Local";
            s.Ports = [new V1ServicePort { Name = "dns-tcp", Port = 53, Protocol = "TCP" }, new V1ServicePort { Name = "dns-udp", Port = 53, Protocol = "UDP" }];
        });
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.Equal(svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort);
        Assert.NotNull(svc.Spec.HealthCheckNodePort);
        Assert.NotEqual(svc.Spec.Ports[0].NodePort, svc.Spec.HealthCheckNodePort);
        Assert.Equal(2, allocations.NodePorts.Used);
        Assert.Empty(strategy.ValidateCreate(svc));

        var taken = svc.Spec.Ports[0].NodePort!.Value;
        Assert.Equal($"Service \"s\" is invalid: spec.ports[0].nodePort: Invalid value: {taken}: provided port is already allocated",
            await CreateErrorAsync(strategy, Svc(s => { s.Type = "NodePort"; s.Ports[0].NodePort = taken; })));
        Assert.Equal("Service \"s\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
            await CreateErrorAsync(strategy, Svc(s => { s.Type = "NodePort"; s.Ports[0].NodePort = 80; })));
    }

    [Fact]
    public async Task LoadBalancer_AllocateNodePortsFalse_AllocatesNothingButHonoursRequests()
    {
        var (allocations, strategy, _) = Create();
        var svc = Svc(s =>
        {
            s.Type = "LoadBalancer";
            s.AllocateLoadBalancerNodePorts = false;
            s.Ports = [new V1ServicePort { Name = "a", Port = 80 }, new V1ServicePort { Name = "b", Port = 81, NodePort = 31000 }];
        });
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.Null(svc.Spec.Ports[0].NodePort);
        Assert.Equal(31000, svc.Spec.Ports[1].NodePort);
        Assert.Equal(1, allocations.NodePorts.Used);
    }

    [Fact]
    public async Task Update_TypeChanges_AllocateAndReleaseOnCommit()
    {
        var (allocations, strategy, objects) = Create();
        var old = Svc();
        await strategy.PrepareForCreateAsync(old, false, default);

        var toNodePort = Clone(old);
        toNodePort.Spec.Type = "NodePort";
        await strategy.PrepareForUpdateAsync(toNodePort, old, false, default);
        Assert.Empty(strategy.ValidateUpdate(toNodePort, old));
        strategy.AfterUpdate(toNodePort, old);
        var np = toNodePort.Spec.Ports[0].NodePort!.Value;
        Assert.Equal("Cluster", toNodePort.Spec.ExternalTrafficPolicy);

        // Back to ClusterIP with the nodePort still in the body: it is wiped and released on commit.
        var back = Clone(toNodePort);
        back.Spec.Type = "ClusterIP";
        await strategy.PrepareForUpdateAsync(back, toNodePort, false, default);
        Assert.Null(back.Spec.Ports[0].NodePort);
        Assert.Null(back.Spec.ExternalTrafficPolicy);
        Assert.Empty(strategy.ValidateUpdate(back, toNodePort));
        Assert.True(allocations.NodePorts.IsTaken(np));
        strategy.AfterUpdate(back, toNodePort);
        Assert.False(allocations.NodePorts.IsTaken(np));

        // To ExternalName: clusterIP fields are wiped and the address released.
        var external = Clone(back);
        external.Spec.Type = "ExternalName";
        external.Spec.ExternalName = "example.com";
        await strategy.PrepareForUpdateAsync(external, back, false, default);
        Assert.Null(external.Spec.ClusterIP);
        Assert.Null(external.Spec.IpFamilies);
        Assert.Empty(strategy.ValidateUpdate(external, back));
        strategy.AfterUpdate(external, back);
        await allocations.WhenReleasedAsync();
        Assert.Empty(objects.Objects);
    }

    [Fact]
    public async Task Update_UpgradeAndDowngradeDualStack()
    {
        var (allocations, strategy, objects) = Create();
        var old = Svc();
        await strategy.PrepareForCreateAsync(old, false, default);
        var up = Clone(old);
        up.Spec.IpFamilyPolicy = "PreferDualStack";
        await strategy.PrepareForUpdateAsync(up, old, false, default);
        Assert.Empty(strategy.ValidateUpdate(up, old));
        strategy.AfterUpdate(up, old);
        Assert.Equal(["IPv4", "IPv6"], up.Spec.IpFamilies);
        Assert.Equal(2, up.Spec.ClusterIPs.Count);
        Assert.Equal(2, objects.Objects.Count);

        // Releasing the secondary needs SingleStack; with it, the secondary goes.
        var bad = Clone(up);
        bad.Spec.ClusterIPs = [up.Spec.ClusterIPs[0]];
        var e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForUpdateAsync(bad, up, false, default).AsTask());
        Assert.Equal("Service \"s\" is invalid: spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary cluster IP", e.Message);

        var down = Clone(up);
        down.Spec.IpFamilyPolicy = "SingleStack";
        await strategy.PrepareForUpdateAsync(down, up, false, default);
        Assert.Equal(["IPv4"], down.Spec.IpFamilies);
        Assert.Single(down.Spec.ClusterIPs);
        Assert.Empty(strategy.ValidateUpdate(down, up));
        strategy.AfterUpdate(down, up);
        await allocations.WhenReleasedAsync();
        Assert.Equal([down.Spec.ClusterIP], objects.Objects.Keys);
    }

    [Fact]
    public async Task Update_AbortReleasesOnlyWhatTheUpdateTook()
    {
        var (allocations, strategy, _) = Create();
        var old = Svc(s => s.Type = "NodePort");
        await strategy.PrepareForCreateAsync(old, false, default);
        var kept = old.Spec.Ports[0].NodePort!.Value;
        var updated = Clone(old);
        updated.Spec.Ports.Add(new V1ServicePort { Name = "b", Port = 81 });
        updated.Spec.Ports[0].Name = "a";
        await strategy.PrepareForUpdateAsync(updated, old, false, default);
        var added = updated.Spec.Ports[1].NodePort!.Value;
        Assert.True(allocations.NodePorts.IsTaken(added));
        strategy.AbortUpdate(updated, old);
        Assert.False(allocations.NodePorts.IsTaken(added));
        Assert.True(allocations.NodePorts.IsTaken(kept));
    }

    [Fact]
    public async Task Defaults_AsSetDefaultsService()
    {
        var (_, strategy, _) = Create();
        var svc = Svc(s =>
        {
            s.Type = "LoadBalancer";
            s.SessionAffinity = "ClientIP";
            s.Ports = [new V1ServicePort { Port = 8080, Protocol = null, TargetPort = null }];
        });
        await strategy.PrepareForCreateAsync(svc, false, default);
        Assert.Equal(10800, svc.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds);
        Assert.Equal("TCP", svc.Spec.Ports[0].Protocol);
        Assert.Equal("8080", svc.Spec.Ports[0].TargetPort.Value);
        Assert.Equal("Cluster", svc.Spec.ExternalTrafficPolicy);
        Assert.Equal("Cluster", svc.Spec.InternalTrafficPolicy);
        Assert.True(svc.Spec.AllocateLoadBalancerNodePorts);
        Assert.NotNull(svc.Spec.Ports[0].NodePort);
        Assert.Empty(strategy.ValidateCreate(svc));
        Assert.NotNull(svc.Status?.LoadBalancer);
    }

    private static V1Service Clone(V1Service s) => Api.Serialization.KubeJson.Deserialize<V1Service>(Api.Serialization.KubeJson.Serialize(s, typeof(V1Service)))!;
}
