using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Netfilter;
using Switchboard.Proxy.Model;
using Switchboard.Proxy.Nftables;

namespace Switchboard.Bench.Datapath;

/// <summary>
/// Two "nodes" wired the way `up` wires them, in namespaces this bench makes (sbt&lt;hex&gt;-*), removed on dispose:
/// an underlay namespace with a bridge (172.31.0.1/24), node namespaces on it (172.31.0.11, .12) with host-gw
/// routes to each other's Pod CIDR, and one Pod per node attached like the CNI ptp plugin does it (veth, /32 gateway
/// on the node side, Pod address /24 with routes via the gateway). The LB IP is routed in the underlay with an ECMP
/// route over both nodes, as the built-in cloud provider does. Each node namespace gets the REAL proxy ruleset from
/// <see cref="NftablesProxier"/> through the real nft runner.
/// </summary>
internal sealed partial class Testbed : IAsyncDisposable
{
    public const string ClusterIp = "10.96.0.20";
    public const string LbIp = "172.31.255.10";
    public const string ClientPodIp = "10.244.1.5";
    public const string ServerPodIp = "10.244.2.5";
    public const int IperfPodPort = 5201;
    public const int ConnPodPort = 5300;
    private const int CloneNewNet = 0x40000000;

    private readonly List<string> _namespaces = [];
    private readonly List<Process> _processes = [];

    private Testbed(string prefix) => Prefix = prefix;

    public string Prefix { get; }

    public string Underlay => Prefix + "-u";

    public string ClientPod => Prefix + "-pc";

    public string ServerPod => Prefix + "-ps";

    /// <summary>Service port of the iperf3 backend (also the host-published port, so it must be free on 127.0.0.1).</summary>
    public int IperfServicePort { get; private set; }

    public int ConnServicePort { get; private set; }

