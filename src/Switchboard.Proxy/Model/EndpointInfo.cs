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
        Key = ip.Contains(':', StringComparison.Ordinal)
            ? "[" + ip + "]:" + port.ToString(CultureInfo.InvariantCulture)
            : ip + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

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
