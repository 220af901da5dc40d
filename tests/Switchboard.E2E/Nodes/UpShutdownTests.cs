using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E.Nodes;

/// <summary>
/// A SIGTERM of `up` whose clean-up takes longer than System.CommandLine's default 2 s termination timeout: a Pod
/// ignores SIGTERM, so the removal waits out its 3 s grace before SIGKILL. `up` must finish removing everything and
/// exit 0 (it used to be cut off with exit 143, leaving namespaces, /etc/netns directories and the container).
/// </summary>
public sealed class UpShutdownTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "switchboard-e2e-upstop-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Sigterm_CleanupLongerThanTwoSeconds_FinishesAndExitsZero()
    {
        Assert.True(Environment.UserName == "root", "this test needs root (network namespaces); CI runs as root");
        var dataDir = Path.Combine(_root, "data");
        await using var up = UpProcess.Start(dataDir, "--nodes", "1", "--lb-host-address", "127.32.0.1");
        var (_, kubeconfig) = await up.WaitReadyAsync();
        var id = up.ClusterId;
        var kubectl = new Kubectl(kubeconfig, Path.Combine(_root, "kubectl-cache"), output);
        // A marker in the command line finds the container's processes afterwards.
        var marker = "sbt" + Guid.NewGuid().ToString("N")[..6];
        (await kubectl.RunAsync(["apply", "-f", "-"], stdin: $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: stubborn }
            spec:
              containers:
              - name: c
                image: sh
                command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done; : {{marker}}"]
            """)).ShouldSucceed();
        (await kubectl.RunAsync(["wait", "pod/stubborn", "--for=condition=Ready", "--timeout=120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
        Assert.NotEmpty(Processes(marker));

        var exit = await up.TerminateAsync();

        Assert.True(exit == 0, $"`up` exited with {exit} on SIGTERM:\n{up.Output}");
        Assert.Empty(Processes(marker));
        Assert.Empty(await UpProcess.NamespacesAsync(id));
        Assert.Empty(Directory.Exists("/etc/netns") ? Directory.EnumerateDirectories("/etc/netns", $"sb-{id}-*") : []);
        Assert.DoesNotContain(File.ReadLines("/proc/self/mounts"), l => l.Contains(dataDir, StringComparison.Ordinal));
    }

    private static List<string> Processes(string marker) =>
        [.. Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline")).Where(File.Exists)
            .Select(f => { try { return File.ReadAllText(f); } catch (IOException) { return ""; } })
            .Where(c => c.Contains(marker, StringComparison.Ordinal))];
}
