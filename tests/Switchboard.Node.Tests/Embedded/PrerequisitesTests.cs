using Switchboard.Node.Embedded;

namespace Switchboard.Node.Tests.Embedded;

public sealed class PrerequisitesTests
{
    [Fact]
    public void Missing_EverythingPresent_IsEmpty()
    {
        var present = new HashSet<string> { "/usr/sbin/ip", "/usr/bin/nsenter", "/usr/sbin/nft", "/usr/sbin/conntrack", "/cni/loopback", "/cni/ptp", "/cni/host-local", "/cni/portmap" };

        Assert.Empty(Prerequisites.Missing("/usr/local/bin:/usr/sbin:/usr/bin", "/cni", present.Contains));
    }

    [Fact]
    public void Missing_ProgramsOutsidePathAndAbsentPlugins_AreNamedWithOnePackageListInTheFix()
    {
        // nft exists but not on PATH; portmap and ptp are missing from the plugin directory.
        var present = new HashSet<string> { "/usr/sbin/ip", "/usr/bin/nsenter", "/opt/nft", "/usr/sbin/conntrack", "/cni/loopback", "/cni/host-local" };

        var missing = Prerequisites.Missing("/usr/sbin:/usr/bin", "/cni", present.Contains);

        Assert.Equal(["nft", "ptp", "portmap"], missing.Select(m => m.Name));
        Assert.Equal(
            "missing nft, CNI plugin ptp, CNI plugin portmap; install them with: apt-get install -y nftables containernetworking-plugins",
            Prerequisites.Describe(missing));
    }

    [Fact]
    public void Missing_NoPath_ReportsEveryProgram()
    {
        var missing = Prerequisites.Missing(null, "/cni", _ => false);

        Assert.Equal(Prerequisites.All, missing);
        Assert.Contains("apt-get install -y iproute2 util-linux nftables conntrack containernetworking-plugins", Prerequisites.Describe(missing));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void IsExecutable_RealFiles_NeedsAnExecuteBit()
    {
        var dir = Directory.CreateTempSubdirectory("sbt-prereq-");
        try
        {
            var script = Path.Combine(dir.FullName, "tool");
            File.WriteAllText(script, "#!/bin/sh\n");
            Assert.False(Prerequisites.IsExecutable(script));
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Assert.True(Prerequisites.IsExecutable(script));
            Assert.False(Prerequisites.IsExecutable(Path.Combine(dir.FullName, "absent")));
            Assert.True(Prerequisites.IsExecutable("/bin/sh"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
