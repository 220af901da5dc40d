using System.Net;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Fake;
using Switchboard.Netfilter.Tracing;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;

namespace Switchboard.Proxy.Tests.Nftables;

/// <summary>One packet-flow expectation (upstream packetFlowTest).</summary>
internal sealed record FlowCase(string Name, string SourceIp, string DestIp, int DestPort, string Output, bool Masq, string Protocol = "tcp", PacketOrigin Origin = PacketOrigin.External)
{
    public override string ToString() => Name;
}

/// <summary>
/// Trackers → generator → fake nftables → tracer, for one node with the upstream test addresses:
/// node 192.168.0.2 / 2001:db8::1, cluster CIDR 10.0.0.0/8 / fd00:10::/64 (local-traffic detection).
/// </summary>
internal sealed class ProxierHarness
{
    public const string NodeName = "test-node";
    public const string NodeIp = "192.168.0.2";
    public const string NodeIp6 = "2001:db8::1";

    /// <summary>Upstream testNodeIPs: every address the tracer treats as the node's own.</summary>
    public static readonly string[] TracerNodeIps = ["192.168.0.2", "192.168.1.2", "192.168.99.11", "2001:db8::1", "2001:db8:1::2"];

    public ProxierHarness(IpFamily family = IpFamily.IPv4, Func<NftablesProxierOptions, NftablesProxierOptions>? configure = null, Func<FakeNftables, INftables>? backend = null,
        Switchboard.Netfilter.Conntrack.IConntrack? conntrack = null)
    {
        var options = new NftablesProxierOptions
        {
            Family = family,
            NodeName = NodeName,
            NodeIp = IPAddress.Parse(family == IpFamily.IPv4 ? NodeIp : NodeIp6),
            ClusterCidrs = [IPNetwork.Parse(family == IpFamily.IPv4 ? "10.0.0.0/8" : "fd00:10::/64")],
            NodePortAddresses = [IPAddress.Parse(family == IpFamily.IPv4 ? NodeIp : NodeIp6)],
        };
        Proxier = new NftablesProxier(configure?.Invoke(options) ?? options, backend?.Invoke(Nft) ?? Nft, Time, Logger,
            conntrack is null ? null : new Switchboard.Proxy.Conntrack.ConntrackCleaner(conntrack));
        Proxier.Synced = o => Outcomes.Add(o);
        Proxier.RequestSyncAfter = d => RequestedDelays.Add(d);
    }

    public FakeNftables Nft { get; } = new();

    public ListLogger Logger { get; } = new();

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    public NftablesProxier Proxier { get; }

    public List<SyncOutcome> Outcomes { get; } = [];

    public List<TimeSpan> RequestedDelays { get; } = [];

    public SyncOutcome Last => Outcomes[^1];

    public ProxierHarness Add(params V1Service[] services)
    {
        foreach (var s in services)
        {
            Proxier.OnServiceAdd(s);
        }

        return this;
    }

    public ProxierHarness Add(params V1EndpointSlice[] slices)
    {
        foreach (var s in slices)
        {
            Proxier.OnEndpointSliceAdd(s);
        }

        return this;
    }

    public async Task<SyncOutcome> SyncAsync()
    {
        if (!Proxier.IsInitialized)
        {
            Proxier.OnServicesSynced();
            Proxier.OnEndpointSlicesSynced();
        }

        var before = Outcomes.Count;
        await Proxier.SyncAsync(CancellationToken.None);
        Assert.True(Outcomes.Count == before + 1, "the sync did not succeed:\n" + string.Join("\n", Logger.Entries));
        return Last;
    }

    public TraceResult Trace(string src, string dst, int port, string protocol = "tcp", PacketOrigin origin = PacketOrigin.External) =>
        new PacketTracer(Nft.Snapshot, TracerNodeIps).Trace(new TracePacket(src, protocol, dst, port, origin));

    public void AssertFlows(params FlowCase[] cases)
    {
        var errors = new List<string>();
        foreach (var c in cases)
        {
            var r = Trace(c.SourceIp, c.DestIp, c.DestPort, c.Protocol, c.Origin);
            if (r.Output != c.Output || r.Masqueraded != c.Masq)
            {
                errors.Add($"{c.Name}: {c.SourceIp} -> {c.DestIp}:{c.DestPort}/{c.Protocol} ({c.Origin}): expected \"{c.Output}\" masq={c.Masq}, got {r}");
            }
        }

        Assert.True(errors.Count == 0, string.Join("\n\n", errors) + "\n\nruleset:\n" + Nft.Dump());
    }

    /// <summary>The rules of one chain, in order, as text.</summary>
    public IReadOnlyList<string> Rules(string chainPrefix)
    {
        var table = Nft.Snapshot.Table(Proxier.Table) ?? throw new InvalidOperationException("no table");
        var chain = table.Chains.Values.Single(c => c.Name == chainPrefix || (c.Name.StartsWith(chainPrefix, StringComparison.Ordinal) && c.Name.Contains('/', StringComparison.Ordinal)));
        return [.. chain.Rules.Select(r => r.Text)];
    }

    public NftTableState Table => Nft.Snapshot.Table(Proxier.Table) ?? throw new InvalidOperationException("no table");
}
