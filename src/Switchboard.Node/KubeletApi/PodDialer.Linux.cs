using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// Connects to a port on a Pod's loopback for port-forward: the socket is created on a dedicated thread that
/// setns()es into /run/netns/&lt;pod-netns&gt; (a socket keeps its namespace for life, ARCHITECTURE.md "One process, many
/// namespaces"), then connected from ordinary async code. Without a namespace (hostNetwork) it connects from the
/// agent's own namespace. 127.0.0.1 first, then ::1, as a "localhost" dial.
/// </summary>
internal static partial class PodDialer
{
    private const int CloneNewNet = 0x40000000;

    public static async Task<Socket> ConnectAsync(string? netns, int port, CancellationToken ct)
    {
        SocketException? last = null;
        foreach (var address in (IPAddress[])[IPAddress.Loopback, IPAddress.IPv6Loopback])
        {
            var socket = netns is null ? new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : CreateIn(netns, address.AddressFamily);
            try
            {
                socket.NoDelay = true;
                await socket.ConnectAsync(new IPEndPoint(address, port), ct).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }
        throw last!;
    }

    private static Socket CreateIn(string netns, AddressFamily family)
    {
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
                        throw new Win32Exception(Marshal.GetLastPInvokeError(), "setns " + netns);
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
        return socket ?? throw new SocketException((int)SocketError.NetworkUnreachable, $"cannot make a socket in network namespace {netns}: {error?.Message}");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
