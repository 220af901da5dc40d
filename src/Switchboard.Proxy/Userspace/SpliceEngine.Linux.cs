using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Switchboard.Proxy.Userspace;

/// <summary>
/// Zero-copy TCP relaying with splice(2): bytes go socket → pipe → socket inside the kernel, never through user
/// memory. A few event loops (one thread each, own epoll instance, edge-triggered) drive every relayed connection;
/// each connection has one pipe per direction, sized to the chunk, and reused after a clean finish. A direction
/// reads only into an empty pipe, so EAGAIN from the read always means "socket empty", never "pipe full".
/// Per-connection state is one object; nothing is allocated per splice.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class SpliceEngine : IAsyncDisposable
{
    private readonly Loop[] _loops;
    private int _next;
    private int _disposed;

    private SpliceEngine(Loop[] loops, int chunkSize)
    {
        _loops = loops;
        ChunkSize = chunkSize;
    }

    /// <summary>Bytes moved per splice call at most (the pipe size the kernel granted).</summary>
    public int ChunkSize { get; }

    /// <summary>Event loops (threads).</summary>
    public int Loops => _loops.Length;

    /// <summary>An engine, or null when this kernel (or a seccomp filter) refuses pipes or splice.</summary>
    public static SpliceEngine? TryCreate(int chunkSize, int loops)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 4096);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, 16 * 1024 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(loops, 1);
        if (!Probe(chunkSize, out var granted))
        {
            return null;
        }
        var created = new List<Loop>();
        try
        {
            for (var i = 0; i < loops; i++)
            {
                created.Add(new Loop(i, granted));
            }
        }
        catch (IOException)
        {
            foreach (var l in created)
            {
                l.Stop();
                l.Completion.GetAwaiter().GetResult();
            }
            return null;
        }
        return new SpliceEngine([.. created], granted);
    }

    /// <summary>
    /// Relays between two connected TCP sockets until both directions reached EOF (each half-close passed on), one
    /// side failed (Reset), or <paramref name="ct"/> fired (Canceled). Disposes neither socket; both are switched
    /// to non-blocking mode and must not be used by the caller until the task completes.
    /// </summary>
    public async Task<RelayOutcome> RunAsync(Socket a, Socket b, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (a.SocketType != SocketType.Stream || b.SocketType != SocketType.Stream || !a.Connected || !b.Connected)
        {
            throw new ArgumentException("splice relaying needs two connected stream sockets");
        }
        if (ct.IsCancellationRequested)
        {
            return RelayOutcome.Canceled;
        }
        a.Blocking = false;
        b.Blocking = false;
        var loop = _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];
        var conn = new Connection(a, b, loop);
        loop.Post(new Command(CommandKind.Add, conn));
        // A cancel that overtakes the Add finishes the connection first; the Add then skips it.
        using var registration = ct.UnsafeRegister(static (state, _) => ((Connection)state!).Loop.Post(new Command(CommandKind.Cancel, (Connection)state)), conn);
        return await conn.Done.Task.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var loop in _loops)
        {
            loop.Stop();
        }
        foreach (var loop in _loops)
        {
            await loop.Completion.ConfigureAwait(false);
        }
    }

    /// <summary>Can this process make a pipe of the size asked (or at least the default) and splice at all?</summary>
    private static unsafe bool Probe(int chunkSize, out int granted)
    {
        granted = 0;
        int* fds = stackalloc int[2];
        if (Native.Pipe2(fds, Native.ONonBlock | Native.OCloExec) != 0)
        {
            return false;
        }
        try
        {
            var size = Native.Fcntl(fds[0], Native.FSetPipeSz, chunkSize);
            granted = size > 0 ? size : Native.Fcntl(fds[0], Native.FGetPipeSz, 0);
            if (granted <= 0)
            {
                return false;
            }
            // splice between two pipes is not allowed; an empty non-blocking pipe to itself tells whether the
            // syscall exists (EINVAL/EAGAIN) or is filtered (ENOSYS/EPERM).
            var n = Native.Splice(fds[0], 0, fds[1], 0, 1, Native.SpliceFMove | Native.SpliceFNonBlock);
            var errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            return errno is not (Native.ENoSys or Native.EPerm);
        }
        finally
        {
            Native.Close(fds[0]);
            Native.Close(fds[1]);
        }
    }

    private enum CommandKind
    {
        Add,
        Cancel,
    }

    private readonly record struct Command(CommandKind Kind, Connection Connection);

    /// <summary>One direction of a connection: From → pipe → To.</summary>
    private sealed class Direction
    {
        public int From;
        public int To;
        public int PipeRead = -1;
        public int PipeWrite = -1;

        /// <summary>Bytes in the pipe not yet written to <see cref="To"/>.</summary>
        public int Pending;

        /// <summary>The last write to <see cref="To"/> got EAGAIN: only To's writability can move us on.</summary>
        public bool WaitingWrite;

        public bool Eof;

        /// <summary>EOF was passed on (shutdown(To, SHUT_WR)).</summary>
        public bool Shut;
    }

    private sealed class Connection(Socket a, Socket b, Loop loop)
    {
        public readonly Socket A = a;
        public readonly Socket B = b;
        public readonly Direction AtoB = new();
        public readonly Direction BtoA = new();
        public readonly TaskCompletionSource<RelayOutcome> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly Loop Loop = loop;
        public int Slot = -1;
        public bool RefA;
        public bool RefB;
        public bool Again;
        public bool Finished;
    }

    /// <summary>One thread with its epoll instance; connection state is touched only by this thread.</summary>
    private sealed unsafe class Loop
    {
        private const int MaxEvents = 256;
        private const ulong WakeToken = ulong.MaxValue;

        /// <summary>Splices per direction per turn before yielding to other connections (fairness).</summary>
        private const int Budget = 16;

        /// <summary>Clean pipes kept for the next connections (2 per connection).</summary>
        private const int PipePoolLimit = 128;

        // epoll_event is packed on x86-64 (12 bytes: u32 events, u64 data) and naturally aligned elsewhere.
        private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
        private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

        private readonly int _chunk;
        private readonly int _epoll;
        private readonly int _wake;
        private readonly ConcurrentQueue<Command> _commands = new();
        private readonly List<Connection?> _slots = [];
        private readonly Stack<int> _freeSlots = new();
        private readonly Stack<(int Read, int Write)> _pipes = new();
        private readonly List<Connection> _again = [];
        private readonly List<Connection> _againNow = [];
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _stopping;

        public Loop(int index, int chunk)
        {
            _chunk = chunk;
            _epoll = Native.EpollCreate1(Native.EpollCloExec);
            if (_epoll < 0)
            {
                throw new IOException("epoll_create1 failed: errno " + Marshal.GetLastPInvokeError());
            }
            _wake = Native.EventFd(0, Native.EfdNonBlock | Native.EfdCloExec);
            if (_wake < 0 || !Control(Native.EpollCtlAdd, _wake, Native.EpollIn, WakeToken))
            {
                var errno = Marshal.GetLastPInvokeError();
                Native.Close(_epoll);
                throw new IOException("eventfd failed: errno " + errno);
            }
            new Thread(Run) { IsBackground = true, Name = "splice loop " + index }.Start();
        }

        public Task Completion => _completion.Task;

        public void Post(Command command)
        {
            _commands.Enqueue(command);
            Wake();
            if (_completion.Task.IsCompleted)
            {
                // The loop is gone (disposed): nobody else will see this command. An Add never ran, so no
                // descriptor was taken; completing its task is all there is to do.
                while (_commands.TryDequeue(out var late))
                {
                    late.Connection.Done.TrySetResult(RelayOutcome.Canceled);
                }
            }
        }

        public void Stop()
        {
            _stopping = true;
            Wake();
        }

        private void Wake()
        {
            ulong one = 1;
            _ = Native.Write(_wake, (byte*)&one, sizeof(ulong));
        }

        private void Run()
        {
            var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventSize));
            try
            {
                while (!_stopping)
                {
                    var n = Native.EpollWait(_epoll, events, MaxEvents, _again.Count > 0 ? 0 : -1);
                    if (n < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == Native.EIntr)
                        {
                            continue;
                        }
                        throw new IOException("epoll_wait failed: errno " + Marshal.GetLastPInvokeError());
                    }
                    for (var i = 0; i < n; i++)
                    {
                        var e = events + (i * EventSize);
                        var flags = *(uint*)e;
                        var data = *(ulong*)(e + DataOffset);
                        if (data == WakeToken)
                        {
                            ulong count;
                            _ = Native.Read(_wake, (byte*)&count, sizeof(ulong));
                            ProcessCommands();
                            continue;
                        }
                        var slot = (int)(data >> 1);
                        if (slot < _slots.Count && _slots[slot] is { } conn)
                        {
                            OnEvent(conn, sideB: (data & 1) != 0, flags);
                        }
                    }
                    if (_again.Count > 0)
                    {
                        // Connections that used up their budget with data left: no new edge will come for it.
                        _againNow.AddRange(_again);
                        _again.Clear();
                        foreach (var conn in _againNow)
                        {
                            conn.Again = false;
                            if (!conn.Finished)
                            {
                                Drive(conn, true, true);
                            }
                        }
                        _againNow.Clear();
                    }
                }
            }
            catch (Exception e)
            {
                // Never leave a caller hanging: every connection of this loop fails as reset.
                foreach (var conn in _slots)
                {
                    if (conn is not null)
                    {
                        Finish(conn, RelayOutcome.Reset);
                    }
                }
                _completion.TrySetException(e);
            }
            finally
            {
                ProcessCommands();
                foreach (var conn in _slots)
                {
                    if (conn is not null)
                    {
                        Finish(conn, RelayOutcome.Canceled);
                    }
                }
                while (_pipes.TryPop(out var p))
                {
                    Native.Close(p.Read);
                    Native.Close(p.Write);
                }
                Native.Close(_wake);
                Native.Close(_epoll);
                NativeMemory.Free(events);
                _completion.TrySetResult();
            }
        }

        private void ProcessCommands()
        {
            while (_commands.TryDequeue(out var command))
            {
                if (command.Kind == CommandKind.Cancel || _stopping)
                {
                    // Also before its Add was seen: Add then skips the finished connection.
                    Finish(command.Connection, RelayOutcome.Canceled);
                    continue;
                }
                Add(command.Connection);
            }
        }

        private void Add(Connection conn)
        {
            if (conn.Finished)
            {
                return;
            }
            try
            {
                conn.A.SafeHandle.DangerousAddRef(ref conn.RefA);
                conn.B.SafeHandle.DangerousAddRef(ref conn.RefB);
            }
            catch (ObjectDisposedException)
            {
                Finish(conn, RelayOutcome.Reset);
                return;
            }
            var fdA = (int)conn.A.SafeHandle.DangerousGetHandle();
            var fdB = (int)conn.B.SafeHandle.DangerousGetHandle();
            conn.AtoB.From = fdA;
            conn.AtoB.To = fdB;
            conn.BtoA.From = fdB;
            conn.BtoA.To = fdA;
            if (!TakePipe(conn.AtoB) || !TakePipe(conn.BtoA))
            {
                Finish(conn, RelayOutcome.Reset);
                return;
            }
            if (_freeSlots.TryPop(out var slot))
            {
                _slots[slot] = conn;
            }
            else
            {
                slot = _slots.Count;
                _slots.Add(conn);
            }
            conn.Slot = slot;
            const uint interest = Native.EpollIn | Native.EpollOut | Native.EpollRdHup | Native.EpollEt;
            if (!Control(Native.EpollCtlAdd, fdA, interest, (ulong)slot << 1) || !Control(Native.EpollCtlAdd, fdB, interest, ((ulong)slot << 1) | 1))
            {
                Finish(conn, RelayOutcome.Reset);
                return;
            }
            // Data may have arrived before registration; edge-triggered epoll reports it, but do not rely on it.
            Drive(conn, true, true);
        }

        private void OnEvent(Connection conn, bool sideB, uint flags)
        {
            var readable = (flags & (Native.EpollIn | Native.EpollRdHup | Native.EpollHup | Native.EpollErr)) != 0;
            var writable = (flags & (Native.EpollOut | Native.EpollHup | Native.EpollErr)) != 0;
            // Side X readable moves X→Y on (unless it waits to write); side X writable moves Y→X on (if it waits).
            var fromX = sideB ? conn.BtoA : conn.AtoB;
            var toX = sideB ? conn.AtoB : conn.BtoA;
            var error = (flags & (Native.EpollHup | Native.EpollErr)) != 0;
            bool runAtoB = false, runBtoA = false;
            if (readable && (error || !fromX.WaitingWrite))
            {
                runAtoB |= fromX == conn.AtoB;
                runBtoA |= fromX == conn.BtoA;
            }
            if (writable && (error || toX.WaitingWrite))
            {
                runAtoB |= toX == conn.AtoB;
                runBtoA |= toX == conn.BtoA;
            }
            if (runAtoB || runBtoA)
            {
                Drive(conn, runAtoB, runBtoA);
            }
        }

        private void Drive(Connection conn, bool atoB, bool btoA)
        {
            var outcome = Step.Blocked;
            if (atoB)
            {
                outcome = Pump(conn.AtoB);
            }
            if (outcome != Step.Failed && btoA)
            {
                var other = Pump(conn.BtoA);
                outcome = other == Step.Blocked ? outcome : other;
            }
            if (outcome == Step.Failed)
            {
                Finish(conn, RelayOutcome.Reset);
            }
            else if (conn.AtoB.Shut && conn.BtoA.Shut)
            {
                Finish(conn, RelayOutcome.Completed);
            }
            else if (outcome == Step.Budget && !conn.Again)
            {
                conn.Again = true;
                _again.Add(conn);
            }
        }

        private enum Step
        {
            Blocked,
            Budget,
            Failed,
        }

        private Step Pump(Direction d)
        {
            for (var turn = 0; turn < Budget; turn++)
            {
                if (d.Pending > 0)
                {
                    var w = Native.Splice(d.PipeRead, 0, d.To, 0, d.Pending, Native.SpliceFMove | Native.SpliceFNonBlock);
                    if (w > 0)
                    {
                        d.Pending -= (int)w;
                        continue;
                    }
                    if (w == 0)
                    {
                        return Step.Failed;
                    }
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Native.EAgain)
                    {
                        d.WaitingWrite = true;
                        return Step.Blocked;
                    }
                    if (errno == Native.EIntr)
                    {
                        continue;
                    }
                    return Step.Failed;
                }
                d.WaitingWrite = false;
                if (d.Eof)
                {
                    if (!d.Shut)
                    {
                        // ENOTCONN when the peer is already gone: the other direction will report it.
                        _ = Native.Shutdown(d.To, Native.ShutWr);
                        d.Shut = true;
                    }
                    return Step.Blocked;
                }
                var r = Native.Splice(d.From, 0, d.PipeWrite, 0, _chunk, Native.SpliceFMove | Native.SpliceFNonBlock);
                if (r > 0)
                {
                    d.Pending = (int)r;
                    continue;
                }
                if (r == 0)
                {
                    d.Eof = true;
                    continue;
                }
                var readErrno = Marshal.GetLastPInvokeError();
                if (readErrno == Native.EAgain)
                {
                    return Step.Blocked;
                }
                if (readErrno == Native.EIntr)
                {
                    continue;
                }
                return Step.Failed;
            }
            return Step.Budget;
        }

        private void Finish(Connection conn, RelayOutcome outcome)
        {
            if (conn.Finished)
            {
                return;
            }
            conn.Finished = true;
            if (conn.Slot >= 0)
            {
                _ = Control(Native.EpollCtlDel, conn.AtoB.From, 0, 0);
                _ = Control(Native.EpollCtlDel, conn.BtoA.From, 0, 0);
                _slots[conn.Slot] = null;
                _freeSlots.Push(conn.Slot);
                conn.Slot = -1;
            }
            GivePipe(conn.AtoB);
            GivePipe(conn.BtoA);
            if (conn.RefA)
            {
                conn.A.SafeHandle.DangerousRelease();
                conn.RefA = false;
            }
            if (conn.RefB)
            {
                conn.B.SafeHandle.DangerousRelease();
                conn.RefB = false;
            }
            conn.Done.TrySetResult(outcome);
        }

        private bool TakePipe(Direction d)
        {
            if (_pipes.TryPop(out var p))
            {
                (d.PipeRead, d.PipeWrite) = p;
                return true;
            }
            int* fds = stackalloc int[2];
            if (Native.Pipe2(fds, Native.ONonBlock | Native.OCloExec) != 0)
            {
                return false;
            }
            // Best effort: a smaller pipe only means more splice calls.
            _ = Native.Fcntl(fds[0], Native.FSetPipeSz, _chunk);
            d.PipeRead = fds[0];
            d.PipeWrite = fds[1];
            return true;
        }

        private void GivePipe(Direction d)
        {
            if (d.PipeRead < 0)
            {
                return;
            }
            // A pipe that still holds bytes of a failed connection is not reusable.
            if (d.Pending == 0 && _pipes.Count < PipePoolLimit && !_stopping)
            {
                _pipes.Push((d.PipeRead, d.PipeWrite));
            }
            else
            {
                Native.Close(d.PipeRead);
                Native.Close(d.PipeWrite);
            }
            d.PipeRead = d.PipeWrite = -1;
        }

        private bool Control(int op, int fd, uint events, ulong data)
        {
            var e = stackalloc byte[16];
            *(uint*)e = events;
            *(ulong*)(e + DataOffset) = data;
            return Native.EpollCtl(_epoll, op, fd, e) == 0;
        }
    }

    private static unsafe partial class Native
    {
        public const int EAgain = 11;
        public const int EIntr = 4;
        public const int EPerm = 1;
        public const int ENoSys = 38;
        public const int ONonBlock = 0x800;
        public const int OCloExec = 0x80000;
        public const int FSetPipeSz = 1031;
        public const int FGetPipeSz = 1032;
        public const uint SpliceFMove = 1;
        public const uint SpliceFNonBlock = 2;
        public const int EpollCloExec = 0x80000;
        public const int EpollCtlAdd = 1;
        public const int EpollCtlDel = 2;
        public const uint EpollIn = 0x001;
        public const uint EpollOut = 0x004;
        public const uint EpollErr = 0x008;
        public const uint EpollHup = 0x010;
        public const uint EpollRdHup = 0x2000;
        public const uint EpollEt = 1u << 31;
        public const int EfdNonBlock = 0x800;
        public const int EfdCloExec = 0x80000;
        public const int ShutWr = 1;

        [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
        public static partial int Pipe2(int* fds, int flags);

        [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        public static partial int Fcntl(int fd, int cmd, int arg);

        [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
        public static partial nint Splice(int fdIn, nint offIn, int fdOut, nint offOut, nint len, uint flags);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);

        [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
        public static partial int Shutdown(int fd, int how);

        [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
        public static partial int EpollCreate1(int flags);

        [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
        public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

        [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
        public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);

        [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
        public static partial int EventFd(uint initval, int flags);

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        public static partial nint Read(int fd, byte* buffer, nint count);

        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        public static partial nint Write(int fd, byte* buffer, nint count);
    }
}
