using System.Globalization;
using System.Runtime.InteropServices;
using Switchboard.Node.Linux;

namespace Switchboard.Node.Runtime;

/// <summary>
/// Starts container processes with posix_spawn (no fork of the .NET process): a new session (POSIX_SPAWN_SETSID),
/// default signal dispositions and an empty mask (the runtime ignores SIGPIPE, children must not inherit that),
/// /dev/null on fd 0 and the log file on fds 1 and 2. Processes are not tied to the agent: they outlive it, and a new
/// agent adopts them by pid + start time.
/// </summary>
internal sealed partial class PosixSpawnLauncher : IProcessLauncher
{
    private const short SpawnSetSigDef = 0x04;
    private const short SpawnSetSigMask = 0x08;
    private const short SpawnSetSid = 0x80;
    private const int ORdOnly = 0, OWrOnly = 1, OCreat = 0x40, OAppend = 0x400;
    private const int WNoHang = 1;
    private const int EChild = 10;

    public ProcessId Start(LaunchSpec spec)
    {
        if (spec.Argv.Count == 0)
        {
            throw new LaunchException("empty command");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(spec.LogPath)!);
        var strings = new List<nint>();
        // Sizes beyond glibc's posix_spawnattr_t (336 bytes), posix_spawn_file_actions_t (80) and sigset_t (128).
        var attr = Marshal.AllocHGlobal(1024);
        var actions = Marshal.AllocHGlobal(512);
        var sigs = Marshal.AllocHGlobal(256);
        var argv = Marshal.AllocHGlobal((spec.Argv.Count + 1) * nint.Size);
        var envp = Marshal.AllocHGlobal((spec.Environment.Count + 1) * nint.Size);
        try
        {
            Check(SpawnAttrInit(attr), "posix_spawnattr_init");
            Check(SpawnFileActionsInit(actions), "posix_spawn_file_actions_init");
            try
            {
                Check(SpawnAttrSetFlags(attr, SpawnSetSid | SpawnSetSigDef | SpawnSetSigMask), "posix_spawnattr_setflags");
                _ = SigFillSet(sigs);
                Check(SpawnAttrSetSigDefault(attr, sigs), "posix_spawnattr_setsigdefault");
                _ = SigEmptySet(sigs);
                Check(SpawnAttrSetSigMask(attr, sigs), "posix_spawnattr_setsigmask");
                Check(AddOpen(actions, 0, Utf8(strings, "/dev/null"), ORdOnly, 0), "addopen stdin");
                Check(AddOpen(actions, 1, Utf8(strings, spec.LogPath), OWrOnly | OCreat | OAppend, Convert.ToInt32("644", 8)), "addopen log");
                Check(AddDup2(actions, 1, 2), "adddup2");
                Check(AddChdir(actions, Utf8(strings, spec.WorkingDirectory)), "addchdir");
                for (var i = 0; i < spec.Argv.Count; i++)
                {
                    Marshal.WriteIntPtr(argv, i * nint.Size, Utf8(strings, spec.Argv[i]));
                }
                Marshal.WriteIntPtr(argv, spec.Argv.Count * nint.Size, 0);
                var j = 0;
                foreach (var (k, v) in spec.Environment)
                {
                    Marshal.WriteIntPtr(envp, j++ * nint.Size, Utf8(strings, k + "=" + v));
                }
                Marshal.WriteIntPtr(envp, j * nint.Size, 0);
                var error = Spawn(out var pid, Utf8(strings, spec.Argv[0]), actions, attr, argv, envp);
                if (error != 0)
                {
                    throw new LaunchException($"cannot start {spec.Argv[0]}: {Marshal.GetPInvokeErrorMessage(error)}");
                }
                // The pid is ours until we reap it, so its start time cannot belong to anyone else.
                return new ProcessId(pid, ProcessKiller.StartTime(pid) ?? 0);
            }
            finally
            {
                _ = SpawnFileActionsDestroy(actions);
                _ = SpawnAttrDestroy(attr);
            }
        }
        finally
        {
            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
            Marshal.FreeHGlobal(attr);
            Marshal.FreeHGlobal(actions);
            Marshal.FreeHGlobal(sigs);
            Marshal.FreeHGlobal(argv);
            Marshal.FreeHGlobal(envp);
        }
    }

    public ProcessExit? Poll(ProcessId process)
    {
        var r = WaitPid(process.Pid, out var status, WNoHang);
        if (r == process.Pid)
        {
            if ((status & 0x7f) == 0)
            {
                return new ProcessExit((status >> 8) & 0xff);
            }
            return new ProcessExit(128 + (status & 0x7f));
        }
        if (r == 0)
        {
            return null;
        }
        if (Marshal.GetLastPInvokeError() != EChild)
        {
            return null;
        }
        // Not our child (adopted from an earlier agent): alive while the same process exists and is no zombie.
        return IsAlive(process) ? null : new ProcessExit(null);
    }

    public void Signal(ProcessId process, int signal)
    {
        if (ProcessKiller.StartTime(process.Pid) != process.StartTime)
        {
            return;
        }
        // The container leads its own session, so its pid is its process group.
        if (Kill(-process.Pid, signal) != 0)
        {
            _ = Kill(process.Pid, signal);
        }
    }

    internal static bool IsAlive(ProcessId process)
    {
        if (ProcessKiller.StartTime(process.Pid) != process.StartTime)
        {
            return false;
        }
        try
        {
            var stat = File.ReadAllText("/proc/" + process.Pid.ToString(CultureInfo.InvariantCulture) + "/stat");
            var state = stat[stat.LastIndexOf(')') + 2];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static nint Utf8(List<nint> owned, string s)
    {
        var p = Marshal.StringToCoTaskMemUTF8(s);
        owned.Add(p);
        return p;
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new LaunchException($"{what}: {Marshal.GetPInvokeErrorMessage(error)}");
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static partial int Spawn(out int pid, nint path, nint fileActions, nint attr, nint argv, nint envp);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int SpawnAttrInit(nint attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int SpawnAttrDestroy(nint attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int SpawnAttrSetFlags(nint attr, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int SpawnAttrSetSigDefault(nint attr, nint set);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int SpawnAttrSetSigMask(nint attr, nint set);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int SpawnFileActionsInit(nint actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int SpawnFileActionsDestroy(nint actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen")]
    private static partial int AddOpen(nint actions, int fd, nint path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int AddDup2(nint actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    private static partial int AddChdir(nint actions, nint path);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static partial int SigFillSet(nint set);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(nint set);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
