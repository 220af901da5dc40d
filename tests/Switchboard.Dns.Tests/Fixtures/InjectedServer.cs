using System.Net;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Dns.Kubernetes;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>
/// A DNS server whose zone is fed directly with API objects (through the same cut-down conversion the reflector
/// handlers use) instead of list+watch: for shapes the in-process API server cannot allocate yet (dual-stack
/// ClusterIPs), Pods with IPs, and virtual time.
/// </summary>
internal sealed class InjectedServer : IAsyncDisposable
{
    private InjectedServer(DnsServer server, ZoneIndex index)
    {
        Server = server;
        Index = index;
    }

    public DnsServer Server { get; }

    public ZoneIndex Index { get; }

    public int Port => Server.EndPoints[0].Port;

    public static async Task<InjectedServer> StartAsync(DnsOptions options, TimeProvider? time = null, bool synced = true, params object[] objects)
    {
        time ??= TimeProvider.System;
        var index = new ZoneIndex(options.ClusterDomain, time, [IPAddress.Loopback]);
        Feed(index, objects);
        if (synced)
        {
            index.MarkSynced();
            index.Publish();
        }
        var server = DnsServer.Start(options, null, NullLoggerFactory.Instance, time, index);
        if (synced)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitReadyAsync(cts.Token);
        }
        return new InjectedServer(server, index);
    }

    public static void Feed(ZoneIndex index, params object[] objects)
    {
        foreach (var o in objects)
        {
            switch (o)
            {
                case V1Namespace ns:
                    index.UpsertNamespace(Slim<NamespaceObject>(ns).Metadata.Name);
                    break;
                case V1Service svc:
                    index.UpsertService(Slim<ServiceObject>(svc));
                    break;
                case V1EndpointSlice slice:
                    index.UpsertSlice(Slim<EndpointSliceObject>(slice));
                    break;
                case V1Pod pod:
                    index.UpsertPod(PodInfo.From(Slim<PodObject>(pod)));
                    break;
                default:
                    throw new ArgumentException(o.GetType().Name);
            }
        }
    }

    /// <summary>An API object as the reflector would cache it: serialized as the server sends it, parsed into the slim model.</summary>
    public static T Slim<T>(object apiObject) => k8s.KubernetesJson.Deserialize<T>(k8s.KubernetesJson.Serialize(apiObject));

    public static V1Pod Pod(string ns, string name, params string[] ips) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1PodSpec(),
        Status = new V1PodStatus { PodIP = ips[0], PodIPs = [.. ips.Select(i => new V1PodIP { Ip = i })] },
    };

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
