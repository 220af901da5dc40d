using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer.Allocation;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry.Strategies;

namespace Switchboard.ApiServer.Tests.Services;

/// <summary>
/// The allocator's ServiceCIDR model (upstream MetaAllocator: readiness, overlap, families) and the deletion rule of
/// the ServiceCIDR controller (upstream canDeleteCIDR), without a server.
/// </summary>
public sealed class ServiceCidrTests
{
    private sealed class FakeObjects : IIpAddressObjects
    {
        public ConcurrentDictionary<string, string> Objects { get; } = new();

        public Task<bool> TryCreateAsync(string name, string family, string serviceNamespace, string serviceName, CancellationToken cancellationToken) =>
            Task.FromResult(Objects.TryAdd(name, serviceNamespace + "/" + serviceName));

        public Task<bool> DeleteAsync(string name, string? serviceNamespace, string? serviceName, string? uid, CancellationToken cancellationToken)
        {
            Objects.TryRemove(name, out _);
            return Task.FromResult(true);
        }

        public Task<IReadOnlyList<StoredIpAddress>> ListAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<StoredIpAddress>>([.. Objects.Select(o => new StoredIpAddress(o.Key, null, "services", "ns", o.Value, true, DateTimeOffset.UnixEpoch, "uid-" + o.Key))]);
    }

    private static (ServiceAllocations Allocations, ServiceStrategy Strategy, FakeObjects Objects) Create(string cidrs)
    {
        var allocations = new ServiceAllocations(cidrs.Split(','), "30000-32767", new Random(3), TimeProvider.System, NullLogger.Instance);
        var objects = new FakeObjects();
        allocations.Attach(objects);
        return (allocations, new ServiceStrategy(allocations), objects);
    }

