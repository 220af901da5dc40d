using System.Globalization;
using System.Net;

namespace Switchboard.Dns.Server;

/// <summary>A `--listen` value: ":53" (every address, IPv4 and IPv6), "ADDR:PORT", "[V6]:PORT" or "ADDR" (port 53).</summary>
internal sealed record ListenAddress(IPAddress? Address, int Port)
{
    /// <summary>True for ":port": bind a dual-stack wildcard socket.</summary>
    public bool Any => Address is null;

    public static ListenAddress Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        if (text.StartsWith(':') && int.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var anyPort) && anyPort is >= 0 and <= 65535)
        {
            return new ListenAddress(null, anyPort);
        }
        if (Forward.UpstreamConfig.TryParseEndPoint(text, 53, out var endPoint))
        {
            return new ListenAddress(endPoint.Address, endPoint.Port);
        }
        throw new ArgumentException($"--listen {text}: expected :PORT, ADDR, ADDR:PORT or [IPV6]:PORT");
    }

    public override string ToString() => Address is null ? ":" + Port.ToString(CultureInfo.InvariantCulture) : new IPEndPoint(Address, Port).ToString();
}
