using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Switchboard.Node.Linux;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>A network namespace of the test's own (sbt&lt;hex&gt;), with lo up; removed at the end.</summary>
public sealed class TestNetns : IAsyncLifetime
{
    public string Name { get; } = "sbt" + Guid.NewGuid().ToString("N")[..6];

    public async Task InitializeAsync()
    {
        await IpAsync("netns", "add", Name);
        await IpAsync("-n", Name, "link", "set", "lo", "up");
    }

    public async Task DisposeAsync() => await IpAsync("netns", "delete", Name);

    /// <summary>"net:[inode]" of the namespace, as /proc/&lt;pid&gt;/ns/net of a process inside it reads.</summary>
    public string Identity => "net:[" + new FileInfo("/run/netns/" + Name).Exists switch
    {
        true => StatInode("/run/netns/" + Name),
        false => throw new InvalidOperationException("namespace gone"),
    } + "]";

    private static string StatInode(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%i", path]) { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }

    private static async Task IpAsync(params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true })!;
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {err}");
        }
    }
}

/// <summary>exec and port-forward reach the Pod's network namespace (real netns, real ip, real setns).</summary>
public sealed class PodNamespaceTests(KubeletFixture f, TestNetns netns) : IClassFixture<KubeletFixture>, IClassFixture<TestNetns>
{
    [Fact]
    public async Task Exec_WithPodPrefix_RunsInsideThePodsNetworkNamespace()
    {
        var pod = await f.CreatePodAsync(["main"]);
        f.Locator.Set(f.Locator.Find("default", pod, "main")! with { ExecPrefix = ["ip", "netns", "exec", netns.Name], NetworkNamespace = netns.Name });
        var r = await f.KubectlAsync(null, "exec", pod, "--", "sh", "-c", "readlink /proc/self/ns/net; ip -o link show | wc -l");
        Assert.True(r.ExitCode == 0, r.ToString());
        // Who answered: a process whose network namespace is the Pod's, where only lo exists.
        Assert.Equal($"{netns.Identity}\n1\n", r.Stdout);
    }

    [Fact]
    public async Task PortForward_ConnectsInsideThePodsNamespace_NotTheHosts()
    {
        // The same port on host loopback answers differently: only a setns'd socket reaches the Pod's listener.
        using var host = new TcpListener(IPAddress.Loopback, 0);
        host.Start();
        var port = ((IPEndPoint)host.LocalEndpoint).Port;
        var fd = NetnsListener.Bind(netns.Name, [new IPEndPoint(IPAddress.Loopback, port)]).Single();
        using var inPod = new Socket(new SafeSocketHandle((nint)fd, ownsHandle: true));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _ = AnswerAsync(host.Server, "sbt-host", stop.Token);
        _ = AnswerAsync(inPod, "sbt-pod-" + netns.Name, stop.Token);

        var pod = await f.CreatePodAsync(["main"]);
        f.Locator.Set(f.Locator.Find("default", pod, "main")! with { NetworkNamespace = netns.Name });
        await f.SetRunningAsync(pod);
        var psi = new ProcessStartInfo("/usr/bin/kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["--kubeconfig", f.Api.Host.KubeconfigPath, "--cache-dir", Path.Combine(f.Dir, "cache"), "port-forward", "--address", "127.0.0.1", pod, ":" + port])
        {
            psi.ArgumentList.Add(a);
        }
        using var kubectl = Process.Start(psi)!;
        try
        {
            var first = await kubectl.StandardOutput.ReadLineAsync(stop.Token);
            if (first is null)
            {
                Assert.Fail("kubectl port-forward ended: " + await kubectl.StandardError.ReadToEndAsync(stop.Token));
            }
            var local = int.Parse(Regex.Match(first, @"127\.0\.0\.1:(\d+)").Groups[1].Value);
            using var conn = new TcpClient();
            await conn.ConnectAsync(IPAddress.Loopback, local, stop.Token);
            var answer = await new StreamReader(conn.GetStream()).ReadLineAsync(stop.Token);
            Assert.Equal("sbt-pod-" + netns.Name, answer);
        }
        finally
        {
            kubectl.Kill(entireProcessTree: true);
            await stop.CancelAsync();
        }
    }

    private static async Task AnswerAsync(Socket listener, string who, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                using var c = await listener.AcceptAsync(ct);
                await c.SendAsync(Encoding.ASCII.GetBytes(who + "\n"), SocketFlags.None, ct);
                c.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
