using System.Net;
using Switchboard.ApiServer.Allocation;
using Xunit.Abstractions;

namespace Switchboard.ApiServer.Tests.Services;

/// <summary>The range arithmetic (KEP-3070, KEP-3668), the bitmaps, and Go's IP text rules.</summary>
public sealed class AllocatorTests
{
    [Theory]
    [InlineData("10.96.0.0/24", 254UL, 16UL, "10.96.0.1", "10.96.0.254")]
    [InlineData("10.96.0.0/28", 14UL, 0UL, "10.96.0.1", "10.96.0.14")]
    [InlineData("10.96.0.0/27", 30UL, 16UL, "10.96.0.1", "10.96.0.30")]
    [InlineData("10.96.0.0/20", 4094UL, 256UL, "10.96.0.1", "10.96.15.254")]
    [InlineData("10.96.0.0/12", 1048574UL, 256UL, "10.96.0.1", "10.111.255.254")]
    [InlineData("fd00:10:96::/112", 65535UL, 256UL, "fd00:10:96::1", "fd00:10:96::ffff")]
    [InlineData("fd00::/120", 255UL, 16UL, "fd00::1", "fd00::ff")]
    public void ServiceCidr_SizeStaticBandAndEnds_AsUpstream(string cidr, ulong size, ulong band, string first, string last)
    {
        var c = ServiceCidr.Parse(cidr);
        Assert.Equal(size, c.Size);
        Assert.Equal(band, c.StaticBand);
        Assert.Equal(first, IpText.Format(c.First));
        Assert.Equal(last, IpText.Format(c.AddressAt(c.Size - 1)));
        Assert.Null(c.OffsetOf(c.Network));
    }

    [Fact]
    public void ServiceCidr_StaticBandOfSlash16_EndsAt10_96_1_0()
    {
        var c = ServiceCidr.Parse("10.96.0.0/16");
        Assert.Equal("10.96.1.0", IpText.Format(c.AddressAt(c.StaticBand - 1)));
        Assert.Null(c.OffsetOf(IPAddress.Parse("10.96.255.255")));
    }

