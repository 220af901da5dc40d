using System.ComponentModel;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Node.Runtime;

/// <summary>
/// Client sockets made in another network namespace ("One process, many namespaces", ARCHITECTURE.md §2): a
/// short-lived thread setns()es and creates the socket, which stays in that namespace for its life. Used when the
/// runtime plays a node namespace it does not run in (tests); in production the agent already runs in its node.
/// </summary>
internal static partial class NetnsSockets
{
    private const int CloneNewNet = 0x40000000;

    public static Socket Create(string? netns, AddressFamily family)
    {
        if (netns is null)
        {
            return new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        }
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var ns = File.OpenHandle(Path.Combine("/run/netns", netns)))
                {
                    if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new Win32Exception(Marshal.GetLastPInvokeError(), "setns");
                    }
                }
                socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (Exception e) when (e is IOException or Win32Exception or SocketException or UnauthorizedAccessException)
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
        return socket ?? throw new IOException($"cannot make a socket in network namespace {netns}: {error?.Message}", error);
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
