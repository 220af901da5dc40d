using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace Switchboard.ApiServer.Security;

/// <summary>Atomic, permission-exact file writes for keys, tokens and kubeconfigs.</summary>
internal static class SecureFile
{
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode Public = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static void WriteAtomic(string path, string contents, UnixFileMode mode, FileOwner? owner = null)
        => WriteAtomic(path, Encoding.UTF8.GetBytes(contents), mode, owner);

    /// <summary>
    /// Writes to a temp file in the same directory and renames it over <paramref name="path"/>: readers never see a
    /// half-written file, and a crash leaves the old one. The temp file is created with the final mode, so a secret
    /// is never readable by others, not even for a moment.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, FileOwner? owner = null)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = mode;
            }

            using (var stream = new FileStream(temp, options))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }

            if (!OperatingSystem.IsWindows())
            {
                // The umask may have narrowed UnixCreateMode; set it exactly.
                File.SetUnixFileMode(temp, mode);
                if (owner is { } o)
                {
                    Chown(temp, o);
                }
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Narrows a file that someone loosened (e.g. a key restored with 0644) back to <paramref name="mode"/>.</summary>
    public static void EnsureMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows() && File.GetUnixFileMode(path) != mode)
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static void Chown(string path, FileOwner owner)
    {
        if (NativeChown(path, owner.Uid, owner.Gid) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"chown {owner.Uid}:{owner.Gid} {path} failed: {new Win32Exception(errno).Message}", errno);
        }
    }

    // .NET has no managed chown. DllImport rather than LibraryImport: the generated string marshalling would need
    // AllowUnsafeBlocks for the whole project.
    [DllImport("libc", EntryPoint = "chown", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NativeChown(string path, int uid, int gid);
}
