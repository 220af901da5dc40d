using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Json;
using Switchboard.Agnhost.Net;

namespace Switchboard.Agnhost.Netexec;

/// <summary>/dial: contact another endpoint over HTTP, UDP or SCTP, "tries" times, each on a fresh connection.</summary>
internal sealed partial class NetexecHandler
{
    private static readonly TimeSpan DialTimeout = TimeSpan.FromSeconds(5);

    private async ValueTask DialAsync(HttpRequest request, HttpResponse response)
    {
        var host = GoUrl.QueryGet(request.RawQuery, "host") ?? string.Empty;
        var port = GoUrl.QueryGet(request.RawQuery, "port") ?? string.Empty;
        var payload = GoUrl.QueryGet(request.RawQuery, "request") ?? string.Empty;
        var protocol = GoUrl.QueryGet(request.RawQuery, "protocol") ?? string.Empty;
        var tryParam = GoUrl.QueryGet(request.RawQuery, "tries") ?? string.Empty;
        log.Printf("GET /dial?host=" + host + "&protocol=" + protocol + "&port=" + port + "&request=" + payload + "&tries=" + tryParam);
        var tries = 1;
        if (tryParam.Length > 0 && !GoParse.TryParseInt(tryParam, out tries))
        {
            response.Error(400, "tries parameter is invalid. strconv.Atoi: parsing " + GoQuote(tryParam) + ": invalid syntax");
            return;
        }

        if (payload.Length == 0)
        {
            response.Error(400, "request parameter not specified. <nil>");
            return;
        }

        var kind = protocol.ToLowerInvariant();
        if (kind is not ("" or "http" or "udp" or "sctp"))
        {
            response.Error(400, "unsupported protocol. " + protocol);
            return;
        }

        var network = kind is "" or "http" ? "tcp" : kind;
        var (address, resolveError) = await ResolveAsync(network, host, port).ConfigureAwait(false);
        if (address is null)
        {
            response.Error(400, "host and/or port param are invalid. " + resolveError);
            return;
        }

        var errors = new List<string>();
        var responses = new List<string>();
        var last = string.Empty;
        for (var i = 0; i < tries; i++)
        {
            var (text, error) = network switch
            {
                "tcp" => await DialHttpAsync(payload, address).ConfigureAwait(false),
                "udp" => await DialUdpAsync(payload, address).ConfigureAwait(false),
                _ => await DialSctpAsync(payload, address).ConfigureAwait(false),
            };
            last = text;
            if (error is not null)
            {
                errors.Add(error);
            }
            else
            {
                responses.Add(text);
            }
        }

        // Upstream quirk kept: "responses" appears only when the last try returned a non-empty answer.
        var result = new DialResult
        {
            Responses = last.Length > 0 ? responses : null,
            Errors = errors.Count > 0 ? errors : null,
        };
        response.Body = JsonSerializer.Serialize(result, AgnhostJsonContext.Relaxed.DialResult);
    }

    /// <summary>net.ResolveTCPAddr/ResolveUDPAddr: literal IPs, else DNS preferring IPv4; numeric ports.</summary>
    internal static async Task<(IPEndPoint? Address, string Error)> ResolveAsync(string network, string host, string port)
    {
        var portNumber = 0;
        if (port.Length > 0 && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber > 65535))
        {
            return (null, portNumber > 65535 ? "address " + port + ": invalid port" : "lookup " + network + "/" + port + ": unknown port");
        }

        if (host.Length == 0)
        {
            return (new IPEndPoint(IPAddress.Loopback, portNumber), string.Empty);
        }

        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(literal, out var ip))
        {
            return (new IPEndPoint(ip, portNumber), string.Empty);
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
            var chosen = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? (addresses.Length > 0 ? addresses[0] : null);
            return chosen is null ? (null, "lookup " + host + ": no such host") : (new IPEndPoint(chosen, portNumber), string.Empty);
        }
        catch (SocketException)
        {
            return (null, "lookup " + host + ": no such host");
        }
    }

    private static async Task<(string Text, string? Error)> DialHttpAsync(string payload, IPEndPoint address)
    {
        var url = "http://" + Sockets.Format(address) + "/" + payload;

        // A new handler per try: no connection reuse, so every try is a new connection (kube-proxy picks anew).
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
        };
        using var client = new HttpClient(handler) { Timeout = DialTimeout };
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", "Go-http-client/1.1");
        try
        {
            using var message = await client.GetAsync(new Uri(url), HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
            var body = await message.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            return (Encoding.UTF8.GetString(body), null);
        }
        catch (TaskCanceledException)
        {
            return (string.Empty, "Get \"" + url + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException se)
        {
            return (string.Empty, "Get \"" + url + "\": dial tcp " + Sockets.Format(address) + ": connect: " + Sockets.ErrnoText(se));
        }
        catch (HttpRequestException e)
        {
            return (string.Empty, "Get \"" + url + "\": " + (e.InnerException?.Message ?? e.Message));
        }
        catch (UriFormatException e)
        {
            return (string.Empty, "parse \"" + url + "\": " + e.Message);
        }
    }

    private static async Task<(string Text, string? Error)> DialUdpAsync(string payload, IPEndPoint address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            await socket.ConnectAsync(address).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return (string.Empty, "udp dial failed. err:dial udp " + Sockets.Format(address) + ": " + Sockets.ErrnoText(e));
        }

        var pair = Sockets.Format(socket.LocalEndPoint) + "->" + Sockets.Format(address);
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(payload)).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return (string.Empty, "udp connection write failed. err:write udp " + pair + ": write: " + Sockets.ErrnoText(e));
        }

        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(DialTimeout);
        try
        {
            var count = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            return count == 0
                ? (string.Empty, "reading from udp connection failed. err:'<nil>'")
                : (Encoding.UTF8.GetString(buffer, 0, count), null);
        }
        catch (OperationCanceledException)
        {
            return (string.Empty, "reading from udp connection failed. err:'read udp " + pair + ": i/o timeout'");
        }
        catch (SocketException e)
        {
            return (string.Empty, "reading from udp connection failed. err:'read udp " + pair + ": read: " + Sockets.ErrnoText(e) + "'");
        }
    }

    private static async Task<(string Text, string? Error)> DialSctpAsync(string payload, IPEndPoint address)
    {
        Socket socket;
        try
        {
            socket = new Socket(address.AddressFamily, SocketType.Stream, Sockets.Sctp);
        }
        catch (SocketException e)
        {
            return (string.Empty, "sctp dial failed. err:socket: " + Sockets.ErrnoText(e));
        }

        using (socket)
        {
            using var timeout = new CancellationTokenSource(DialTimeout);
            try
            {
                await socket.ConnectAsync(address, timeout.Token).ConfigureAwait(false);
                await socket.SendAsync(Encoding.UTF8.GetBytes(payload)).ConfigureAwait(false);
                var buffer = new byte[1024];
                var count = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                return count == 0
                    ? (string.Empty, "reading from sctp connection failed. err:'EOF'")
                    : (Encoding.UTF8.GetString(buffer, 0, count), null);
            }
            catch (OperationCanceledException)
            {
                return (string.Empty, "reading from sctp connection failed. err:'i/o timeout'");
            }
            catch (SocketException e)
            {
                return (string.Empty, "sctp dial failed. err:" + Sockets.ErrnoText(e));
            }
        }
    }
}
