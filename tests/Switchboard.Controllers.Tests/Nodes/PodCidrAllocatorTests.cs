using Switchboard.Controllers.Nodes;

namespace Switchboard.Controllers.Tests.Nodes;

public sealed class PodCidrAllocatorTests
{
    [Fact]
    public void Hands_out_the_lowest_free_block_of_each_family()
    {
        var allocator = new PodCidrAllocator("10.244.0.0/16,fd00:10:244::/56");
        Assert.Equal(["10.244.0.0/24", "fd00:10:244::/64"], allocator.Allocate([]));
        Assert.Equal(["10.244.1.0/24", "fd00:10:244:1::/64"], allocator.Allocate(["10.244.0.0/24", "fd00:10:244::/64"]));
        Assert.Equal(["10.244.0.0/24", "fd00:10:244:2::/64"], allocator.Allocate(["10.244.1.0/24", "fd00:10:244::/64", "fd00:10:244:1::/64"]));
    }

    [Fact]
    public void Single_stack_and_exhaustion()
    {
        var allocator = new PodCidrAllocator("10.0.0.0/23");
        Assert.Equal(["10.0.0.0/24"], allocator.Allocate([]));
        Assert.Equal(["10.0.1.0/24"], allocator.Allocate(["10.0.0.0/24"]));
        Assert.Null(allocator.Allocate(["10.0.0.0/24", "10.0.1.0/24"]));
        Assert.Throws<ArgumentException>(() => new PodCidrAllocator("10.0.0.0/25"));
    }

    [Fact]
    public void The_last_IPv6_block_of_a_56()
    {
        var used = Enumerable.Range(0, 255).Select(i => $"fd00:10:244:{i:x}::/64").Select(PodCidrAllocator.Canonical);
        Assert.Equal(["fd00:10:244:ff::/64"], new PodCidrAllocator("fd00:10:244::/56").Allocate(used));
    }
}
