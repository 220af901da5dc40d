using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Node.Linux;

/// <summary>
/// Listening sockets made inside another network namespace ("One process, many namespaces", ARCHITECTURE.md §2).
/// A socket belongs to the namespace of the thread that created it, for its whole life: a dedicated thread
/// setns()es into /run/netns/&lt;name&gt;, binds and listens, then ends — no pool thread ever changes namespace.
/// </summary>
internal static partial class NetnsListener
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>
    /// Binds listening TCP sockets to <paramref name="endpoints"/> inside namespace <paramref name="netns"/> and
    /// returns a dup()ed descriptor of each, for Kestrel's ListenHandle: Kestrel owns and closes the duplicate, and
    /// the original Socket is closed here, so no descriptor is closed twice.
    /// </summary>
    public static IReadOnlyList<ulong> Bind(string netns, IReadOnlyList<IPEndPoint> endpoints)
    {
        ulong[]? handles = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                handles = BindOnThisThread(netns, endpoints);
            }
            catch (Exception e) when (e is IOException or SocketException or Win32Exception or UnauthorizedAccessException)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = "setns " + netns,
        };
        thread.Start();
        thread.Join();
        return error is null ? handles! : throw new IOException($"cannot listen in network namespace {netns}: {error.Message}", error);
    }

    private static ulong[] BindOnThisThread(string netns, IReadOnlyList<IPEndPoint> endpoints)
    {
        using (var ns = File.OpenHandle(Path.Combine("/run/netns", netns)))
        {
            if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "setns");
            }
        }
        var result = new List<ulong>();
        foreach (var endpoint in endpoints)
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            socket.Listen(512);
            var dup = Dup((int)socket.SafeHandle.DangerousGetHandle());
            if (dup < 0)
            {
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "dup");
            }
            result.Add((ulong)dup);
        }
        return [.. result];
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);
}
