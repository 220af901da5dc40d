using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

public sealed class SandboxManagerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sbt-sbx-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Create_PodNetwork_NetnsDadOffUtsThenMountNamespace()
    {
        var runner = new RecordingRunner();
        var spec = new SandboxSpec { PodDir = Path.Combine(_dir, "default_web_u1"), Netns = "sbt000001-pabcd", Hostname = "web" };
        await new SandboxManager(runner, Path.Combine(_dir, "etc-netns")).CreateAsync(spec, CancellationToken.None);
        Assert.Equal(4, runner.Commands.Count);
        Assert.Equal("ip netns add sbt000001-pabcd", runner.Commands[0]);
        Assert.Equal("ip netns exec sbt000001-pabcd sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0", runner.Commands[1]);
        Assert.Equal($"unshare --uts={spec.PodDir}/uts hostname web", runner.Commands[2]);
        Assert.StartsWith($"unshare --mount={spec.PodDir}/mnt --propagation private sh -c ", runner.Commands[3], StringComparison.Ordinal);
    }

    [Fact]
    public void MountScript_KeepsOwnNamespacesDropsOthersBindsServiceAccount()
    {
        var spec = new SandboxSpec { PodDir = "/d/pods/p", Netns = "sb-x-p1", Hostname = "p" };
        var script = SandboxManager.MountScript(spec);
        Assert.Contains("case \"$m\" in '/run/netns/sb-x-p1'|'/d/pods/p'/*) ;; *) umount -l \"$m\"", script, StringComparison.Ordinal);
        Assert.Contains("mount --bind '/d/pods/p/serviceaccount' /var/run/secrets/kubernetes.io/serviceaccount", script, StringComparison.Ordinal);
        Assert.DoesNotContain("/etc/resolv.conf", script, StringComparison.Ordinal);
        var hostNet = SandboxManager.MountScript(spec with { HostNetwork = true });
        Assert.Contains("mount --bind '/d/pods/p/etc/resolv.conf' /etc/resolv.conf", hostNet, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteFiles_PodNetwork_EtcNetnsTriple()
    {
        var etc = Path.Combine(_dir, "etc-netns");
        var spec = new SandboxSpec { PodDir = Path.Combine(_dir, "p"), Netns = "sbt000001-pabcd", Hostname = "web" };
        await new SandboxManager(new RecordingRunner(), etc).WriteFilesAsync(spec, "nameserver 10.96.0.10\n", "127.0.0.1\tlocalhost\n", CancellationToken.None);
        Assert.Equal("nameserver 10.96.0.10\n", await File.ReadAllTextAsync(Path.Combine(etc, spec.Netns, "resolv.conf")));
        Assert.Equal("127.0.0.1\tlocalhost\n", await File.ReadAllTextAsync(Path.Combine(etc, spec.Netns, "hosts")));
        Assert.Contains("hosts: files dns", await File.ReadAllTextAsync(Path.Combine(etc, spec.Netns, "nsswitch.conf")), StringComparison.Ordinal);
    }

    [Fact]
    public void ExecPrefix_PodAndHostNetwork()
    {
        var spec = new SandboxSpec { PodDir = "/d/p", Netns = "sb-x-p1", Hostname = "p" };
        Assert.Equal(["/usr/bin/nsenter", "--mount=/d/p/mnt", "--", "/usr/sbin/ip", "netns", "exec", "sb-x-p1", "/usr/bin/nsenter", "--uts=/d/p/uts", "--"], spec.ExecPrefix());
        Assert.Equal(["/usr/bin/nsenter", "--mount=/d/p/mnt", "--"], (spec with { HostNetwork = true }).ExecPrefix());
    }
}
