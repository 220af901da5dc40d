using System.ComponentModel;
using System.IO.Pipelines;
using System.Runtime.InteropServices;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// exec -t: a pseudo-terminal whose slave is the child's controlling terminal. The child is started with
/// posix_spawn (no fork of the .NET process): POSIX_SPAWN_SETSID makes it a session leader, then file actions open
/// the slave by path on fd 0 (which, without O_NOCTTY, makes it the controlling terminal) and dup it to 1 and 2.
/// Signal dispositions and the mask are reset because the runtime ignores SIGPIPE and blocks some signals.
/// The master is pumped by a dedicated thread (poll + read); resize is TIOCSWINSZ on the master.
/// </summary>
internal sealed unsafe partial class PtyProcess : IStreamedProcess
{
    private const int ORdwr = 0x2;
    private const int ONoctty = 0x100;
    private const int ONonblock = 0x800;
    private const int OCloexec = 0x80000;
    private const int FGetfl = 3;
    private const int FSetfl = 4;
    private const short SpawnSetSigdef = 0x04;
    private const short SpawnSetSigmask = 0x08;
    private const short SpawnSetsid = 0x80;
    private const ulong Tiocswinsz = 0x5414;
    private const short PollIn = 0x1;
    private const short PollOut = 0x4;
    private const short PollErr = 0x8;
    private const short PollHup = 0x10;
    private const int Eintr = 4;
    private const int Eagain = 11;

    // glibc's posix_spawnattr_t (336 bytes on x86_64), posix_spawn_file_actions_t (80) and sigset_t (128)
    // fit with room to spare.
    private const int OpaqueSize = 1024;

    private readonly int _master;
    private readonly int _pid;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Pipe _output = new();
    private volatile bool _childGone;
    private volatile bool _disposed;
    private int _closed;

    private PtyProcess(int master, int pid, bool stdin)
    {
        _master = master;
        _pid = pid;
        Stdin = stdin ? new MasterWriter(this) : null;
        Stdout = _output.Reader.AsStream();
        new Thread(Wait) { IsBackground = true, Name = "pty wait " + pid }.Start();
        new Thread(Pump) { IsBackground = true, Name = "pty read " + pid }.Start();
    }

    public Stream? Stdin { get; }

    public Stream? Stdout { get; }

    public Stream? Stderr => null;

    public Task<int> Exited => _exited.Task;

    public static PtyProcess Start(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, string workingDirectory, bool stdin, TerminalSize? size)
    {
        var master = PosixOpenpt(ORdwr | ONoctty | OCloexec);
        if (master < 0)
        {
            throw Error("posix_openpt");
        }
        try
        {
            if (GrantPt(master) != 0)
            {
                throw Error("grantpt");
            }
            if (UnlockPt(master) != 0)
            {
                throw Error("unlockpt");
            }
            var nameBuf = stackalloc byte[256];
            if (PtsnameR(master, nameBuf, 256) != 0)
            {
                throw Error("ptsname_r");
            }
            var slavePath = Marshal.PtrToStringUTF8((nint)nameBuf)!;
            if (size is { } sz)
            {
                var ws = new WinSize { Rows = sz.Height, Cols = sz.Width };
                _ = Ioctl(master, Tiocswinsz, &ws);
            }
            var pid = Spawn(argv, environment, workingDirectory, slavePath);
            var flags = Fcntl(master, FGetfl, 0);
            _ = Fcntl(master, FSetfl, flags | ONonblock);
            return new PtyProcess(master, pid, stdin);
        }
        catch
        {
            _ = CloseFd(master);
            throw;
        }
    }

