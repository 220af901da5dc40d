using System.Collections.Immutable;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using Xunit.Abstractions;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests;

public sealed class Scratch(ITestOutputHelper output)
{
    [Fact]
    public void Measure()
    {
        const int n = 5000;
        var svcs = Enumerable.Range(0, n).Select(i => k8s.KubernetesJson.Serialize(ClusterIp("default", "svc" + i, $"10.96.{i / 250}.{i % 250 + 1}", ("http", 80, "TCP")))).ToList();
        var slices = Enumerable.Range(0, n).Select(i => k8s.KubernetesJson.Serialize(Slice("default", "svc" + i, "svc" + i + "-1", "IPv4", [("http", 8080, "TCP")], Ep($"10.100.{i / 125 % 256}.{i % 125 * 2 + 1}", "ep0"), Ep($"10.100.{i / 125 % 256}.{i % 125 * 2 + 2}", "ep1")))).ToList();
        var b0 = GC.GetTotalMemory(true);
        var slimSvcs = svcs.Select(j => k8s.KubernetesJson.Deserialize<ServiceObject>(j)).ToList();
        var slimSlices = slices.Select(j => k8s.KubernetesJson.Deserialize<EndpointSliceObject>(j)).ToList();
        var store = ImmutableDictionary.CreateRange(StringComparer.Ordinal, slimSvcs.Select(s => KeyValuePair.Create("default/" + s.Metadata.Name, (object)s)).Concat(slimSlices.Select(s => KeyValuePair.Create("default/" + s.Metadata.Name, (object)s))));
        var b1 = GC.GetTotalMemory(true);
        var index = new ZoneIndex("cluster.local", TimeProvider.System);
        index.UpsertNamespace("default");
        foreach (var s in slimSvcs) index.UpsertService(s);
        foreach (var s in slimSlices) index.UpsertSlice(s);
        var b2 = GC.GetTotalMemory(true);
        index.MarkSynced();
        index.Publish();
        var b3 = GC.GetTotalMemory(true);
        output.WriteLine($"slim objects+store: {(b1 - b0) / (double)n:F0} B per svc+slice; index sources: {(b2 - b1) / (double)n:F0}; snapshot: {(b3 - b2) / (double)n:F0}");
        GC.KeepAlive(store);
        GC.KeepAlive(index);
    }
}