    public static async Task<Testbed> CreateAsync()
    {
        var bed = new Testbed("sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3)));
        try
        {
            await bed.BuildAsync();
        }
        catch
        {
            await bed.DisposeAsync();
            throw;
        }
        return bed;
    }

    /// <summary>The LoadBalancer Service both nodes program (eTP Cluster): ClusterIP, NodePorts and the LB IP.</summary>
    public V1Service Service() => new()
    {
        Metadata = new V1ObjectMeta { Name = "bench", NamespaceProperty = "default", CreationTimestamp = DateTime.UtcNow },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            ClusterIP = ClusterIp,
            ClusterIPs = [ClusterIp],
            IpFamilies = ["IPv4"],
            IpFamilyPolicy = "SingleStack",
            ExternalTrafficPolicy = "Cluster",
            SessionAffinity = "None",
            Ports =
            [
                new V1ServicePort { Name = "iperf", Port = IperfServicePort, TargetPort = IperfPodPort, Protocol = "TCP", NodePort = 30201 },
                new V1ServicePort { Name = "conn", Port = ConnServicePort, TargetPort = ConnPodPort, Protocol = "TCP", NodePort = 30202 },
            ],
        },
        Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = LbIp, IpMode = "VIP" }] } },
    };

    public static V1EndpointSlice Slice() => new()
    {
        Metadata = new V1ObjectMeta { Name = "bench-x1", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "bench" } },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "iperf", Port = IperfPodPort, Protocol = "TCP" }, new Discoveryv1EndpointPort { Name = "conn", Port = ConnPodPort, Protocol = "TCP" }],
        Endpoints = [new V1Endpoint { Addresses = [ServerPodIp], NodeName = "n2", Conditions = new V1EndpointConditions { Ready = true, Serving = true, Terminating = false } }],
    };

    /// <summary>Starts a long-running process that this bed owns and kills (by pid) on dispose.</summary>
    public Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi)!;
        _processes.Add(p);
        return p;
    }

    public static async Task<string> ShAsync(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var stdout = p.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = p.StandardError.ReadToEndAsync(cts.Token);
        await p.WaitForExitAsync(cts.Token);
        return p.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {await stderr}");
    }

    public Task<string> InAsync(string netns, params string[] command) => ShAsync(["ip", "netns", "exec", netns, .. command]);

    /// <summary>A socket living in <paramref name="netns"/>, made on a short-lived thread that setns()es there.</summary>
    public static Socket CreateSocketIn(string netns, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle("/run/netns/" + netns);
                if (SetNs((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new IOException($"setns({netns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                socket = new Socket(family, type, protocol);
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        return error is not null ? throw error : socket!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    await p.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            try
            {
                await ShAsync("ip", "netns", "del", ns);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine("bench: cleanup: " + e.Message);
            }
        }
    }

    private async Task AddNamespaceAsync(string name)
    {
        _namespaces.Add(name);
        await ShAsync("ip", "netns", "add", name);
        await InAsync(name, "ip", "link", "set", "lo", "up");
    }

    private async Task BuildAsync()
    {
        (IperfServicePort, ConnServicePort) = (FreeLoopbackPort(), FreeLoopbackPort());
        var u = Underlay;
        await AddNamespaceAsync(u);
        await InAsync(u, "ip", "link", "add", Prefix + "-br", "type", "bridge");
        await InAsync(u, "ip", "addr", "add", "172.31.0.1/24", "dev", Prefix + "-br");
        await InAsync(u, "ip", "link", "set", Prefix + "-br", "up");
        var nodes = new[] { (Name: "n1", Index: 1, Ip: "172.31.0.11", Pod: ClientPod, PodIp: ClientPodIp), (Name: "n2", Index: 2, Ip: "172.31.0.12", Pod: ServerPod, PodIp: ServerPodIp) };
        foreach (var n in nodes)
        {
            var ns = Prefix + "-" + n.Name;
            await AddNamespaceAsync(ns);
            await InAsync(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            await ShAsync("ip", "link", "add", Prefix + "-" + n.Index + "u", "netns", u, "type", "veth", "peer", "name", "eth0", "netns", ns);
            await InAsync(u, "ip", "link", "set", Prefix + "-" + n.Index + "u", "master", Prefix + "-br", "up");
            await InAsync(ns, "ip", "addr", "add", n.Ip + "/24", "dev", "eth0");
            await InAsync(ns, "ip", "link", "set", "eth0", "up");
            await InAsync(ns, "ip", "route", "add", "default", "via", "172.31.0.1");
            // ptp-style Pod: /32 gateway on the node's veth, the Pod reaches everything through it.
            await AddNamespaceAsync(n.Pod);
            var gw = $"10.244.{n.Index}.1";
            var hostVeth = Prefix + "-v" + n.Index;
            await ShAsync("ip", "link", "add", hostVeth, "netns", ns, "type", "veth", "peer", "name", "eth0", "netns", n.Pod);
            await InAsync(ns, "ip", "addr", "add", gw + "/32", "dev", hostVeth);
            await InAsync(ns, "ip", "link", "set", hostVeth, "up");
            await InAsync(ns, "ip", "route", "add", n.PodIp + "/32", "dev", hostVeth, "src", gw);
            await InAsync(n.Pod, "ip", "addr", "add", n.PodIp + "/24", "dev", "eth0", "noprefixroute");
            await InAsync(n.Pod, "ip", "link", "set", "eth0", "up");
            await InAsync(n.Pod, "ip", "route", "add", gw, "dev", "eth0", "scope", "link");
            await InAsync(n.Pod, "ip", "route", "add", "default", "via", gw, "dev", "eth0");
            await InAsync(u, "ip", "route", "add", $"10.244.{n.Index}.0/24", "via", n.Ip);
        }
        // host-gw routes between the nodes, as the agent's route controller keeps them.
        await InAsync(Prefix + "-n1", "ip", "route", "add", "10.244.2.0/24", "via", "172.31.0.12");
        await InAsync(Prefix + "-n2", "ip", "route", "add", "10.244.1.0/24", "via", "172.31.0.11");
        await InAsync(u, "ip", "route", "add", LbIp + "/32", "nexthop", "via", "172.31.0.11", "nexthop", "via", "172.31.0.12");

        foreach (var n in nodes)
        {
            await ProgramProxyAsync(Prefix + "-" + n.Name, n.Name, n.Ip);
        }
    }

    /// <summary>The real generator's first (full) sync through the real nft runner in the node's namespace.</summary>
    private async Task ProgramProxyAsync(string netns, string nodeName, string nodeIp)
    {
        var options = new NftablesProxierOptions
        {
            Family = IpFamily.IPv4,
            NodeName = nodeName,
            TableName = Prefix + "-proxy",
            NodeIp = IPAddress.Parse(nodeIp),
            ClusterCidrs = [IPNetwork.Parse("10.244.0.0/16")],
            NodePortAddresses = [IPAddress.Parse(nodeIp)],
        };
        var proxier = new NftablesProxier(options, new NftablesRunner(netns), TimeProvider.System, NullLogger.Instance);
        var synced = 0;
        proxier.Synced = _ => synced++;
        proxier.OnServiceCidrsChanged([IPNetwork.Parse("10.96.0.0/16")]);
        proxier.OnServiceAdd(Service());
        proxier.OnEndpointSliceAdd(Slice());
        proxier.OnServicesSynced();
        proxier.OnEndpointSlicesSynced();
        await proxier.SyncAsync(CancellationToken.None);
        if (synced != 1)
        {
            throw new InvalidOperationException($"the proxy ruleset did not load in {netns}");
        }
    }

    private static int FreeLoopbackPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}

/// <summary>
/// The publisher's dialer as `up` has it (one thread that setns()ed into the underlay once and makes sockets there
/// on request; connect and I/O are ordinary async code).
/// </summary>
internal sealed partial class UnderlayDialer : Switchboard.Proxy.Userspace.IBackendDialer, IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly BlockingCollection<(SocketType Type, ProtocolType Protocol, TaskCompletionSource<Socket> Result)> _requests = [];
    private readonly Thread _thread;

    public UnderlayDialer(string netns)
    {
        var entered = new TaskCompletionSource();
        _thread = new Thread(() =>
        {
            using (var fd = File.OpenHandle("/run/netns/" + netns))
            {
                if (SetNs((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    entered.SetException(new IOException("setns failed"));
                    return;
                }
            }
            entered.SetResult();
            foreach (var r in _requests.GetConsumingEnumerable())
            {
                try
                {
                    r.Result.SetResult(new Socket(AddressFamily.InterNetwork, r.Type, r.Protocol));
                }
                catch (SocketException e)
                {
                    r.Result.SetException(e);
                }
            }
        }) { IsBackground = true };
        _thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public async Task<Socket> ConnectTcpAsync(IPEndPoint backend, CancellationToken ct)
    {
        var socket = await CreateAsync(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(backend, ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task<Socket> ConnectUdpAsync(IPEndPoint backend, CancellationToken ct)
    {
        var socket = await CreateAsync(SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(backend, ct);
        return socket;
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        _thread.Join();
        _requests.Dispose();
    }

    private Task<Socket> CreateAsync(SocketType type, ProtocolType protocol)
    {
        var tcs = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add((type, protocol, tcs));
        return tcs.Task;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
