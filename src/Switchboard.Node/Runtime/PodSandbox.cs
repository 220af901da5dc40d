using System.Text;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Runtime;

/// <summary>Where one Pod's sandbox lives (ARCHITECTURE.md §2 "Pod sandbox"). Pure.</summary>
internal sealed record SandboxSpec
{
    public required string PodDir { get; init; }

    /// <summary>The Pod network namespace under /run/netns; unused for hostNetwork Pods.</summary>
    public required string Netns { get; init; }

    public required string Hostname { get; init; }

    public bool HostNetwork { get; init; }

    /// <summary>The namespace that plays the node (tests), null for the agent's own.</summary>
    public string? NodeNetns { get; init; }

    public string UtsPath => Path.Combine(PodDir, "uts");

    public string MntPath => Path.Combine(PodDir, "mnt");

    /// <summary>The host directory bind-mounted at /var/run/secrets/kubernetes.io/serviceaccount in the Pod's view.</summary>
    public string ServiceAccountDir => Path.Combine(PodDir, "serviceaccount");

    /// <summary>resolv.conf/hosts of a hostNetwork Pod, bind-mounted over /etc in its mount namespace.</summary>
    public string HostNetworkEtcDir => Path.Combine(PodDir, "etc");

    public string NetnsPath => "/run/netns/" + Netns;

    /// <summary>
    /// The argv prefix that puts a command into the Pod's view: the Pod mount namespace (service-account files), then
    /// <c>ip netns exec</c> (network, /etc/netns files) and <c>nsenter --uts</c> (hostname). Every tool execs in place.
    /// </summary>
    public IReadOnlyList<string> ExecPrefix(string? ip = null, string? nsenter = null)
    {
        ip ??= ToolPaths.Ip;
        nsenter ??= ToolPaths.Nsenter;
        List<string> prefix = [nsenter, "--mount=" + MntPath, "--"];
        if (!HostNetwork)
        {
            prefix.AddRange([ip, "netns", "exec", Netns, nsenter, "--uts=" + UtsPath, "--"]);
        }
        else if (NodeNetns is not null)
        {
            prefix.AddRange([ip, "netns", "exec", NodeNetns]);
        }
        return prefix;
    }
}

/// <summary>Makes and removes the kernel side of a sandbox. The runtime codes against this; unit tests fake it.</summary>
internal interface ISandboxManager
{
    /// <summary>Network namespace (accept_dad off), UTS namespace file with the hostname, mount namespace file. Idempotent.</summary>
    Task CreateAsync(SandboxSpec spec, CancellationToken ct);

    /// <summary>
    /// For a re-adopted sandbox: re-attaches a lost network namespace from a live container (<c>ip netns attach</c>)
    /// and recreates missing UTS/mount namespace files (they live in the mount namespace the agent ran in). Returns
    /// false when the network namespace is gone and no container holds it (the sandbox must be made again).
    /// </summary>
    Task<bool> RepairAsync(SandboxSpec spec, int? livePid, CancellationToken ct);

    /// <summary>Writes /etc/netns/&lt;netns&gt;/{resolv.conf,hosts,nsswitch.conf} (hostNetwork: the pod dir's etc/).</summary>
    Task WriteFilesAsync(SandboxSpec spec, string resolvConf, string hosts, CancellationToken ct);

    /// <summary>Unmounts the namespace files, deletes the network namespace and its /etc/netns directory. Idempotent.</summary>
    Task RemoveAsync(SandboxSpec spec, CancellationToken ct);

    /// <summary>The network namespaces under /run/netns whose names start with <paramref name="prefix"/> (orphan cleanup).</summary>
    IReadOnlyList<string> ListNetns(string prefix);
}

/// <summary>The real sandbox: iproute2, unshare, mount — through <see cref="ICommandRunner"/>.</summary>
internal sealed class SandboxManager(ICommandRunner runner, string etcNetnsDir = "/etc/netns") : ISandboxManager
{
    private const string ServiceAccountMount = "/var/run/secrets/kubernetes.io/serviceaccount";

