using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.ServeHostname;

/// <summary>`serve-hostname`: the hostname over HTTP (default), raw TCP or UDP on one port.</summary>
internal static class ServeHostnameCommand
{
    public static readonly CommandSpec Spec = new(
        "serve-hostname",
        "app serve-hostname [flags]",
        "Serves the hostname",
        [
            new("close", FlagKind.Bool, "false", "Close connection per each HTTP request."),
            new("http", FlagKind.Bool, "true", "Serve HTTP."),
            new("port", FlagKind.Int, "9376", "Port number."),
            new("tcp", FlagKind.Bool, "false", "Serve raw over TCP."),
            new("udp", FlagKind.Bool, "false", "Serve raw over UDP."),
        ],
        0,
        0);

    /// <summary>Upstream keeps serving this long after SIGTERM so tests can watch a terminating Pod.</summary>
    public static readonly TimeSpan AwaitPodDeletion = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(ParsedArgs args, GoLogger log)
    {
        var doTcp = args.GetBool("tcp");
        var doUdp = args.GetBool("udp");
        var doHttp = args.GetBool("http");
        var doClose = args.GetBool("close");
        var port = args.GetInt("port");
        if (doHttp && (doTcp || doUdp))
        {
            return log.Fatal("Can't server TCP/UDP mode and HTTP mode at the same time");
        }

        var hostname = Sockets.Hostname();
        var hostnameBytes = Encoding.UTF8.GetBytes(hostname);
        var terminated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            terminated.TrySetResult();
        });

        if (doTcp)
        {
            Socket listener;
            try
            {
                listener = Sockets.Listen(null, port);
            }
            catch (SocketException e)
            {
                return log.Fatal(string.Create(CultureInfo.InvariantCulture, $"Error from net.Listen(): listen tcp :{port}: bind: {Sockets.ErrnoText(e)}"));
            }

            _ = ServeTcpAsync(listener, hostnameBytes, log);
        }

        if (doUdp)
        {
            Socket socket;
            try
            {
                socket = Sockets.Bind(null, port, SocketType.Dgram, ProtocolType.Udp);
            }
            catch (SocketException e)
            {
                return log.Fatal(string.Create(CultureInfo.InvariantCulture, $"Error from ListenUDP(): listen udp :{port}: bind: {Sockets.ErrnoText(e)}"));
            }

            _ = ServeUdpAsync(socket, hostnameBytes, log);
        }

        if (doHttp)
        {
            var server = new HttpServer(new Handler(hostname, doClose, log), log);
            try
            {
                server.Start(Sockets.Listen(null, port));
            }
            catch (SocketException e)
            {
                return log.Fatal(string.Create(CultureInfo.InvariantCulture, $"listen tcp :{port}: bind: {Sockets.ErrnoText(e)}"));
            }
        }

        log.Printf(string.Create(CultureInfo.InvariantCulture, $"Serving on port {port}.\n"));
        await terminated.Task.ConfigureAwait(false);
        log.Printf("Shutting down after receiving signal: terminated.\n");
        log.Printf("Awaiting pod deletion.\n");
        await Task.Delay(AwaitPodDeletion, log.Time).ConfigureAwait(false);
        return 0;
    }

    private static async Task ServeTcpAsync(Socket listener, byte[] hostname, GoLogger log)
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                log.Fatal("Error from Accept(): " + e.Message);
                return;
            }

            using (connection)
            {
                log.Printf("TCP request from " + Sockets.Format(connection.RemoteEndPoint));
                try
                {
                    await connection.SendAsync(hostname, SocketFlags.None).ConfigureAwait(false);
                    connection.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    // The client went away; upstream ignores write errors too.
                }
            }
        }
    }

    private static async Task ServeUdpAsync(Socket socket, byte[] hostname, GoLogger log)
    {
        // Upstream reads 16 bytes and ignores them; a full-size buffer avoids truncation errors losing the sender.
        var buffer = new byte[65536];
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
            {
                continue;
            }

            log.Printf("UDP request from " + Sockets.Format(received.RemoteEndPoint));
            try
            {
                await socket.SendToAsync(hostname, SocketFlags.None, received.RemoteEndPoint).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // Upstream ignores WriteTo errors.
            }
        }
    }

    /// <summary>Every path answers the hostname (DefaultServeMux with "/"), unclean paths redirected as Go does.</summary>
    private sealed class Handler(string hostname, bool close, GoLogger log) : IHttpHandler
    {
        public ValueTask HandleAsync(HttpContext context, CancellationToken cancellationToken)
        {
            var request = context.Request;
            var response = context.Response;
            var clean = GoUrl.CleanPath(request.Path);
            if (clean != request.Path && request.Method != "CONNECT")
            {
                var location = request.RawQuery.Length > 0 ? clean + "?" + request.RawQuery : clean;
                response.Status = 301;
                response.Headers.Add(new("Location", location));
                if (request.Method is "GET" or "HEAD")
                {
                    response.ContentType = "text/html; charset=utf-8";
                }

                if (request.Method == "GET")
                {
                    response.Body = "<a href=\"" + GoUrl.HtmlEscape(location) + "\">Moved Permanently</a>.\n\n";
                }

                return ValueTask.CompletedTask;
            }

            log.Printf("HTTP request from " + request.RemoteAddress);
            if (close)
            {
                response.Close = true;
            }

            response.Body = hostname;
            return ValueTask.CompletedTask;
        }
    }
}