    private static V1ServiceCIDR Cidr(string name, string[] cidrs, string? ready = null, bool deleting = false, int createdSecond = 0) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            Uid = "uid-" + name,
            CreationTimestamp = DateTime.UnixEpoch.AddSeconds(createdSecond),
            DeletionTimestamp = deleting ? DateTime.UnixEpoch.AddDays(1) : null,
            Finalizers = [ServiceCidrController.Finalizer],
        },
        Spec = new V1ServiceCIDRSpec { Cidrs = cidrs },
        Status = ready is null ? null : new V1ServiceCIDRStatus { Conditions = [new V1Condition { Type = "Ready", Status = ready, Reason = "", Message = "" }] },
    };

    private static V1Service Svc(string name, string? clusterIp = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ns" },
        Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "x" }, Ports = [new V1ServicePort { Port = 80 }], ClusterIP = clusterIp },
    };

    private static Dictionary<string, bool> Readiness(ServiceAllocations allocations) =>
        allocations.Ranges.ToDictionary(r => r.Cidr.Text, r => r.Ready);

    [Fact]
    public async Task Apply_ReadyFollowsConditionAndDeletion_FamiliesFromTheFlagOnly()
    {
        var (allocations, _, _) = Create("10.96.0.0/12");
        await allocations.ApplyServiceCidrsAsync([
            Cidr("kubernetes", ["10.96.0.0/12"], "True"),
            Cidr("fresh", ["10.100.0.0/24"]),
            Cidr("not-ready", ["10.101.0.0/24"], "False"),
            Cidr("going", ["10.102.0.0/24"], "True", deleting: true),
            // IPv6 is not configured on this cluster: stored, but no range.
            Cidr("v6", ["10.103.0.0/24", "fd00::/64"]),
        ], default);
        Assert.Equal(new Dictionary<string, bool>
        {
            ["10.96.0.0/12"] = true,
            ["10.100.0.0/24"] = true,
            ["10.101.0.0/24"] = false,
            ["10.102.0.0/24"] = false,
            ["10.103.0.0/24"] = true,
        }, Readiness(allocations));

        // A CIDR named twice is one range, ready when either owner is; gone when no owner is left.
        await allocations.ApplyServiceCidrsAsync([
            Cidr("kubernetes", ["10.96.0.0/12"], "True"),
            Cidr("a", ["10.101.0.0/24"], "False"),
            Cidr("b", ["10.101.0.0/24"]),
        ], default);
        Assert.Equal(new Dictionary<string, bool> { ["10.96.0.0/12"] = true, ["10.101.0.0/24"] = true }, Readiness(allocations));
    }

    [Fact]
    public async Task Apply_KeepsReservationsOfKeptRanges_SkipsIpv6ShorterThan64()
    {
        var (allocations, strategy, _) = Create("10.96.0.0/28,fd00:10:96::/112");
        var first = allocations.Ranges[0];
        var svc = Svc("kept");
        await strategy.PrepareForCreateAsync(svc, false, default);
        await allocations.ApplyServiceCidrsAsync([Cidr("kubernetes", ["10.96.0.0/28", "fd00:10:96::/112"]), Cidr("wide", ["fd00:1::/48"])], default);
        Assert.Same(first, allocations.Ranges[0]);
        Assert.True(first.IsTaken(IpText.Parse(svc.Spec.ClusterIP)!));
        Assert.Equal(["10.96.0.0/28", "fd00:10:96::/112"], allocations.Ranges.Select(r => r.Cidr.Text));
    }

    [Fact]
    public async Task FullRange_NewOverlappingRange_SeededFromIpAddresses_NextServiceGetsNewAddress()
    {
        var (allocations, strategy, objects) = Create("10.96.0.0/28");
        await allocations.ApplyServiceCidrsAsync([Cidr("kubernetes", ["10.96.0.0/28"], "True")], default);
        for (var i = 0; i < 14; i++)
        {
            await strategy.PrepareForCreateAsync(Svc($"s{i}"), false, default);
        }
        var e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForCreateAsync(Svc("full"), false, default).AsTask());
        Assert.Equal("Internal error occurred: failed to allocate a serviceIP: range is full (10.96.0.0/28)", e.Message);

        // The /24 around it knows the 14 addresses are taken before it hands anything out.
        await allocations.ApplyServiceCidrsAsync([Cidr("kubernetes", ["10.96.0.0/28"], "True", createdSecond: 0), Cidr("newcidr1", ["10.96.0.0/24"], createdSecond: 5)], default);
        var wide = allocations.Ranges.Single(r => r.Cidr.Text == "10.96.0.0/24");
        Assert.Equal(14UL, wide.Used);
        var next = Svc("next");
        await strategy.PrepareForCreateAsync(next, false, default);
        var ip = IpText.Parse(next.Spec.ClusterIP)!;
        Assert.False(ServiceCidr.Parse("10.96.0.0/28").Contains(ip));
        Assert.True(wide.Cidr.Contains(ip));

        // A requested address in the overlap is taken in both ranges and released from both.
        var both = allocations.Ranges.Single(r => r.Cidr.Text == "10.96.0.0/28");
        allocations.ReleaseDeleted(new V1Service { Metadata = new V1ObjectMeta { Name = "s0", NamespaceProperty = "ns" }, Spec = new V1ServiceSpec { ClusterIPs = [objects.Objects.First(o => o.Value == "ns/s0").Key] } });
        await allocations.WhenReleasedAsync();
        Assert.Equal(13UL, both.Used);
        Assert.Equal(14UL, wide.Used);
        var pinned = Svc("pinned", "10.96.0.15");
        await strategy.PrepareForCreateAsync(pinned, false, default);
        Assert.True(wide.IsTaken(IpText.Parse("10.96.0.15")!));
        allocations.ReleaseDeleted(pinned);
        await allocations.WhenReleasedAsync();
        Assert.False(wide.IsTaken(IpText.Parse("10.96.0.15")!));
    }

    [Fact]
    public async Task RequestedAddress_NeedsAReadyRangeThatContainsIt()
    {
        var (allocations, strategy, _) = Create("10.96.0.0/24");
        await allocations.ApplyServiceCidrsAsync([Cidr("kubernetes", ["10.96.0.0/24"]), Cidr("going", ["10.97.0.0/24"], deleting: true)], default);
        var e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForCreateAsync(Svc("x", "10.97.0.5"), false, default).AsTask());
        Assert.Equal("Service \"x\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.97.0.5\"}: failed to allocate IP 10.97.0.5: the provided network does not match the current range", e.Message);
        e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForCreateAsync(Svc("x", "10.96.0.255"), false, default).AsTask());
        Assert.Equal("Service \"x\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.255\"}: failed to allocate IP 10.96.0.255: the provided IP (10.96.0.255) is not in the valid range. The range of valid IPs is 10.96.0.0/24", e.Message);

        // Nothing ready at all: dynamic allocation says the range is full.
        await allocations.ApplyServiceCidrsAsync([Cidr("kubernetes", ["10.96.0.0/24"], deleting: true)], default);
        e = await Assert.ThrowsAsync<ApiException>(() => strategy.PrepareForCreateAsync(Svc("y"), false, default).AsTask());
        Assert.Equal("Internal error occurred: failed to allocate a serviceIP: range is full", e.Message);
    }

    private static StoredIpAddress Address(string ip, bool managed = true) =>
        new(ip, null, "services", "ns", "svc", managed, DateTimeOffset.UnixEpoch, "uid");

    private static ServiceCidrDeletion Judge(V1ServiceCIDR target, V1ServiceCIDR[] all, StoredIpAddress[] addresses, bool inFlight = false) =>
        ServiceCidrController.Judge(target, [.. all.Select(c => (c, c.Spec.Cidrs.Select(t => IpText.ParseCidr(t)!.Value).Select(p => new ServiceCidrController.Prefix(p.Network, p.Prefix)).ToList()))], addresses, inFlight);

    [Fact]
    public void Judge_AsUpstreamCanDeleteCidr()
    {
        var kubernetes = Cidr("kubernetes", ["10.96.0.0/28"]);
        var wide = Cidr("wide", ["10.96.0.0/24"], deleting: true);
        // Its own address (outside the /28) blocks it; one inside the /28 does not.
        Assert.Equal(ServiceCidrDeletion.Blocked, Judge(wide, [kubernetes, wide], [Address("10.96.0.1"), Address("10.96.0.77")]));
        Assert.Equal(ServiceCidrDeletion.Allowed, Judge(wide, [kubernetes, wide], [Address("10.96.0.1"), Address("10.96.0.15")]));
        // Addresses the allocator does not manage, and addresses of the other family, do not count.
        Assert.Equal(ServiceCidrDeletion.Allowed, Judge(wide, [kubernetes, wide], [Address("10.96.0.77", managed: false), Address("fd00::1")]));
        // Contained in (or equal to) another ServiceCIDR: allowed whatever it holds, even while reservations are in flight.
        var inner = Cidr("inner", ["10.96.0.0/28"], deleting: true);
        Assert.Equal(ServiceCidrDeletion.Allowed, Judge(inner, [kubernetes, inner], [Address("10.96.0.1")], inFlight: true));
        // Reservations in flight are waited for before the addresses are judged.
        Assert.Equal(ServiceCidrDeletion.Pending, Judge(wide, [kubernetes, wide], [], inFlight: true));
        // Two terminating ServiceCIDRs that both contain an address do not block each other (upstream's lister sees both).
        var twin = Cidr("twin", ["10.96.0.0/24"], deleting: true);
        Assert.Equal(ServiceCidrDeletion.Allowed, Judge(wide, [kubernetes, wide, twin], [Address("10.96.0.77")]));
        // Dual-stack: one family covered elsewhere is not enough.
        var dual = Cidr("dual", ["10.98.0.0/24", "fd00:98::/112"], deleting: true);
        var v4 = Cidr("v4", ["10.98.0.0/16"]);
        Assert.Equal(ServiceCidrDeletion.Blocked, Judge(dual, [v4, dual], [Address("fd00:98::5")]));
        Assert.Equal(ServiceCidrDeletion.Allowed, Judge(dual, [v4, dual], [Address("10.98.0.5")]));
    }
}
