namespace Switchboard.Netfilter.Tracing;

/// <summary>Where a traced packet comes from; decides which hooks it crosses.</summary>
internal enum PacketOrigin
{
    /// <summary>A Pod on this node (prerouting → input/forward → postrouting); its source is a Pod IP.</summary>
    LocalPod,

    /// <summary>Another host or node (same hooks as <see cref="LocalPod"/>); its source is outside the node.</summary>
    External,

    /// <summary>A process on the node itself (output → postrouting); its source is a node IP.</summary>
    Node,
}

/// <summary>The final fate of a traced packet.</summary>
internal enum TraceVerdict
{
    /// <summary>Not dropped or rejected (DNATed or not).</summary>
    Accept,
    Drop,
    Reject,
}

/// <summary>A new connection's first packet. <see cref="Protocol"/> is nft's keyword: tcp, udp or sctp.</summary>
internal sealed record TracePacket(string SourceIp, string Protocol, string DestinationIp, int DestinationPort, PacketOrigin Origin = PacketOrigin.External);

/// <summary>
/// What the ruleset does to a packet: the DNAT targets it can reach (all numgen/vmap branches, "ip:port"), whether it
/// is dropped or rejected, whether it is masqueraded, and the rules that matched (for failure messages).
/// </summary>
internal sealed record TraceResult(TraceVerdict Verdict, IReadOnlyList<string> Endpoints, bool Masqueraded, IReadOnlyList<string> Matches)
{
    /// <summary>Upstream's tracer output: "DROP", "REJECT", the endpoints joined with ", ", or "" when nothing applied.</summary>
    public string Output => Verdict switch
    {
        TraceVerdict.Drop => "DROP",
        TraceVerdict.Reject => "REJECT",
        _ => string.Join(", ", Endpoints),
    };

    public override string ToString() =>
        $"{(Output.Length == 0 ? "(no service)" : Output)} masq={Masqueraded}\nmatched:\n  " + string.Join("\n  ", Matches);
}

/// <summary>The tracer met a rule fragment it does not understand (generator and tracer must evolve together).</summary>
internal sealed class TracerException : Exception
{
    public TracerException(string message)
        : base(message)
    {
    }

    public TracerException()
    {
    }

    public TracerException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
