using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Agnhost.Net;

/// <summary>Socket helpers shared by the subcommands: Go-like wildcard listening and address text.</summary>
internal static class Sockets
{
    /// <summary>The kernel's SCTP protocol number; .NET has no ProtocolType member for it.</summary>
    public const ProtocolType Sctp = (ProtocolType)132;

    /// <summary>
    /// Like Go's Listen(":port"): one dual-stack [::] socket that also takes IPv4, or plain 0.0.0.0 where the
    /// kernel has no IPv6. A specific address binds only that address.
    /// </summary>
    public static Socket Bind(IPAddress? address, int port, SocketType type, ProtocolType protocol)
    {
        if (address is null)
        {
            Socket? v6 = null;
            try
            {
                v6 = new Socket(AddressFamily.InterNetworkV6, type, protocol) { DualMode = true };
                Prepare(v6, type);
                v6.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                return v6;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressFamilyNotSupported
                or SocketError.AddressNotAvailable or SocketError.ProtocolNotSupported or SocketError.ProtocolFamilyNotSupported)
            {
                v6?.Dispose();
                address = IPAddress.Any;
            }
        }

        var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = address.Equals(IPAddress.IPv6Any);
            }

            Prepare(socket, type);
            socket.Bind(new IPEndPoint(address, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static Socket Listen(IPAddress? address, int port, ProtocolType protocol = ProtocolType.Tcp)
    {
        var socket = Bind(address, port, SocketType.Stream, protocol);
        try
        {
            socket.Listen(1024);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Go's net.Addr String(): "1.2.3.4:80", "[::1]:80"; v4-mapped v6 shown as v4 like Go does.</summary>
    public static string Format(EndPoint? endPoint)
    {
        if (endPoint is not IPEndPoint ip)
        {
            return endPoint?.ToString() ?? string.Empty;
        }

        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        var port = ip.Port.ToString(CultureInfo.InvariantCulture);
        return address.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + address + "]:" + port
            : address + ":" + port;
    }

    /// <summary>os.Hostname(): the full kernel hostname (Environment.MachineName cuts at the first dot).</summary>
    public static string Hostname() => Dns.GetHostName();

    /// <summary>Go's net.JoinHostPort.</summary>
    public static string JoinHostPort(string host, string port) =>
        host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]:" + port : host + ":" + port;

    /// <summary>Go's syscall error text for the errno behind a SocketException ("connection refused").</summary>
    public static string ErrnoText(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "i/o timeout",
        SocketError.HostUnreachable => "no route to host",
        SocketError.NetworkUnreachable => "network is unreachable",
        SocketError.ConnectionReset => "connection reset by peer",
        SocketError.AddressNotAvailable => "cannot assign requested address",
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AccessDenied => "permission denied",
        SocketError.ProtocolNotSupported => "protocol not supported",
        _ => e.Message.ToLowerInvariant(),
    };

    private static void Prepare(Socket socket, SocketType type)
    {
        if (type == SocketType.Stream)
        {
            // Go sets SO_REUSEADDR on listeners so a restarted container can rebind at once.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }
    }
}
