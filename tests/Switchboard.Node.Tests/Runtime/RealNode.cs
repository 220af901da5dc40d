using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>
/// A test-made node: network namespace sbt&lt;hex&gt;-n (plays the agent's node namespace), a temp data dir, and a
/// real runtime (real sandbox, CNI plugins from /usr/lib/cni, posix_spawn, prober) with a fake API. Disposal removes
/// every process, mount, namespace, /etc/netns directory and IPAM file it made, also after a failure.
/// </summary>
internal sealed class RealNode : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private RealNode(string id)
    {
        Id = id;
        DataDir = Path.Combine(Path.GetTempPath(), id);
        Options = new RuntimeOptions
        {
            NodeName = id + "-node",
            DataDir = DataDir,
            NetnsPrefix = id,
            ExclusivePrefix = true,
            NodeNetns = id + "-n",
            NodeIps = ["172.30.0.2"],
            ClusterDns = ["10.96.0.10"],
        };
    }

    public string Id { get; }

    public string DataDir { get; }

    public RuntimeOptions Options { get; }

    public string NodeNetns => Id + "-n";

    public FakePodApi Api { get; } = new();

    public FakeDependencies Dependencies { get; } = new();

    public PodRuntime Runtime { get; private set; } = null!;

    public static async Task<RealNode> StartAsync()
    {
        var node = new RealNode("sbt" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)));
        await Sh($"ip netns add {node.NodeNetns} && ip -n {node.NodeNetns} link set lo up && ip netns exec {node.NodeNetns} sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
        node.Runtime = node.NewRuntime();
        return node;
    }

    /// <summary>A fresh runtime object over the same data dir (what a restarted agent makes).</summary>
    public PodRuntime NewRuntime(params string[] podCidrs)
    {
        var runtime = new PodRuntime(new RuntimeServices(
            Options,
            new SandboxManager(new Switchboard.Node.Topology.ProcessCommandRunner()),
            new PosixSpawnLauncher(),
            new Prober(NodeNetns, TimeProvider.System),
            Api,
            Dependencies,
            TimeProvider.System,
            NullLogger.Instance));
        runtime.SetPodCidrs(podCidrs.Length > 0 ? podCidrs : ["10.244.7.0/24", "fd00:10:244:7::/64"]);
        return runtime;
    }

    public Task StartRuntimeAsync(params V1Pod[] pods) => Runtime.StartAsync(pods, _stop.Token);

    public void UseRuntime(PodRuntime runtime) => Runtime = runtime;

    /// <summary>Stops the workers as an agent that exits does: containers keep running.</summary>
    public async Task StopAgentAsync()
    {
        await _stop.CancelAsync();
        await Runtime.WhenStoppedAsync();
    }

    public static V1Pod Pod(string name, params V1Container[] containers) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec { NodeName = "n", Containers = containers, RestartPolicy = "Always", DnsPolicy = "ClusterFirst", TerminationGracePeriodSeconds = 30 },
    };

    public async Task<V1PodStatus> WaitForStatusAsync(V1Pod pod, Func<V1PodStatus, bool> done, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (Api.Statuses.TryGetValue(pod.Metadata.Uid, out var s) && done(s))
            {
                return s;
            }
            if (timeout.IsCancellationRequested)
            {
                var events = string.Join("; ", Api.EventsSnapshot().Select(e => e.Reason + ": " + e.Message));
                throw new TimeoutException($"{what}: last status {(s is null ? "none" : k8s.KubernetesJson.Serialize(s))}; events {events}");
            }
            await Task.Delay(100);
        }
    }

    public static async Task<string> WaitForFileAsync(string path, string expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var text = "";
        while (!timeout.IsCancellationRequested)
        {
            text = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
            if (text.Contains(expected, StringComparison.Ordinal))
            {
                return text;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{path} never contained '{expected}': {text}");
    }

    /// <summary>GET from the node namespace (never from the host namespace: the Pod IP is routed only there).</summary>
    public async Task<string> HttpGetFromNodeAsync(string ip, int port)
    {
        var address = IPAddress.Parse(ip);
        using var socket = NetnsSockets.Create(NodeNetns, address.AddressFamily);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.0\r\nHost: x\r\n\r\n"), timeout.Token);
        var buffer = new byte[4096];
        var sb = new StringBuilder();
        int n;
        while ((n = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
        {
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        var text = sb.ToString();
        return text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
    }

    public static async Task<(int Code, string Output)> Sh(string script)
    {
        var psi = new ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // Container processes outlive runtimes by design: the cleanup every node owner runs.
        await PodCleanup.RemoveAllAsync(DataDir, Id, CancellationToken.None);
        await Sh($"grep -o ' {DataDir}/[^ ]*' /proc/self/mountinfo | sort -r | while read m; do umount -l \"$m\"; done; " +
                 $"for n in $(ls /run/netns | grep '^{Id}'); do ip netns del $n; done; rm -rf /etc/netns/{Id}-* {DataDir}");
        _stop.Dispose();
    }
}
