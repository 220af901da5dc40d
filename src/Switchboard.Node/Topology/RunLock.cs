using System.Globalization;

namespace Switchboard.Node.Topology;

/// <summary>
/// The exclusive lock on &lt;data-dir&gt;/run/lock held for the whole `up` run (.NET takes flock(LOCK_EX) for
/// FileShare.None, and the kernel releases it when the process dies, even by SIGKILL). The holder's pid goes to
/// run/lock.pid because a locked file cannot be opened by the second process to read it.
/// </summary>
internal sealed class RunLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _pidPath;

    private RunLock(FileStream stream, string pidPath)
    {
        _stream = stream;
        _pidPath = pidPath;
    }

    /// <summary>Takes the lock, or returns null with the other holder's pid (0 when unknown).</summary>
    public static RunLock? TryAcquire(string dataDir, out int holderPid)
    {
        var run = Path.Combine(dataDir, "run");
        Directory.CreateDirectory(run);
        var pidPath = Path.Combine(run, "lock.pid");
        try
        {
            var stream = new FileStream(Path.Combine(run, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            holderPid = Environment.ProcessId;
            return new RunLock(stream, pidPath);
        }
        catch (IOException)
        {
            holderPid = File.Exists(pidPath) && int.TryParse(File.ReadAllText(pidPath).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : 0;
            return null;
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_pidPath);
        }
        catch (IOException)
        {
        }
        _stream.Dispose();
    }
}
