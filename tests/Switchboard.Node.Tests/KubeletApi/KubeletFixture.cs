using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Models;
using System.Net.Sockets;
using Switchboard.Node.KubeletApi;
using Switchboard.TestKit;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>
/// A real API server and a real kubelet API server, both in-process on 127.0.0.1 port 0, joined by a Node whose
/// InternalIP is 127.0.0.1 and whose kubelet port is the kubelet's. Containers come from a fake locator with an
/// empty ExecPrefix, so exec runs ordinary host processes; logs are files in a temp dir.
/// </summary>
public sealed class KubeletFixture : IAsyncLifetime
{
    private int _dials;

    public string NodeName { get; } = "sbt" + Guid.NewGuid().ToString("N")[..6] + "-node";

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "sbt" + Guid.NewGuid().ToString("N")[..6] + "-kubelet");

    internal FakeContainerLocator Locator { get; } = new();

    /// <summary>What the kubelet API logged (shown by tests that fail).</summary>
    internal ListLoggerFactory Logs { get; } = new();

    public TestApiServer Api { get; private set; } = null!;

    internal KubeletServer Kubelet { get; private set; } = null!;

    /// <summary>How many connections the API server's injected dialer made.</summary>
    public int Dials => Volatile.Read(ref _dials);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Dir);
        Api = await TestApiServer.StartAsync(configure: o => o.KubeletDialer = (endpoint, ct) =>
        {
            Interlocked.Increment(ref _dials);
            return DialAsync(endpoint, ct);
        });
        Kubelet = await KubeletServer.StartAsync(new KubeletServerOptions
        {
            NodeName = NodeName,
            Addresses = [IPAddress.Loopback],
            Port = 0,
            ClientCaFile = Api.Host.Pki.CaCertPath,
            LogPollInterval = TimeSpan.FromMilliseconds(50),
        }, Locator, Logs, TimeProvider.System, CancellationToken.None);
        await Api.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = NodeName } });
        var status = "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"},{\"type\":\"Hostname\",\"address\":\"" + NodeName +
            "\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":" + Kubelet.Port + "}}}}";
        await Api.Client.CoreV1.PatchNodeStatusAsync(new V1Patch(status, V1Patch.PatchType.MergePatch), NodeName);
    }

    private static async ValueTask<Stream> DialAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, ct);
        return new NetworkStream(socket, ownsSocket: true);
    }

    public async Task DisposeAsync()
    {
        await Kubelet.DisposeAsync();
        await Api.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Creates a Pod (bound to this node unless <paramref name="bound"/> is false) and its fake containers.</summary>
    public async Task<string> CreatePodAsync(string[] containers, bool bound = true, IReadOnlyDictionary<string, string>? env = null)
    {
        var name = "sbt" + Guid.NewGuid().ToString("N")[..6];
        await Api.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec
            {
                NodeName = bound ? NodeName : null,
                Containers = [.. containers.Select(c => new V1Container { Name = c, Image = "registry.k8s.io/pause:3.10" })],
            },
        }, "default");
        foreach (var c in containers)
        {
            var log = Path.Combine(Dir, name + "-" + c + "-0.log");
            await File.WriteAllTextAsync(log, "");
            var environment = new Dictionary<string, string>
            {
                ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ["HOSTNAME"] = name,
            };
            foreach (var (k, v) in env ?? new Dictionary<string, string>())
            {
                environment[k] = v;
            }
            Locator.Set(FakeContainerLocator.HostContainer("default", name, c, log, environment) with { WorkingDirectory = Dir });
        }
        return name;
    }

    /// <summary>Waits until this process has <paramref name="path"/> open (the kubelet is reading it for a session).</summary>
    public static async Task WaitUntilOpenAsync(string path, Task<KubectlResult> client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!Directory.EnumerateFiles("/proc/self/fd").Any(fd => SafeLink(fd) == path))
        {
            if (client.IsCompleted)
            {
                throw new InvalidOperationException("client ended early: " + await client);
            }
            await Task.Delay(20, cts.Token);
        }
    }

    private static string? SafeLink(string fd)
    {
        try
        {
            return new FileInfo(fd).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>kubectl port-forward and attach refuse Pods that are not Running; no runtime sets it here.</summary>
    public Task SetRunningAsync(string pod) =>
        Api.Client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch("{\"status\":{\"phase\":\"Running\"}}", V1Patch.PatchType.MergePatch), pod, "default");

    public string LogPath(string pod, string container, int restart = 0) => Path.Combine(Dir, pod + "-" + container + "-" + restart + ".log");

    /// <summary>Runs the real kubectl against the API server; stdin is written then closed, when given.</summary>
    public Task<KubectlResult> KubectlAsync(string? stdin, params string[] args) =>
        RunAsync("/usr/bin/kubectl", ["--kubeconfig", Api.Host.KubeconfigPath, "--cache-dir", Path.Combine(Dir, "cache"), .. args], stdin, keepStdinOpen: false);

    /// <summary>kubectl with WebSockets off for exec/attach/cp: its SPDY/3.1 path (as kubectl before 1.29).</summary>
    public Task<KubectlResult> KubectlSpdyAsync(string? stdin, params string[] args) =>
        RunAsync("/usr/bin/env", ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false", "/usr/bin/kubectl", "--kubeconfig", Api.Host.KubeconfigPath, "--cache-dir", Path.Combine(Dir, "cache"), .. args], stdin, keepStdinOpen: false);

    /// <summary>Runs a kubectl command line under `script`, so kubectl has a terminal; stdin stays open until it ends.</summary>
    public Task<KubectlResult> KubectlInTerminalAsync(string commandLine, string? typed = null) =>
        RunAsync("/usr/bin/script", ["-qec", $"{commandLine.Replace("kubectl ", $"/usr/bin/kubectl --kubeconfig {Api.Host.KubeconfigPath} --cache-dir {Path.Combine(Dir, "cache")} ", StringComparison.Ordinal)}", "/dev/null"], typed, keepStdinOpen: true);

    public static async Task<KubectlResult> RunAsync(string program, string[] args, string? stdin, bool keepStdinOpen)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            await process.StandardInput.FlushAsync();
        }
        if (!keepStdinOpen)
        {
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish; stdout so far unavailable");
        }
        return new KubectlResult(process.ExitCode, await stdout, await stderr);
    }
}

public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}
