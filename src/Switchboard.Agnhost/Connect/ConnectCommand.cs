using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Netexec;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Connect;

/// <summary>
/// `connect host:port`: exit 0 on success; otherwise exit 1 with a message on stderr that starts with
/// UNKNOWN, TIMEOUT, DNS, REFUSED or OTHER, exactly the prefixes upstream documents.
/// </summary>
internal static class ConnectCommand
{
    public static readonly CommandSpec Spec = new(
        "connect",
        "app connect [host:port] [flags]",
        "Attempts a TCP, UDP or SCTP connection and returns useful errors",
        [
            new("protocol", FlagKind.String, "tcp", "The protocol to use to perform the connection, can be tcp, udp or sctp"),
            new("sctp-data", FlagKind.String, "hostname", "The SCTP payload send to the server"),
            new("timeout", FlagKind.Duration, "0s", "Maximum time before returning an error"),
            new("udp-data", FlagKind.String, "hostname", "The UDP payload send to the server"),
        ],
        1,
        1);

    public static async Task<int> RunAsync(ParsedArgs args, TextWriter stderr)
    {
        var dest = args.Positionals[0];
        var timeout = args.GetDuration("timeout");
        var protocol = args.GetString("protocol");
        switch (protocol)
        {
            case "" or "tcp":
                return await ConnectTcpAsync(dest, timeout, stderr).ConfigureAwait(false);
            case "udp":
                return await ConnectUdpAsync(dest, timeout, args.GetString("udp-data"), stderr).ConfigureAwait(false);
            case "sctp":
                return await ConnectSctpAsync(dest, timeout, args.GetString("sctp-data"), stderr).ConfigureAwait(false);
            default:
                await stderr.WriteAsync("Unsupported protocol\n" + protocol).ConfigureAwait(false);
                return 1;
        }
    }

    /// <summary>net.SplitHostPort with its error texts.</summary>
    internal static bool TrySplitHostPort(string address, out string host, out string port, out string error)
    {
        host = port = error = string.Empty;
        if (address.StartsWith('['))
        {
            var end = address.IndexOf(']', StringComparison.Ordinal);
            if (end < 0)
            {
                error = "address " + address + ": missing ']' in address";
                return false;
            }

            if (end + 1 >= address.Length || address[end + 1] != ':')
            {
                error = "address " + address + ": missing port in address";
                return false;
            }

            host = address[1..end];
            port = address[(end + 2)..];
            return true;
        }

        var colon = address.LastIndexOf(':');
        if (colon < 0)
        {
            error = "address " + address + ": missing port in address";
            return false;
        }

        if (address.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            error = "address " + address + ": too many colons in address";
            return false;
        }

        host = address[..colon];
        port = address[(colon + 1)..];
        return true;
    }

    private static async Task<(IPEndPoint? EndPoint, string Error)> ResolveAsync(string network, string dest)
    {
        if (!TrySplitHostPort(dest, out var host, out var port, out var error))
        {
            return (null, error);
        }

        return await NetexecHandler.ResolveAsync(network, host, port).ConfigureAwait(false);
    }

    private static async Task<int> ConnectTcpAsync(string dest, TimeSpan timeout, TextWriter stderr)
    {
        if (!TrySplitHostPort(dest, out _, out _, out var splitError))
        {
            await stderr.WriteLineAsync("UNKNOWN: " + splitError).ConfigureAwait(false);
            return 1;
        }

        var (endPoint, error) = await ResolveAsync("tcp", dest).ConfigureAwait(false);
        if (endPoint is null)
        {
            await stderr.WriteLineAsync("DNS: " + error).ConfigureAwait(false);
            return 1;
        }

        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = timeout > TimeSpan.Zero ? new CancellationTokenSource(timeout) : new CancellationTokenSource();
        try
        {
            await socket.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("TIMEOUT").ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            await stderr.WriteLineAsync("TIMEOUT").ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            await stderr.WriteLineAsync("REFUSED").ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            await stderr.WriteLineAsync("OTHER: dial tcp " + Sockets.Format(endPoint) + ": connect: " + Sockets.ErrnoText(e)).ConfigureAwait(false);
        }

        return 1;
    }

    private static async Task<int> ConnectUdpAsync(string dest, TimeSpan timeout, string data, TextWriter stderr)
    {
        var (endPoint, error) = await ResolveAsync("udp", dest).ConfigureAwait(false);
        if (endPoint is null)
        {
            await stderr.WriteLineAsync("DNS: " + error).ConfigureAwait(false);
            return 1;
        }

        using var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            await socket.ConnectAsync(endPoint).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            await stderr.WriteLineAsync("OTHER: dial udp " + Sockets.Format(endPoint) + ": " + Sockets.ErrnoText(e)).ConfigureAwait(false);
            return 1;
        }

        var pair = Sockets.Format(socket.LocalEndPoint) + "->" + Sockets.Format(endPoint);
        using var cts = timeout > TimeSpan.Zero ? new CancellationTokenSource(timeout) : new CancellationTokenSource();
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(data + "\n"), SocketFlags.None, cts.Token).ConfigureAwait(false);
            var buffer = new byte[1024];
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
            if (n == 0)
            {
                await stderr.WriteLineAsync("OTHER: No data received from the server. Cannot guarantee the server received the request.").ConfigureAwait(false);
                return 1;
            }

            return 0;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("TIMEOUT: read udp " + pair + ": i/o timeout").ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            await stderr.WriteLineAsync("REFUSED: read udp " + pair + ": read: connection refused").ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            await stderr.WriteLineAsync("UNKNOWN: read udp " + pair + ": read: " + Sockets.ErrnoText(e)).ConfigureAwait(false);
        }

        return 1;
    }

    private static async Task<int> ConnectSctpAsync(string dest, TimeSpan timeout, string data, TextWriter stderr)
    {
        var (endPoint, error) = await ResolveAsync("sctp", dest).ConfigureAwait(false);
        if (endPoint is null)
        {
            await stderr.WriteLineAsync("DNS: " + error).ConfigureAwait(false);
            return 1;
        }

        using var cts = timeout > TimeSpan.Zero ? new CancellationTokenSource(timeout) : new CancellationTokenSource();
        try
        {
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, Sockets.Sctp);
            await socket.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
            await socket.SendAsync(Encoding.UTF8.GetBytes(data + "\n"), SocketFlags.None, cts.Token).ConfigureAwait(false);
            await socket.ReceiveAsync(new byte[1024], SocketFlags.None, cts.Token).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("TIMEOUT").ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            await stderr.WriteLineAsync("OTHER: " + Sockets.ErrnoText(e)).ConfigureAwait(false);
        }

        return 1;
    }
}
