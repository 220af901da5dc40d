using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Netexec;

/// <summary>netexec's UDP (and SCTP) command server: "hostname", "echo &lt;msg&gt;", "clientip".</summary>
internal static class NetexecUdpServer
{
    /// <summary>Upstream lower-cases and trims the datagram first, so echo answers lower case too.</summary>
    public static string? Answer(string received, string client, GoLogger log, string transport)
    {
        var text = received.Trim().ToLowerInvariant();
        if (text == "hostname")
        {
            log.Printf("Sending " + transport + " hostName response");
            var name = Sockets.Hostname();
            log.Printf("hostname: " + name);
            return name;
        }

        if (text.StartsWith("echo ", StringComparison.Ordinal))
        {
            var message = text[5..];
            log.Printf("Echoing " + message + " to " + transport.ToUpperInvariant() + " client " + client);
            return message;
        }

        if (text == "clientip")
        {
            log.Printf("Sending clientip back to " + transport.ToUpperInvariant() + " client " + client);
            return client;
        }

        if (text.Length > 0)
        {
            log.Printf("Unknown " + transport.ToUpperInvariant() + " command received from " + client + ": " + text);
        }

        return null;
    }

    public static async Task RunUdpAsync(Socket socket, GoLogger log)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(2048);
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        try
        {
            while (true)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await socket.ReceiveFromAsync(buffer.AsMemory(0, 2048), SocketFlags.None, any).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.MessageSize)
                {
                    continue;
                }

                var client = Sockets.Format(received.RemoteEndPoint);
                var answer = Answer(Encoding.UTF8.GetString(buffer, 0, received.ReceivedBytes), client, log, "udp");
                if (answer is null)
                {
                    continue;
                }

                try
                {
                    await socket.SendToAsync(Encoding.UTF8.GetBytes(answer), SocketFlags.None, received.RemoteEndPoint).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    log.Printf("Error occurred: failed to write to UDP client " + client + ":" + e.Message);
                }
            }
        }
        catch (ObjectDisposedException)
        {
            log.Printf("UDP server exited");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>One request per SCTP association, as upstream: read, answer, close.</summary>
    public static async Task RunSctpAsync(Socket listener, GoLogger log)
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                log.Printf("SCTP server exited");
                return;
            }

            using (connection)
            {
                try
                {
                    var client = Sockets.Format(connection.RemoteEndPoint);
                    var buffer = new byte[1024];
                    var n = await connection.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                    var answer = Answer(Encoding.UTF8.GetString(buffer, 0, n), client, log, "sctp");
                    if (answer is not null)
                    {
                        await connection.SendAsync(Encoding.UTF8.GetBytes(answer), SocketFlags.None).ConfigureAwait(false);
                    }
                }
                catch (SocketException e)
                {
                    log.Printf("Error occurred: failed to read from SCTP client:" + e.Message);
                }
            }
        }
    }
}
