using System.Collections;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Json;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Porter;

/// <summary>
/// `porter`: for every SERVE_{PORT,TCP_PORT,UDP_PORT,TLS_PORT,SCTP_PORT}_N variable, serve its value on port N.
/// Like upstream it listens on 0.0.0.0 (IPv4) only.
/// </summary>
internal static class PorterCommand
{
    public static readonly CommandSpec Spec = new(
        "porter",
        "app porter [flags]",
        "Serves requested data on ports specified in ENV variables",
        [new("json-response", FlagKind.Bool, "false", "Responds to requests with a json response that includes the default value with the http.Request Method")],
        0,
        0);

    public static async Task<int> RunAsync(ParsedArgs args, GoLogger log)
    {
        var json = args.GetBool("json-response");
        var served = 0;
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var key = (string)entry.Key;
            var value = (string?)entry.Value ?? string.Empty;
            if (key.StartsWith("SERVE_PORT_", StringComparison.Ordinal))
            {
                served++;
                ServeHttp(key["SERVE_PORT_".Length..], value, json, null, log);
            }
            else if (key.StartsWith("SERVE_TCP_PORT_", StringComparison.Ordinal))
            {
                served++;
                ServeHttp(key["SERVE_TCP_PORT_".Length..], value, json, null, log);
            }
            else if (key.StartsWith("SERVE_UDP_PORT_", StringComparison.Ordinal))
            {
                served++;
                ServeUdp(key["SERVE_UDP_PORT_".Length..], value, log);
            }
            else if (key.StartsWith("SERVE_SCTP_PORT_", StringComparison.Ordinal))
            {
                served++;
                ServeSctp(key["SERVE_SCTP_PORT_".Length..], value, log);
            }
            else if (key.StartsWith("SERVE_TLS_PORT_", StringComparison.Ordinal))
            {
                served++;
                ServeTls(key["SERVE_TLS_PORT_".Length..], value, json, log);
            }
        }

        if (served == 0)
        {
            // Upstream blocks in `select {}` with nothing running, which the Go runtime reports as a deadlock.
            await Console.Error.WriteLineAsync("fatal error: all goroutines are asleep - deadlock!").ConfigureAwait(false);
            return 2;
        }

        await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
        return 0;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;

    private static void ServeHttp(string portText, string value, bool json, X509Certificate2? certificate, GoLogger log)
    {
        var kind = certificate is null ? "server" : "tls server";
        if (!TryPort(portText, out var port))
        {
            log.Printf(kind + " on port \"" + portText + "\" failed: listen tcp: lookup tcp/" + portText + ": unknown port");
            return;
        }

        try
        {
            var server = new HttpServer(new ValueHandler(value, json), log, certificate);
            server.Start(Sockets.Listen(IPAddress.Any, port));
        }
        catch (SocketException e)
        {
            log.Printf(kind + " on port \"" + portText + "\" failed: listen tcp 0.0.0.0:" + portText + ": bind: " + Sockets.ErrnoText(e));
        }
    }

    private static void ServeTls(string portText, string value, bool json, GoLogger log)
    {
        var certFile = Environment.GetEnvironmentVariable("CERT_FILE");
        var keyFile = Environment.GetEnvironmentVariable("KEY_FILE");
        var explicitFiles = !string.IsNullOrEmpty(certFile) || !string.IsNullOrEmpty(keyFile);
        certFile = string.IsNullOrEmpty(certFile) ? "localhost.crt" : certFile;
        keyFile = string.IsNullOrEmpty(keyFile) ? "localhost.key" : keyFile;
        X509Certificate2 certificate;
        try
        {
            if (!explicitFiles && !File.Exists(certFile))
            {
                // Upstream's image ships localhost.crt/key; we make an equivalent self-signed pair instead.
                certificate = SelfSignedCertificate.Create(log.Time);
            }
            else
            {
                certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            log.Printf("tls server on port \"" + portText + "\" with certFile=\"" + certFile + "\", keyFile=\"" + keyFile + "\" failed: " + e.Message);
            return;
        }

        ServeHttp(portText, value, json, certificate, log);
    }

    private static void ServeUdp(string portText, string value, GoLogger log)
    {
        if (!TryPort(portText, out var port))
        {
            log.Fatal("UDP: failed to resolve address: address 0.0.0.0:" + portText + ": invalid port");
            return;
        }

        Socket socket;
        try
        {
            socket = Sockets.Bind(IPAddress.Any, port, SocketType.Dgram, ProtocolType.Udp);
        }
        catch (SocketException e)
        {
            log.Fatal("UDP: failed to listen on port " + portText + ": listen udp 0.0.0.0:" + portText + ": bind: " + Sockets.ErrnoText(e));
            return;
        }

        log.Printf("Started UDP server on port " + portText);
        _ = UdpLoopAsync(socket, Encoding.UTF8.GetBytes(value), log);
    }

    private static async Task UdpLoopAsync(Socket socket, byte[] value, GoLogger log)
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
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

            try
            {
                await socket.SendToAsync(value, SocketFlags.None, received.RemoteEndPoint).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                log.Printf("UDP: error from WriteTo(): " + e.Message);
            }
        }
    }

    private static void ServeSctp(string portText, string value, GoLogger log)
    {
        if (!TryPort(portText, out var port))
        {
            log.Fatal("Sctp: failed to resolve address. error: address 0.0.0.0:" + portText + ": invalid port");
            return;
        }

        Socket listener;
        try
        {
            listener = Sockets.Listen(IPAddress.Any, port, Sockets.Sctp);
        }
        catch (SocketException e)
        {
            log.Fatal("Failed to listen SCTP. error: " + Sockets.ErrnoText(e) + " (this kernel offers no SCTP sockets)");
            return;
        }

        log.Printf("Started SCTP server");
        _ = SctpLoopAsync(listener, Encoding.UTF8.GetBytes(value), log);
    }

    private static async Task SctpLoopAsync(Socket listener, byte[] value, GoLogger log)
    {
        while (true)
        {
            var connection = await listener.AcceptAsync().ConfigureAwait(false);
            using (connection)
            {
                log.Printf("Sending response");
                try
                {
                    await connection.SendAsync(value, SocketFlags.None).ConfigureAwait(false);
                    log.Printf("Response sent");
                }
                catch (SocketException e)
                {
                    log.Printf("Failed to send response " + e.Message);
                }
            }
        }
    }

    /// <summary>Any request gets the variable's value (or {"Method":...,"Body":...} with --json-response).</summary>
    private sealed class ValueHandler(string value, bool json) : IHttpHandler
    {
        public ValueTask HandleAsync(HttpContext context, CancellationToken cancellationToken)
        {
            if (json)
            {
                context.Response.ContentType = "application/json";
                context.Response.Body = JsonSerializer.Serialize(
                    new PorterResponse { Method = context.Request.Method, Body = value },
                    AgnhostJsonContext.Relaxed.PorterResponse);
            }
            else
            {
                context.Response.Body = value;
            }

            return ValueTask.CompletedTask;
        }
    }
}
