using System.Globalization;
using System.Text;

namespace Switchboard.ApiServer.Proxy;

/// <summary>
/// The status line and headers of an HTTP/1.1 response read off a raw stream (the kubelet's answer to an upgrade
/// request), plus whatever bytes arrived after the blank line: after a 101 they already belong to the tunnel.
/// </summary>
internal sealed record HttpResponseHead(int StatusCode, string ReasonPhrase, IReadOnlyList<KeyValuePair<string, string>> Headers, ReadOnlyMemory<byte> Rest)
{
    /// <summary>Upstream reads at most this much of a response head.</summary>
    public const int MaxHeadBytes = 64 * 1024;

    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>Reads until the blank line; throws <see cref="InvalidDataException"/> on a malformed or oversize head.</summary>
    public static async Task<HttpResponseHead> ReadAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[8192];
        var filled = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Parse(buffer.AsSpan(0, end), buffer.AsMemory(end + 4, filled - end - 4).ToArray());
            }
            if (filled == buffer.Length)
            {
                if (buffer.Length >= MaxHeadBytes)
                {
                    throw new InvalidDataException("response head larger than 64 KiB");
                }
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            var n = await stream.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidDataException("connection closed before the end of the response head");
            }
            filled += n;
        }
    }

    /// <summary>Parses the head (without the final blank line).</summary>
    public static HttpResponseHead Parse(ReadOnlySpan<byte> head, ReadOnlyMemory<byte> rest)
    {
        var text = Encoding.Latin1.GetString(head);
        var lines = text.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
            status[1].Length != 3 || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            throw new InvalidDataException($"malformed status line {lines[0]}");
        }
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException($"malformed header line {line}");
            }
            headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        return new HttpResponseHead(code, status.Length > 2 ? status[2] : "", headers, rest);
    }
}
