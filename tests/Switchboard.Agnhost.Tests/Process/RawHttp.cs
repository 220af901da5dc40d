using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Agnhost.Tests.Process;

/// <summary>Raw bytes over a TCP socket, for malformed input, pipelining and knowing our own source port.</summary>
internal sealed class RawHttp : IDisposable
{
    private readonly Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public int LocalPort => ((IPEndPoint)socket.LocalEndPoint!).Port;

    public static async Task<RawHttp> ConnectAsync(int port)
    {
        var raw = new RawHttp();
        await raw.socket.ConnectAsync(IPAddress.Loopback, port);
        return raw;
    }

    public Task SendAsync(string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Everything until the server closes the connection.</summary>
    public async Task<string> ReadToEndAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var sb = new StringBuilder();
        var buffer = new byte[8192];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return sb.ToString();
            }

            sb.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
    }

    /// <summary>Reads until <paramref name="count"/> complete Content-Length framed responses have arrived.</summary>
    public async Task<List<(int Status, string Headers, string Body)>> ReadResponsesAsync(int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var data = new StringBuilder();
        var buffer = new byte[8192];
        while (true)
        {
            var parsed = Parse(data.ToString());
            if (parsed.Count >= count)
            {
                return parsed;
            }

            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return parsed;
            }

            data.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
    }

    public static List<(int Status, string Headers, string Body)> Parse(string text)
    {
        var result = new List<(int, string, string)>();
        var pos = 0;
        while (true)
        {
            var end = text.IndexOf("\r\n\r\n", pos, StringComparison.Ordinal);
            if (end < 0)
            {
                return result;
            }

            var head = text[pos..end];
            var status = int.Parse(head.Split(' ')[1]);
            var length = 0;
            foreach (var line in head.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line["Content-Length:".Length..].Trim());
                }
            }

            if (text.Length < end + 4 + length)
            {
                return result;
            }

            result.Add((status, head, text.Substring(end + 4, length)));
            pos = end + 4 + length;
        }
    }

    public void Dispose() => socket.Dispose();
}