    private static int Spawn(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, string workingDirectory, string slavePath)
    {
        var strings = new List<nint>();
        byte* actions = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* attr = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* sigs = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        var argvArr = (byte**)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(nint));
        var envArr = (byte**)NativeMemory.AllocZeroed((nuint)(environment.Count + 1), (nuint)sizeof(nint));
        try
        {
            byte* Str(string s)
            {
                var p = Marshal.StringToCoTaskMemUTF8(s);
                strings.Add(p);
                return (byte*)p;
            }
            for (var i = 0; i < argv.Count; i++)
            {
                argvArr[i] = Str(argv[i]);
            }
            var e = 0;
            foreach (var (k, v) in environment)
            {
                envArr[e++] = Str(k + "=" + v);
            }
            Check(FileActionsInit(actions), "posix_spawn_file_actions_init");
            Check(FileActionsAddOpen(actions, 0, Str(slavePath), ORdwr, 0), "posix_spawn_file_actions_addopen");
            Check(FileActionsAddDup2(actions, 0, 1), "posix_spawn_file_actions_adddup2");
            Check(FileActionsAddDup2(actions, 0, 2), "posix_spawn_file_actions_adddup2");
            if (Directory.Exists(workingDirectory))
            {
                Check(FileActionsAddChdir(actions, Str(workingDirectory)), "posix_spawn_file_actions_addchdir_np");
            }
            Check(AttrInit(attr), "posix_spawnattr_init");
            Check(AttrSetFlags(attr, SpawnSetsid | SpawnSetSigdef | SpawnSetSigmask), "posix_spawnattr_setflags");
            _ = SigFillSet(sigs);
            Check(AttrSetSigDefault(attr, sigs), "posix_spawnattr_setsigdefault");
            _ = SigEmptySet(sigs);
            Check(AttrSetSigMask(attr, sigs), "posix_spawnattr_setsigmask");
            int pid;
            var rc = PosixSpawn(&pid, argvArr[0], actions, attr, argvArr, envArr);
            if (rc != 0)
            {
                throw new Win32Exception(rc, "posix_spawn " + argv[0]);
            }
            return pid;
        }
        finally
        {
            _ = FileActionsDestroy(actions);
            _ = AttrDestroy(attr);
            foreach (var p in strings)
            {
                Marshal.FreeCoTaskMem(p);
            }
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigs);
            NativeMemory.Free(argvArr);
            NativeMemory.Free(envArr);
        }
    }

    private void Wait()
    {
        int status;
        int rc;
        do
        {
            rc = WaitPid(_pid, &status, 0);
        }
        while (rc < 0 && Marshal.GetLastPInvokeError() == Eintr);
        _childGone = true;
        var code = rc < 0 ? 255 : (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
        _exited.TrySetResult(code);
    }

    /// <summary>
    /// Copies terminal output until the slave side is gone (EIO/HUP), or until the child has exited and the master
    /// is drained: a background process still holding the terminal does not keep the session open.
    /// </summary>
    private void Pump()
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (!_disposed)
            {
                var exitedBefore = _childGone;
                var pfd = new PollFd { Fd = _master, Events = PollIn };
                var n = Poll(&pfd, 1, 100);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Eintr)
                    {
                        continue;
                    }
                    break;
                }
                if (n == 0 || (pfd.Revents & PollIn) == 0)
                {
                    if ((pfd.Revents & (PollHup | PollErr)) != 0 || exitedBefore)
                    {
                        break;
                    }
                    continue;
                }
                nint read;
                fixed (byte* p = buffer)
                {
                    read = ReadFd(_master, p, buffer.Length);
                }
                if (read > 0)
                {
                    _output.Writer.WriteAsync(buffer.AsMemory(0, (int)read)).AsTask().GetAwaiter().GetResult();
                    continue;
                }
                if (read < 0 && Marshal.GetLastPInvokeError() is Eagain or Eintr)
                {
                    continue;
                }
                // 0 or EIO: every slave descriptor is closed.
                break;
            }
        }
        finally
        {
            _output.Writer.Complete();
        }
    }

    private void WriteAll(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var off = 0;
            while (off < data.Length && !_disposed)
            {
                var n = WriteFd(_master, p + off, data.Length - off);
                if (n >= 0)
                {
                    off += (int)n;
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr)
                {
                    continue;
                }
                if (errno != Eagain)
                {
                    throw new IOException("write to terminal: " + new Win32Exception(errno).Message);
                }
                var pfd = new PollFd { Fd = _master, Events = PollOut };
                _ = Poll(&pfd, 1, 100);
            }
        }
    }

    public void CloseStdin()
    {
        // A terminal has no half-close: EOT ends the input of a program reading it in canonical mode.
        if (!_childGone && !_disposed)
        {
            try
            {
                WriteAll("\u0004"u8);
            }
            catch (IOException)
            {
            }
        }
    }

    public void Resize(ushort width, ushort height)
    {
        if (_disposed)
        {
            return;
        }
        var ws = new WinSize { Rows = height, Cols = width };
        _ = Ioctl(_master, Tiocswinsz, &ws);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }
        _disposed = true;
        _output.Reader.Complete();
        // Give the pump its 100 ms poll to notice before the descriptor goes; closing the master hangs up the
        // terminal (SIGHUP to its session) if the child is still there.
        var master = _master;
        return new ValueTask(Task.Delay(150).ContinueWith(_ => CloseFd(master), TaskScheduler.Default));
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new Win32Exception(rc, what);
        }
    }

    private static Win32Exception Error(string what) => new(Marshal.GetLastPInvokeError(), what);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows;
        public ushort Cols;
        public ushort XPixel;
        public ushort YPixel;
    }

    /// <summary>Client stdin to the terminal.</summary>
    private sealed class MasterWriter(PtyProcess pty) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => pty.WriteAll(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => pty.WriteAll(buffer);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            pty.WriteAll(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int PosixOpenpt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static partial int PtsnameR(int fd, byte* buf, nuint len);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(void* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(void* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen")]
    private static partial int FileActionsAddOpen(void* actions, int fd, byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    private static partial int FileActionsAddChdir(void* actions, byte* path);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int AttrInit(void* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int AttrDestroy(void* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int AttrSetFlags(void* attr, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int AttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int AttrSetSigMask(void* attr, void* sigset);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static partial int SigFillSet(void* set);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(void* set);

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static partial int PosixSpawn(int* pid, byte* path, void* actions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request, WinSize* ws);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFd(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteFd(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseFd(int fd);
}
