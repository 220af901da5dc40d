using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Proxy.Userspace;
using Switchboard.TestKit;

namespace Switchboard.Proxy.Tests.Userspace;

/// <summary>
/// Functional: the real API server, the publisher on a unique loopback address, and a dialer that maps each
/// "LB IP" to a loopback backend that names itself — so each test checks which backend answered.
/// </summary>
public sealed class HostPublisherTests : IAsyncLifetime
{
    private readonly IPAddress _host = IPAddress.Parse($"127.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}.1");
    private readonly MapDialer _dialer = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var d in _owned)
        {
            await d.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task LoadBalancerService_TcpAndUdp_ReachTheBackendOfItsLbIp()
    {
        var client = _server.Client;
        var port = FreePort();
        var tcpBackend = new NamedTcpServer("web-backend");
        var udpBackend = new NamedUdpServer("dns-backend");
        _owned.Add(tcpBackend);
        _owned.Add(udpBackend);
        _dialer.Map[IPAddress.Parse("172.18.255.7")] = (tcpBackend.Port, udpBackend.Port);
        await CreateLbAsync(client, "web", port, "172.18.255.7", "TCP", "UDP");
        await StartPublisherAsync(client);

        await PollAsync(async () => (await TryTcpAskAsync(new IPEndPoint(_host, port))) is not null);
        Assert.Equal("web-backend", await TcpAskAsync(new IPEndPoint(_host, port)));
        Assert.Equal("dns-backend", await UdpAskAsync(new IPEndPoint(_host, port)));

        // Deleting the Service unpublishes its ports.
        await client.CoreV1.DeleteNamespacedServiceAsync("web", "default");
        await PollAsync(async () =>
        {
            try
            {
                await TcpAskAsync(new IPEndPoint(_host, port));
                return false;
            }
            catch (SocketException)
            {
                return true;
            }
        });
    }

    [Fact]
    public async Task PortTakenByAnotherProgram_ReportsPortInUseAndEvent_ThenPublishesWhenFreed()
    {
        var client = _server.Client;
        var port = FreePort();
        var backend = new NamedTcpServer("late-backend");
        _owned.Add(backend);
        _dialer.Map[IPAddress.Parse("172.18.255.8")] = (backend.Port, 0);
        var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(_host, port));
        squatter.Listen();
        await CreateLbAsync(client, "late", port, "172.18.255.8", "TCP");
        await StartPublisherAsync(client);

        await PollAsync(async () =>
        {
            var s = await client.CoreV1.ReadNamespacedServiceAsync("late", "default");
            return s.Status.LoadBalancer.Ingress[0].Ports?.SingleOrDefault() is { Error: HostPublisher.PortInUse } p && p.Port == port && p.Protocol == "TCP";
        });
        await PollAsync(async () => (await client.CoreV1.ListNamespacedEventAsync("default")).Items.Any(e => e.Reason == HostPublisher.PortInUse && e.Type == "Warning" && e.InvolvedObject.Name == "late" && e.Message.Contains(port.ToString())));

        squatter.Dispose();
        await PollAsync(async () =>
        {
            try
            {
                return await TcpAskAsync(new IPEndPoint(_host, port)) == "late-backend";
            }
            catch (SocketException)
            {
                return false;
            }
        });
        await PollAsync(async () => (await client.CoreV1.ReadNamespacedServiceAsync("late", "default")).Status.LoadBalancer.Ingress[0].Ports is not { Count: > 0 });
    }

    [Fact]
    public async Task TwoServicesSamePort_OlderWins_NewerGetsPortInUse()
    {
        var client = _server.Client;
        var port = FreePort();
        var first = new NamedTcpServer("first");
        var second = new NamedTcpServer("second");
        _owned.Add(first);
        _owned.Add(second);
        _dialer.Map[IPAddress.Parse("172.18.255.11")] = (first.Port, 0);
        _dialer.Map[IPAddress.Parse("172.18.255.12")] = (second.Port, 0);
        await CreateLbAsync(client, "first", port, "172.18.255.11", "TCP");
        await Task.Delay(1100); // creationTimestamp has second precision: make "first" strictly older
        await CreateLbAsync(client, "second", port, "172.18.255.12", "TCP");
        await StartPublisherAsync(client);

        await PollAsync(async () => (await client.CoreV1.ReadNamespacedServiceAsync("second", "default")).Status.LoadBalancer.Ingress[0].Ports?.SingleOrDefault()?.Error == HostPublisher.PortInUse);
        await PollAsync(async () => (await TryTcpAskAsync(new IPEndPoint(_host, port))) is not null);
        Assert.Equal("first", await TcpAskAsync(new IPEndPoint(_host, port)));
        Assert.Null((await client.CoreV1.ReadNamespacedServiceAsync("first", "default")).Status.LoadBalancer.Ingress[0].Ports);
    }

    [Fact]
    public void Desired_DualStackIngress_V4OnHostAddressV6OnLoopback()
    {
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "d", NamespaceProperty = "ns", CreationTimestamp = DateTime.UtcNow },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }, new V1ServicePort { Port = 5000, Protocol = "SCTP" }] },
            Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "172.18.255.1" }, new V1LoadBalancerIngress { Ip = "fd00:172:18:ff::1" }] } },
        };
        var desired = HostPublisher.Desired([svc], IPAddress.Parse("127.0.0.1"), IPAddress.IPv6Loopback);
        Assert.Equal(["127.0.0.1:80/TCP → 172.18.255.1:80", "[::1]:80/TCP → [fd00:172:18:ff::1]:80"], desired.Select(d => d.Key + " → " + d.Backend));
    }

    private async Task StartPublisherAsync(Kubernetes client)
    {
        var publisher = new HostPublisher(client, _dialer, _host, IPAddress.IPv6Loopback, NullLoggerFactory.Instance, TimeProvider.System);
        var stop = new CancellationTokenSource();
        var run = publisher.RunAsync(stop.Token);
        _owned.Insert(0, new Stopper(async () =>
        {
            await stop.CancelAsync();
            await run;
            await publisher.DisposeAsync();
            stop.Dispose();
        }));
        await Task.CompletedTask;
    }

    private static async Task CreateLbAsync(Kubernetes client, string name, int port, string lbIp, params string[] protocols)
    {
        var svc = await client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", Ports = [.. protocols.Select(p => new V1ServicePort { Name = p.ToLowerInvariant(), Port = port, Protocol = p })] },
        }, "default");
        svc.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = lbIp, IpMode = "VIP" }] } };
        await client.CoreV1.ReplaceNamespacedServiceStatusAsync(svc, name, "default");
    }

    private int FreePort()
    {
        // A port free for both TCP and UDP on our host address.
        while (true)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(_host, 0));
            var port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(_host, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    private static async Task<string> TcpAskAsync(IPEndPoint endpoint)
    {
        using var s = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await s.ConnectAsync(endpoint, cts.Token);
        await s.SendAsync("hello"u8.ToArray(), SocketFlags.None, cts.Token);
        s.Shutdown(SocketShutdown.Send);
        var buffer = new byte[256];
        var total = 0;
        int n;
        while ((n = await s.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token)) > 0)
        {
            total += n;
        }
        if (total == 0)
        {
            throw new SocketException((int)SocketError.ConnectionReset);
        }
        return Encoding.ASCII.GetString(buffer, 0, total);
    }

    private static async Task<string?> TryTcpAskAsync(IPEndPoint endpoint)
    {
        try
        {
            return await TcpAskAsync(endpoint);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static async Task<string> UdpAskAsync(IPEndPoint endpoint)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var s = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            s.Connect(endpoint);
            await s.SendAsync("hostname"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[256];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                var n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                return Encoding.ASCII.GetString(buffer, 0, n);
            }
            catch (Exception) when (attempt < 30)
            {
            }
        }
    }

    private static async Task PollAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(50);
        }
    }

    private sealed class MapDialer : IBackendDialer
    {
        public Dictionary<IPAddress, (int Tcp, int Udp)> Map { get; } = [];

        public async Task<Socket> ConnectTcpAsync(IPEndPoint backend, CancellationToken ct)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Map[backend.Address].Tcp), ct);
            return s;
        }

        public Task<Socket> ConnectUdpAsync(IPEndPoint backend, CancellationToken ct)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Connect(new IPEndPoint(IPAddress.Loopback, Map[backend.Address].Udp));
            return Task.FromResult(s);
        }
    }

    private sealed class Stopper(Func<Task> stop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await stop();
    }

    /// <summary>Reads a request to EOF, answers with its name and closes.</summary>
    private sealed class NamedTcpServer : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly Task _loop;

        public NamedTcpServer(string name)
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    Socket c;
                    try
                    {
                        c = await _listener.AcceptAsync();
                    }
                    catch (Exception)
                    {
                        return;
                    }
                    _ = Task.Run(async () =>
                    {
                        using (c)
                        {
                            var buffer = new byte[256];
                            while (await c.ReceiveAsync(buffer) > 0)
                            {
                            }
                            await c.SendAsync(Encoding.ASCII.GetBytes(name));
                            c.Shutdown(SocketShutdown.Both);
                        }
                    });
                }
            });
        }

        public int Port { get; }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            await _loop;
        }
    }

    private sealed class NamedUdpServer : IAsyncDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Task _loop;

        public NamedUdpServer(string name)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
            _loop = Task.Run(async () =>
            {
                var buffer = new byte[256];
                while (true)
                {
                    try
                    {
                        var r = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0));
                        await _socket.SendToAsync(Encoding.ASCII.GetBytes(name), r.RemoteEndPoint);
                    }
                    catch (Exception)
                    {
                        return;
                    }
                }
            });
        }

        public int Port { get; }

        public async ValueTask DisposeAsync()
        {
            _socket.Dispose();
            await _loop;
        }
    }
}
