using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using k8s.Models;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;

namespace Switchboard.Bench.Proxy;

/// <summary>
/// The pure generation part of a sync (trackers → generator → transaction, no nft process): a full sync of
/// <see cref="Services"/> × 10 endpoints, its <c>nft -f</c> script, and a partial sync adding (then removing) one
/// Service. Run: <c>Switchboard.Bench --filter *ProxyGeneration*</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessShortConfig))]
public class ProxyGenerationBenchmarks
{
    private NftablesProxier _proxier = null!;
    private DiscardNftables _nft = null!;
    private NftTransaction _full = null!;
    private int _zone;

    [Params(10_000)]
    public int Services { get; set; }

    public int Endpoints { get; set; } = 10;

    internal string FullScript => NftScript.Write(_full);

    internal string AddScript { get; private set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _nft = new DiscardNftables();
        _proxier = new NftablesProxier(
            new NftablesProxierOptions { Family = IpFamily.IPv4, NodeName = "bench-node", TableName = "bench", ClusterCidrs = [IPNetwork.Parse("10.128.0.0/9")], NodePortAddresses = [] },
            _nft,
            TimeProvider.System);
        for (var i = 0; i < Services; i++)
        {
            _proxier.OnServiceAdd(Service(i));
            _proxier.OnEndpointSliceAdd(Slice(i, Endpoints));
        }
        _proxier.OnServicesSynced();
        _proxier.OnEndpointSlicesSynced();
        _proxier.SyncAsync(CancellationToken.None).GetAwaiter().GetResult();
        _full = _nft.Last!;
    }

    /// <summary>A full resync (what a start, a failure or a zone change costs), without running nft.</summary>
    [Benchmark]
    public int FullSyncGeneration()
    {
        // A node-label change forces the next sync to be a full one.
        _proxier.OnNodeLabels(new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "z" + _zone++ });
        _proxier.SyncAsync(CancellationToken.None).GetAwaiter().GetResult();
        return _nft.Last!.Count;
    }

    /// <summary>The full sync's transaction as the nft -f script.</summary>
    [Benchmark]
    public int FullSyncScript() => NftScript.Write(_full).Length;

    /// <summary>Two partial syncs: one Service (with its 10 endpoints) added, then removed.</summary>
    [Benchmark]
    public int AddAndRemoveOneService()
    {
        _proxier.OnEndpointSliceAdd(Slice(Services, 10));
        _proxier.OnServiceAdd(Service(Services));
        _proxier.SyncAsync(CancellationToken.None).GetAwaiter().GetResult();
        var ops = _nft.Last!.Count;
        AddScript = NftScript.Write(_nft.Last!);
        _proxier.OnServiceDelete(Service(Services));
        _proxier.OnEndpointSliceDelete(Slice(Services, 10));
        _proxier.SyncAsync(CancellationToken.None).GetAwaiter().GetResult();
        return ops;
    }

    internal static V1Service Service(int i)
    {
        var v = 0x0A600000u + 100 + (uint)i;
        var ip = $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";
        return new V1Service
        {
            Metadata = new V1ObjectMeta { Name = $"s{i}", NamespaceProperty = $"bench-{i % 100}" },
            Spec = new V1ServiceSpec { Type = "ClusterIP", ClusterIP = ip, ClusterIPs = [ip], Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
        };
    }

    internal static V1EndpointSlice Slice(int i, int endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = $"s{i}-1", NamespaceProperty = $"bench-{i % 100}", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = $"s{i}" } },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
        Endpoints = [.. Enumerable.Range(0, endpoints).Select(j =>
        {
            var v = 0x0A800000u + (uint)((i * endpoints) + j) + 1;
            return new V1Endpoint
            {
                Addresses = [$"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"],
                NodeName = $"node-{j % 30}",
                Zone = $"zone-{"abc"[j % 3]}",
                Conditions = new V1EndpointConditions { Ready = true },
            };
        })],
    };

    /// <summary>Accepts every transaction (keeps the last) and reports an empty kernel.</summary>
    internal sealed class DiscardNftables : INftables
    {
        public NftTransaction? Last { get; private set; }

        public Task RunAsync(NftTransaction transaction, CancellationToken ct)
        {
            Last = transaction;
            return Task.CompletedTask;
        }

        public Task CheckAsync(NftTransaction transaction, CancellationToken ct) => Task.CompletedTask;

        public Task<IReadOnlyList<string>> ListAsync(NftTableRef table, NftObjectKind kind, CancellationToken ct) =>
            throw new NftablesException(NftErrorKind.NotFound, "no table");

        public Task<IReadOnlyList<NftRule>> ListRulesAsync(NftTableRef table, string chain, CancellationToken ct) => Task.FromResult<IReadOnlyList<NftRule>>([]);

        public Task<IReadOnlyList<NftElement>> ListElementsAsync(NftTableRef table, NftObjectKind kind, string name, CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<NftElement>>([]);
    }
}

/// <summary>In process (a 10,000-Service setup is too slow to repeat per launch), few iterations: seconds per op.</summary>
internal sealed class InProcessShortConfig : ManualConfig
{
    public InProcessShortConfig() =>
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(7));
}
