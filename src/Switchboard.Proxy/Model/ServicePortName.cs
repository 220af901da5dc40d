namespace Switchboard.Proxy.Model;

/// <summary>A Service's namespace and name.</summary>
public readonly record struct ServiceName(string Namespace, string Name)
{
    public override string ToString() => Namespace + "/" + Name;
}

/// <summary>
/// One port of a Service (upstream proxy.ServicePortName): the Service, the port's name ("" when unnamed) and
/// its protocol in API spelling ("TCP", "UDP", "SCTP"). EndpointSlice ports join on (name, protocol).
/// </summary>
public readonly record struct ServicePortName(ServiceName Service, string Port, string Protocol)
{
    public ServicePortName(string ns, string name, string port, string protocol)
        : this(new ServiceName(ns, name), port, protocol)
    {
    }

    /// <summary>Upstream's String(): "ns/name:port", or "ns/name" for an unnamed port.</summary>
    public override string ToString() =>
        Port.Length == 0 ? Service.ToString() : Service + ":" + Port;
}
