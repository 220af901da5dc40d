namespace Switchboard.Node.Embedded;

/// <summary>One host program or CNI plugin that `up` and its agents run, and the Debian package that ships it.</summary>
internal sealed record Prerequisite(string Name, string Package, bool CniPlugin = false);

/// <summary>
/// What kernel mode needs on the host, checked before `up` touches anything so a missing package gives one
/// message with the fix instead of a half-built cluster: iproute2 (namespaces, links, routes), util-linux's nsenter
/// (agents and containers), nftables (the proxy), conntrack (stale UDP entries) and the CNI plugins.
/// </summary>
internal static class Prerequisites
{
    public static readonly IReadOnlyList<Prerequisite> All =
    [
        new("ip", "iproute2"),
        new("nsenter", "util-linux"),
        new("nft", "nftables"),
        new("conntrack", "conntrack"),
        new("loopback", "containernetworking-plugins", CniPlugin: true),
        new("ptp", "containernetworking-plugins", CniPlugin: true),
        new("host-local", "containernetworking-plugins", CniPlugin: true),
        new("portmap", "containernetworking-plugins", CniPlugin: true),
    ];

    /// <summary>The prerequisites not found: programs on <paramref name="path"/> (PATH's syntax), plugins in <paramref name="cniBinDir"/>.</summary>
    public static IReadOnlyList<Prerequisite> Missing(string? path, string cniBinDir, Func<string, bool> isExecutable)
    {
        var dirs = (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return [.. All.Where(p => p.CniPlugin
            ? !isExecutable(Path.Combine(cniBinDir, p.Name))
            : !dirs.Any(d => isExecutable(Path.Combine(d, p.Name))))];
    }

    /// <summary>One line naming what is missing and the command that installs it.</summary>
    public static string Describe(IReadOnlyList<Prerequisite> missing)
    {
        var what = string.Join(", ", missing.Select(m => m.CniPlugin ? $"CNI plugin {m.Name}" : m.Name));
        var packages = string.Join(' ', missing.Select(m => m.Package).Distinct(StringComparer.Ordinal));
        return $"missing {what}; install them with: apt-get install -y {packages}";
    }

    /// <summary>A regular file with an execute bit (what execve needs).</summary>
    public static bool IsExecutable(string path)
    {
        try
        {
            return !OperatingSystem.IsWindows()
                && File.Exists(path)
                && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