    public async Task CreateAsync(SandboxSpec spec, CancellationToken ct)
    {
        Directory.CreateDirectory(spec.PodDir);
        Directory.CreateDirectory(spec.ServiceAccountDir);
        if (!spec.HostNetwork)
        {
            if (!File.Exists(spec.NetnsPath))
            {
                await RunAsync("ip", ["netns", "add", spec.Netns], ct).ConfigureAwait(false);
            }
            // DAD costs ~2 s per dual-stack ADD and protects nothing on a private veth (ARCHITECTURE.md §2 "CNI").
            await RunAsync("ip", ["netns", "exec", spec.Netns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"], ct).ConfigureAwait(false);
            if (!IsMountPoint(spec.UtsPath))
            {
                await File.WriteAllBytesAsync(spec.UtsPath, [], ct).ConfigureAwait(false);
                await RunAsync("unshare", ["--uts=" + spec.UtsPath, "hostname", spec.Hostname], ct).ConfigureAwait(false);
            }
        }
        else
        {
            Directory.CreateDirectory(spec.HostNetworkEtcDir);
        }
        if (!IsMountPoint(spec.MntPath))
        {
            await File.WriteAllBytesAsync(spec.MntPath, [], ct).ConfigureAwait(false);
            await RunAsync("unshare", ["--mount=" + spec.MntPath, "--propagation", "private", "sh", "-c", MountScript(spec)], ct).ConfigureAwait(false);
        }
    }

    public async Task<bool> RepairAsync(SandboxSpec spec, int? livePid, CancellationToken ct)
    {
        if (!spec.HostNetwork && !File.Exists(spec.NetnsPath))
        {
            if (livePid is not { } pid)
            {
                return false;
            }
            await RunAsync("ip", ["netns", "attach", spec.Netns, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct).ConfigureAwait(false);
        }
        await CreateAsync(spec, ct).ConfigureAwait(false);
        return true;
    }

    public async Task WriteFilesAsync(SandboxSpec spec, string resolvConf, string hosts, CancellationToken ct)
    {
        var dir = spec.HostNetwork ? spec.HostNetworkEtcDir : Path.Combine(etcNetnsDir, spec.Netns);
        Directory.CreateDirectory(dir);
        // Written in place: ip netns exec and the mount namespace bind the files, so a rename would not be seen.
        await WriteInPlaceAsync(Path.Combine(dir, "resolv.conf"), resolvConf, ct).ConfigureAwait(false);
        await WriteInPlaceAsync(Path.Combine(dir, "hosts"), hosts, ct).ConfigureAwait(false);
        if (!spec.HostNetwork)
        {
            await WriteInPlaceAsync(Path.Combine(dir, "nsswitch.conf"), SandboxFiles.Nsswitch, ct).ConfigureAwait(false);
        }
    }

    public async Task RemoveAsync(SandboxSpec spec, CancellationToken ct)
    {
        foreach (var path in new[] { spec.MntPath, spec.UtsPath })
        {
            if (IsMountPoint(path))
            {
                await RunAsync("umount", [path], ct).ConfigureAwait(false);
            }
        }
        if (!spec.HostNetwork && File.Exists(spec.NetnsPath))
        {
            await RunAsync("ip", ["netns", "delete", spec.Netns], ct).ConfigureAwait(false);
        }
        if (!spec.HostNetwork)
        {
            var dir = Path.Combine(etcNetnsDir, spec.Netns);
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    public IReadOnlyList<string> ListNetns(string prefix)
    {
        try
        {
            return [.. Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>
    /// Runs inside the new mount namespace: drops the copies of other namespace files (a copied /run/netns/x mount
    /// would keep another Pod's network namespace alive after its deletion), then binds the service-account dir.
    /// </summary>
    internal static string MountScript(SandboxSpec spec)
    {
        var sb = new StringBuilder();
        sb.Append("set -e; ");
        sb.Append("for m in $(sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \\([^ ]*\\) .* - nsfs .*/\\1/p' /proc/self/mountinfo); do ");
        // Keep the namespace the Pod's processes enter: its own, or (hostNetwork in tests) the node's.
        var keep = spec.HostNetwork ? spec.NodeNetns is null ? "/nonexistent" : "/run/netns/" + spec.NodeNetns : spec.NetnsPath;
        sb.Append("case \"$m\" in ").Append(Quote(keep)).Append('|').Append(Quote(spec.PodDir)).Append("/*) ;; *) umount -l \"$m\" || true;; esac; done; ");
        sb.Append("mkdir -p ").Append(ServiceAccountMount).Append("; ");
        sb.Append("mount --bind ").Append(Quote(spec.ServiceAccountDir)).Append(' ').Append(ServiceAccountMount).Append("; ");
        if (spec.HostNetwork)
        {
            foreach (var f in new[] { "resolv.conf", "hosts" })
            {
                var source = Quote(Path.Combine(spec.HostNetworkEtcDir, f));
                sb.Append("touch ").Append(source).Append("; mount --bind ").Append(source).Append(" /etc/").Append(f).Append("; ");
            }
        }
        return sb.ToString();
    }

    /// <summary>True when <paramref name="path"/> is a mount point in this process's mount namespace.</summary>
    internal static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && fields[4].Replace("\\040", " ", StringComparison.Ordinal) == full)
            {
                return true;
            }
        }
        return false;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task WriteInPlaceAsync(string path, string content, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
        stream.SetLength(0);
        var bytes = Encoding.UTF8.GetBytes(content);
        await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
    }

    private async Task RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var r = await runner.RunAsync(program, args, ct).ConfigureAwait(false);
        if (!r.Ok)
        {
            throw new SandboxException($"{program} {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr}");
        }
    }
}

internal sealed class SandboxException(string message) : Exception(message);

/// <summary>
/// Absolute paths of the tools in the exec prefix: <c>ip netns exec</c> runs the next program with the container's
/// PATH, which may not hold nsenter, so both are named absolutely.
/// </summary>
internal static class ToolPaths
{
    public static readonly string Ip = Find("ip");

    public static readonly string Nsenter = Find("nsenter");

    private static string Find(string name)
    {
        foreach (var dir in new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin" })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        return name;
    }
}
