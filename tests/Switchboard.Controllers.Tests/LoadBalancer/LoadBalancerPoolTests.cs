using System.Net;
using System.Net.Sockets;
using Switchboard.Controllers.LoadBalancer;

namespace Switchboard.Controllers.Tests.LoadBalancer;

public sealed class LoadBalancerPoolTests
{
    [Fact]
    public void Allocate_BothFamilies_LowestFreeSkippingNetworkAddress()
    {
        var pool = new LoadBalancerPool("172.18.255.0/24,fd00:172:18:ff::/112");
        Assert.Equal(IPAddress.Parse("172.18.255.1"), pool.Allocate(AddressFamily.InterNetwork, "a/x"));
        Assert.Equal(IPAddress.Parse("172.18.255.2"), pool.Allocate(AddressFamily.InterNetwork, "a/y"));
        Assert.Equal(IPAddress.Parse("fd00:172:18:ff::1"), pool.Allocate(AddressFamily.InterNetworkV6, "a/x"));
        pool.Release(IPAddress.Parse("172.18.255.1"), "a/x");
        Assert.Equal(IPAddress.Parse("172.18.255.1"), pool.Allocate(AddressFamily.InterNetwork, "a/z"));
    }

    [Fact]
    public void Allocate_Exhausted_ReturnsNullAndNeverTheBroadcast()
    {
        var pool = new LoadBalancerPool("10.9.0.0/30");
        Assert.Equal(IPAddress.Parse("10.9.0.1"), pool.Allocate(AddressFamily.InterNetwork, "a/1"));
        Assert.Equal(IPAddress.Parse("10.9.0.2"), pool.Allocate(AddressFamily.InterNetwork, "a/2"));
        Assert.Null(pool.Allocate(AddressFamily.InterNetwork, "a/3"));
        Assert.Null(pool.Allocate(AddressFamily.InterNetworkV6, "a/3"));
        Assert.False(pool.HasFamily(AddressFamily.InterNetworkV6));
    }

    [Fact]
    public void TryReserve_OutsidePoolOrHeldByAnother_Fails_SameOwnerSucceeds()
    {
        var pool = new LoadBalancerPool("172.18.255.0/24");
        Assert.True(pool.TryReserve(IPAddress.Parse("172.18.255.9"), "a/x"));
        Assert.True(pool.TryReserve(IPAddress.Parse("172.18.255.9"), "a/x"));
        Assert.False(pool.TryReserve(IPAddress.Parse("172.18.255.9"), "a/y"));
        Assert.False(pool.TryReserve(IPAddress.Parse("172.18.254.9"), "a/y"));
        Assert.False(pool.TryReserve(IPAddress.Parse("172.18.255.0"), "a/y"));
        Assert.False(pool.TryReserve(IPAddress.Parse("172.18.255.255"), "a/y"));
        Assert.Equal("a/x", pool.OwnerOf(IPAddress.Parse("172.18.255.9")));
        pool.Release(IPAddress.Parse("172.18.255.9"), "a/y");
        Assert.Equal("a/x", pool.OwnerOf(IPAddress.Parse("172.18.255.9")));
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("10.0.0.0/33")]
    [InlineData("")]
    public void Constructor_BadPool_ThrowsNamingTheFlag(string pool)
    {
        var e = Assert.Throws<ArgumentException>(() => new LoadBalancerPool(pool));
        Assert.Contains("--lb-pool", e.Message);
    }
}
