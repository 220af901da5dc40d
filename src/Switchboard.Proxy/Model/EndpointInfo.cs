using System.Globalization;

namespace Switchboard.Proxy.Model;

/// <summary>
/// One endpoint (address + port) of a Service port as the proxy sees it (upstream BaseEndpointInfo). Ready means
/// ready (never true for terminating endpoints); Serving is readiness regardless of termination.
/// </summary>
internal sealed record EndpointInfo
{
    public EndpointInfo(string ip, int port, bool isLocal, bool ready, bool serving, bool terminating,
        ValueArray<string> zoneHints = default, ValueArray<string> nodeHints = default)
    {
        Ip = ip;
        Port = port;
        IsLocal = isLocal;
        Ready = ready;
        Serving = serving;
        Terminating = terminating;
        ZoneHints = zoneHints;
        NodeHints = nodeHints;
        var address = System.Net.IPAddress.Parse(ip);
        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        address.TryWriteBytes(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? bytes[12..] : bytes, out _);
        SortAddress = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
        Key = ip.Contains(':', StringComparison.Ordinal)
            ? "[" + ip + "]:" + port.ToString(CultureInfo.InvariantCulture)
            : ip + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Numeric order of endpoints (by address, then port) keeps numgen indexes and rule text stable.</summary>
    public static int Compare(EndpointInfo a, EndpointInfo b)
    {
        var c = a.SortAddress.CompareTo(b.SortAddress);
        return c != 0 ? c : a.Port.CompareTo(b.Port);
    }

    private UInt128 SortAddress { get; }

    /// <summary>Canonical IP text.</summary>
    public string Ip { get; }

    public int Port { get; }

    public bool IsLocal { get; }

    public bool Ready { get; }

    public bool Serving { get; }

    public bool Terminating { get; }

    public ValueArray<string> ZoneHints { get; }

    public ValueArray<string> NodeHints { get; }

    /// <summary>"ip:port" ("[ip]:port" for IPv6), as Go's net.JoinHostPort: the endpoint's identity.</summary>
    public string Key { get; }

    public override string ToString() => Key;
}
