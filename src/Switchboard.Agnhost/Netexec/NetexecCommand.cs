using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Netexec;

/// <summary>`netexec`: the HTTP server with upstream's endpoints, plus the UDP (and optional SCTP) command server.</summary>
internal static class NetexecCommand
{
    public static readonly CommandSpec Spec = new(
        "netexec",
        "app netexec [flags]",
        "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints",
        [
            new("delay-shutdown", FlagKind.Int, "0", "Number of seconds to delay shutdown when receiving SIGTERM."),
            new("http-override", FlagKind.String, "", "Override the HTTP handler to always respond as if it were a GET with this path & params"),
            new("http-port", FlagKind.Int, "8080", "HTTP Listen Port"),
            new("sctp-port", FlagKind.Int, "-1", "SCTP Listen Port"),
            new("tls-cert-file", FlagKind.String, "", "File containing an x509 certificate for HTTPS. (CA cert, if any, concatenated after server cert)"),
            new("tls-private-key-file", FlagKind.String, "", "File containing an x509 private key matching --tls-cert-file"),
            new("udp-listen-addresses", FlagKind.String, "", "A comma separated list of ip addresses the udp servers listen from"),
            new("udp-port", FlagKind.Int, "8081", "UDP Listen Port"),
        ],
        0,
        0);

    public static async Task<int> RunAsync(ParsedArgs args, GoLogger log)
    {
        var httpPort = args.GetInt("http-port");
        var udpPort = args.GetInt("udp-port");
        var sctpPort = args.GetInt("sctp-port");
        var delayShutdown = args.GetInt("delay-shutdown");
        var certFile = args.GetString("tls-cert-file");
        var keyFile = args.GetString("tls-private-key-file");
        var state = new NetexecState();

        // SIGTERM: /readyz turns 503 at once; exit 0 after --delay-shutdown seconds (serving meanwhile).
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            if (state.SigTermReceived)
            {
                return;
            }

            state.SigTermReceived = true;
            _ = Task.Run(async () =>
            {
                if (delayShutdown > 0)
                {
                    log.Printf(string.Create(CultureInfo.InvariantCulture, $"Sleeping {delayShutdown} seconds before terminating..."));
                    await Task.Delay(TimeSpan.FromSeconds(delayShutdown), log.Time).ConfigureAwait(false);
                }

                Program.Exit(0);
            });
        });

        if (udpPort != -1)
        {
            foreach (var address in ParseAddresses(args.GetString("udp-listen-addresses"), log))
            {
                Socket socket;
                var shown = address?.ToString() ?? string.Empty;
                try
                {
                    socket = Sockets.Bind(address, udpPort, SocketType.Dgram, ProtocolType.Udp);
                }
                catch (SocketException e)
                {
                    var where = Sockets.JoinHostPort(shown, udpPort.ToString(CultureInfo.InvariantCulture));
                    return log.Fatal("Error occurred: failed to create listener for UDP address " + where + ":listen udp " + where + ": bind: " + Sockets.ErrnoText(e));
                }

                log.Printf(string.Create(CultureInfo.InvariantCulture, $"Started UDP server on port {shown} {udpPort}"));
                state.ServerReady = true;
                _ = NetexecUdpServer.RunUdpAsync(socket, log);
            }
        }

        if (sctpPort != -1)
        {
            Socket sctp;
            try
            {
                sctp = Sockets.Listen(null, sctpPort, Sockets.Sctp);
            }
            catch (SocketException e)
            {
                return log.Fatal(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Error occurred: failed to create listener for SCTP address :{sctpPort}:{Sockets.ErrnoText(e)} (this kernel offers no SCTP sockets; drop --sctp-port)"));
            }

            log.Printf("Started SCTP server");
            state.ServerReady = true;
            _ = NetexecUdpServer.RunSctpAsync(sctp, log);
        }

        X509Certificate2? certificate = null;
        if (certFile.Length > 0)
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile.Length > 0 ? keyFile : null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                return log.Fatal("open " + certFile + ": " + e.Message);
            }
        }

        HttpServer? server = null;
        var handler = new NetexecHandler(
            log,
            state,
            args.GetString("http-override"),
            timeout => server!.ShutdownAsync(timeout),
            Program.Exit);
        server = new HttpServer(handler, log, certificate);
        log.Printf(string.Create(CultureInfo.InvariantCulture, $"Started HTTP server on port {httpPort}"));
        try
        {
            server.Start(Sockets.Listen(null, httpPort));
        }
        catch (SocketException e)
        {
            return log.Fatal(string.Create(CultureInfo.InvariantCulture, $"listen tcp :{httpPort}: bind: {Sockets.ErrnoText(e)}"));
        }

        await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
        GC.KeepAlive(sigterm);
        return 0;
    }

    /// <summary>--udp-listen-addresses: empty means the wildcard; otherwise each IP once, sorted as upstream's set.</summary>
    private static List<IPAddress?> ParseAddresses(string addresses, GoLogger log)
    {
        if (addresses.Length == 0)
        {
            return [null];
        }

        var unique = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var text in addresses.Split(','))
        {
            if (!IPAddress.TryParse(text, out _) || text.Length == 0)
            {
                log.Fatal("parseAddress: invalid address " + text);
            }

            unique.Add(text);
        }

        var result = new List<IPAddress?>();
        foreach (var text in unique)
        {
            result.Add(IPAddress.Parse(text));
        }

        return result;
    }
}
