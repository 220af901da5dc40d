using System.Globalization;

namespace Switchboard.ApiServer.Security;

/// <summary>A numeric owner for files that a root process writes on behalf of the invoking user.</summary>
public readonly record struct FileOwner(int Uid, int Gid)
{
    /// <summary>
    /// The user behind <c>sudo</c> (SUDO_UID/SUDO_GID), so that the admin kubeconfig written by a root process stays
    /// readable by the person who ran it. Null when not root or not under sudo: chown would fail or change nothing.
    /// </summary>
    public static FileOwner? FromSudoEnvironment()
    {
        if (OperatingSystem.IsWindows() || !Environment.IsPrivilegedProcess)
        {
            return null;
        }

        return int.TryParse(Environment.GetEnvironmentVariable("SUDO_UID"), NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            && int.TryParse(Environment.GetEnvironmentVariable("SUDO_GID"), NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? new FileOwner(uid, gid)
            : null;
    }
}
