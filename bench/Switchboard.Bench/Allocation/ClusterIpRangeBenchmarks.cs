using BenchmarkDotNet.Attributes;
using Switchboard.ApiServer.Allocation;

namespace Switchboard.Bench.Allocation;

/// <summary>
/// Cost of one dynamic ClusterIP reservation plus its release at a fill level of a /12: flat from 1k to 90%
/// allocated is the target (the allocator must not scan). `--filter *ClusterIpRange*`.
/// </summary>
[MemoryDiagnoser]
public class ClusterIpRangeBenchmarks
{
    private ClusterIpRange _range = null!;

    [Params(1_000, 10_000, 943_000)]
    public int Allocated { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _range = new ClusterIpRange(ServiceCidr.Parse("10.96.0.0/12"), new Random(11));
        while (_range.Used < (ulong)Allocated)
        {
            _range.ReserveNext(0);
        }
    }

    [Benchmark]
    public void ReserveAndFree() => _range.Free(_range.ReserveNext(0)!);
}