    [Fact]
    public void ServiceCidr_IPv6ShorterThan64_Rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ServiceCidr.Parse("fd00::/48"));
        Assert.Contains("shortest allowed prefix length for service CIDR is 64, got 48", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30000-32767", 86, 30000, 32767)]
    [InlineData("20000-32767", 128, 20000, 32767)]
    [InlineData("32567-32767", 16, 32567, 32767)]
    [InlineData("30000-30009", 0, 30000, 30009)]
    [InlineData("30000+100", 16, 30000, 30100)]
    public void NodePortRange_StaticBand_AsKep3668(string range, int band, int first, int last)
    {
        var a = new NodePortAllocator(PortRange.Parse(range), new Random(1));
        Assert.Equal(band, a.StaticBand);
        Assert.Equal(first, a.Range.Base);
        Assert.Equal(last, a.Range.Last);
    }

    [Fact]
    public void ClusterIpRange_Dynamic_UsesUpperBandFirst_ThenStaticBand()
    {
        var range = new ClusterIpRange(ServiceCidr.Parse("10.0.0.0/24"), new Random(7));
        var dynamic = new List<IPAddress>();
        for (var i = 0; i < 254 - 16; i++)
        {
            dynamic.Add(range.ReserveNext(0)!);
        }
        Assert.All(dynamic, ip => Assert.True(ip.GetAddressBytes()[3] > 16, $"{ip} is in the static band"));
        Assert.Equal(dynamic.Count, dynamic.Distinct().Count());
        // Upper band full: the static band is used next, then the range is full.
        var spill = range.ReserveNext(0)!;
        Assert.InRange(spill.GetAddressBytes()[3], 1, 16);
        for (var i = 0; i < 15; i++)
        {
            Assert.NotNull(range.ReserveNext(0));
        }
        Assert.Null(range.ReserveNext(0));
    }

    [Fact]
    public void ClusterIpRange_Static_HonouredOnce_NetworkAndBroadcastNotInRange()
    {
        var range = new ClusterIpRange(ServiceCidr.Parse("10.0.0.0/24"), new Random(7));
        Assert.Equal(ReserveOutcome.Reserved, range.TryReserve(IPAddress.Parse("10.0.0.5"), 0, out _));
        Assert.Equal(ReserveOutcome.Taken, range.TryReserve(IPAddress.Parse("10.0.0.5"), 0, out _));
        Assert.Equal(ReserveOutcome.NotInRange, range.TryReserve(IPAddress.Parse("10.0.0.0"), 0, out _));
        Assert.Equal(ReserveOutcome.NotInRange, range.TryReserve(IPAddress.Parse("10.0.0.255"), 0, out _));
        range.Free(IPAddress.Parse("10.0.0.5"));
        Assert.Equal(ReserveOutcome.Reserved, range.TryReserve(IPAddress.Parse("10.0.0.5"), 0, out _));
    }

    [Fact]
    public async Task ClusterIpRange_Release_KeepsAddressTakenUntilObjectIsGone()
    {
        var range = new ClusterIpRange(ServiceCidr.Parse("10.0.0.0/24"), new Random(7));
        var ip = IPAddress.Parse("10.0.0.9");
        range.TryReserve(ip, 0, out _);
        var gate = new TaskCompletionSource<bool>();
        Assert.True(range.BeginRelease(ip, () => gate.Task));
        Assert.Equal(ReserveOutcome.Releasing, range.TryReserve(ip, 0, out var releasing));
        gate.SetResult(true);
        await releasing!;
        Assert.Equal(ReserveOutcome.Reserved, range.TryReserve(ip, 0, out _));
    }

    [Fact]
    public void NodePorts_DynamicPrefersUpperBand_StaticAndRangeErrors()
    {
        var a = new NodePortAllocator(PortRange.Parse("30000-32767"), new Random(3));
        var ports = Enumerable.Range(0, 1000).Select(_ => a.ReserveNext()!.Value).ToList();
        Assert.All(ports, p => Assert.InRange(p, 30086, 32767));
        Assert.Equal(1000, ports.Distinct().Count());
        Assert.Equal(PortOutcome.NotInRange, a.TryReserve(29999));
        Assert.Equal(PortOutcome.Reserved, a.TryReserve(30000));
        Assert.Equal(PortOutcome.Taken, a.TryReserve(30000));
        a.Release(30000);
        Assert.Equal(PortOutcome.Reserved, a.TryReserve(30000));
    }

    [Fact]
    public void NodePorts_Exhaustion_ReturnsNull()
    {
        var a = new NodePortAllocator(PortRange.Parse("30000-30002"), new Random(3));
        Assert.NotNull(a.ReserveNext());
        Assert.NotNull(a.ReserveNext());
        Assert.NotNull(a.ReserveNext());
        Assert.Null(a.ReserveNext());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(4097)]
    [InlineData(70000)]
    public void Bitmap_FillsEveryOffsetExactlyOnce(int size)
    {
        var bitmap = new AllocationBitmap(size);
        var random = new Random(size);
        var seen = new HashSet<ulong>();
        for (var i = 0; i < size; i++)
        {
            var o = bitmap.FindFree(0, (ulong)size, random)!.Value;
            Assert.True(bitmap.Add(o));
            Assert.True(seen.Add(o));
        }
        Assert.Null(bitmap.FindFree(0, (ulong)size, random));
        Assert.Equal((ulong)size, bitmap.Count);
        Assert.Equal(size, bitmap.Taken().Count());
        Assert.True(bitmap.Remove((ulong)size / 2));
        Assert.Equal((ulong)size / 2, bitmap.FindFree(0, (ulong)size, random));
    }

    [Fact]
    public void SparseSet_LargeIPv6Range_Allocates()
    {
        var range = new ClusterIpRange(ServiceCidr.Parse("fd00:1::/64"), new Random(5));
        var ips = Enumerable.Range(0, 1000).Select(_ => range.ReserveNext(0)!).ToList();
        Assert.Equal(1000, ips.Distinct().Count());
        Assert.Equal(ReserveOutcome.Reserved, range.TryReserve(IPAddress.Parse("fd00:1::ffff:ffff:ffff:ffff"), 0, out _));
    }

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("010.000.000.001", "10.0.0.1")]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1")]
    [InlineData("FD00:0:0:0:0:0:0:A", "fd00::a")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("::1.2.3.4", "::102:304")]
    [InlineData("::", "::")]
    [InlineData("1:0:0:0:0:0:0:0", "1::")]
    public void IpText_ParsesAsGoSloppy_FormatsAsGo(string text, string canonical)
    {
        var ip = IpText.Parse(text);
        Assert.NotNull(ip);
        Assert.Equal(canonical, IpText.Format(ip));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.256")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("fe80::1%eth0")]
    [InlineData("1::2::3")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData(" 10.0.0.1")]
    [InlineData("")]
    public void IpText_RejectsWhatGoRejects(string text) => Assert.Null(IpText.Parse(text));

    [Theory]
    [InlineData("10.0.0.1/24", "10.0.0.0", 24)]
    [InlineData("fd00:10:96::/112", "fd00:10:96::", 112)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0)]
    public void IpText_ParsesCidr(string text, string network, int prefix)
    {
        var parsed = IpText.ParseCidr(text);
        Assert.NotNull(parsed);
        Assert.Equal(network, IpText.Format(parsed.Value.Network));
        Assert.Equal(prefix, parsed.Value.Prefix);
    }

    [Theory]
    [InlineData("1.2.3.4/33")]
    [InlineData("1.2.3.4")]
    [InlineData("1.2.3.4/-1")]
    [InlineData("foo.bar")]
    [InlineData("1.2.3.4/2 ")]
    public void IpText_RejectsBadCidr(string text) => Assert.Null(IpText.ParseCidr(text));

    /// <summary>
    /// Allocation must not slow down as the range fills: the cost of one dynamic allocation is measured with 1k and
    /// with 10k addresses taken in a /12, and with a /12 90% full.
    /// </summary>
    [Fact]
    public void ClusterIpRange_NinetyPercentFull_ReserveAndFreeStillSucceedWithoutDuplicates()
    {
        // The cost of this path is measured by bench ClusterIpRangeBenchmarks; here only its correctness.
        var range = new ClusterIpRange(ServiceCidr.Parse("10.96.0.0/12"), new Random(11));
        var held = new HashSet<string>();
        while (range.Used < 943_000)
        {
            Assert.True(held.Add(range.ReserveNext(0)!.ToString()));
        }
        for (var i = 0; i < 1000; i++)
        {
            var ip = range.ReserveNext(0)!;
            Assert.DoesNotContain(ip.ToString(), held);
            range.Free(ip);
        }
        Assert.Equal(943_000UL, range.Used);
    }
}
