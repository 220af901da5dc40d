using System.Net;
using BenchmarkDotNet.Attributes;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Dns.Cache;
using Switchboard.Dns.Forward;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Server;
using Switchboard.Dns.Wire;

namespace Switchboard.Bench.Dns;

/// <summary>
/// The per-packet path of the DNS server (parse → zone or cache → write), without sockets, on a zone of 1,000
/// Services. MemoryDiagnoser must show 0 B allocated for every case: the hot path allocates nothing.
/// `dotnet run -c Release --project bench/Switchboard.Bench -- --filter *DnsPipeline*`
/// </summary>
[MemoryDiagnoser]
public class DnsPipelineBenchmarks
{
    private readonly byte[] _response = new byte[65535];
    private DnsPipeline _pipeline = null!;
    private Forwarder _forwarder = null!;
    private byte[] _clusterIpA = null!;
    private byte[] _nxdomain = null!;
    private byte[] _headlessSrv = null!;
    private byte[] _ptr = null!;
    private byte[] _cached = null!;
    private RequestContext _ctx;

    [GlobalSetup]
    public void Setup()
    {
        var index = new ZoneIndex("cluster.local", TimeProvider.System);
        index.UpsertNamespace("default");
        for (var i = 0; i < 1000; i++)
        {
            index.UpsertService(Service("svc" + i, $"10.96.{i / 250}.{(i % 250) + 1}", "http", 80));
        }
        index.UpsertService(Service("db", "None", "pg", 5432));
        index.UpsertSlice(new EndpointSliceObject
        {
            Metadata = new V1ObjectMeta { Name = "db-1", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "db" } },
            AddressType = "IPv4",
            Ports = [new PortPart { Name = "pg", Port = 5432, Protocol = "TCP" }],
            Endpoints = [.. Enumerable.Range(0, 3).Select(i => new EndpointPart { Addresses = [$"10.244.1.{i + 1}"], Hostname = $"db-{i}" })],
        });
        index.MarkSynced();
        index.Publish();

        var metrics = new DnsMetrics("dns://:53", ["127.0.0.1:53"], "bench");
        var time = TimeProvider.System;
        // The upstream is never contacted: the forwarded name is already in the cache.
        _forwarder = new Forwarder([new IPEndPoint(IPAddress.Loopback, 9)], new ForwardOptions(), time, metrics, NullLogger.Instance);
        var cache = new ResponseCache(1000, time, metrics);
        cache.Store(DnsName.Encode("example.org"), DnsType.A, Upstream());
        var zone = new ClusterZone(index, 5, PodsMode.Disabled, reverseFallthrough: true);
        _pipeline = new DnsPipeline(zone, cache, _forwarder, null, metrics, 1232, time, NullLogger.Instance);
        _ctx = new RequestContext(false, false, IpKey.From(IPAddress.Loopback), true);

        _clusterIpA = Query("svc500.default.svc.cluster.local", DnsType.A);
        _nxdomain = Query("nosuch.default.svc.cluster.local", DnsType.A);
        _headlessSrv = Query("_pg._tcp.db.default.svc.cluster.local", DnsType.SRV);
        _ptr = Query("1.1.96.10.in-addr.arpa", DnsType.PTR);
        _cached = Query("example.org", DnsType.A);
    }

    [GlobalCleanup]
    public void Cleanup() => _forwarder.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public int ClusterIpA() => Check(_pipeline.Handle(_clusterIpA, _response, _ctx));

    [Benchmark]
    public int NxDomain() => Check(_pipeline.Handle(_nxdomain, _response, _ctx));

    [Benchmark]
    public int HeadlessSrv() => Check(_pipeline.Handle(_headlessSrv, _response, _ctx));

    [Benchmark]
    public int ReversePtr() => Check(_pipeline.Handle(_ptr, _response, _ctx));

    [Benchmark]
    public int ForwardCacheHit() => Check(_pipeline.Handle(_cached, _response, _ctx));

    private static ServiceObject Service(string name, string clusterIp, string port, int number) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new ServiceSpecPart { Type = "ClusterIP", ClusterIP = clusterIp, Ports = [new PortPart { Name = port, Port = number, Protocol = "TCP" }] },
    };

    private static int Check(int length) => length > 0 ? length : throw new InvalidOperationException("no synchronous answer");

    private static byte[] Query(string name, ushort type)
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, buffer.Length);
        w.TryWriteQuestion(DnsName.Encode(name), type, DnsClass.IN);
        w.TryAddOpt(1232, 0, false);
        return buffer[..w.Finish(0x1234, DnsFlags.RD, 0)];
    }

    private static byte[] Upstream()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer, buffer.Length);
        w.TryWriteQuestion(DnsName.Encode("example.org"), DnsType.A, DnsClass.IN);
        w.TryAddAddress(DnsSection.Answer, NameRef.Question, 3600, [192, 0, 2, 1]);
        return buffer[..w.Finish(1, DnsFlags.QR | DnsFlags.RD | DnsFlags.RA, 0)];
    }
}
