using Switchboard.Dns.Cache;

namespace Switchboard.Dns.Server;

/// <summary>An upstream answer fetched during the asynchronous leg of a query; a null message means the upstreams failed.</summary>
internal sealed class ExternalAnswer(byte[] lowerName, ushort qtype, byte[]? message)
{
    public byte[] LowerName { get; } = lowerName;

    public ushort QType { get; } = qtype;

    public byte[]? Message { get; } = message;
}

/// <summary>Where an answer from outside the cluster zone stands.</summary>
internal enum ExternalState
{
    /// <summary>In hand (cache or just fetched).</summary>
    Found,

    /// <summary>Cannot be had: no upstream, a loop, or every upstream failed.</summary>
    Failed,

    /// <summary>Must be fetched: the query continues asynchronously.</summary>
    Missing,
}

/// <summary>
/// The answers from outside the zone a synchronous pass may use: ones fetched earlier in this query, then the
/// cache. A miss stops the synchronous pass; the transport then fetches the name and runs the pass again.
/// </summary>
/// <param name="fetched">Answers fetched earlier in this query.</param>
/// <param name="cache">The forward cache, or null.</param>
/// <param name="forwarding">False when there is no usable upstream.</param>
/// <param name="retry">True when the synchronous pass already counted this query's cache miss.</param>
internal readonly ref struct ExternalSource(ReadOnlySpan<ExternalAnswer> fetched, ResponseCache? cache, bool forwarding, bool retry)
{
    private readonly ReadOnlySpan<ExternalAnswer> _fetched = fetched;

    public bool Forwarding => forwarding;

    public ExternalState Lookup(ReadOnlySpan<byte> lowerName, ushort qtype, out byte[]? message, out uint age, out bool fromCache)
    {
        age = 0;
        fromCache = false;
        foreach (var f in _fetched)
        {
            if (f.QType == qtype && f.LowerName.AsSpan().SequenceEqual(lowerName))
            {
                message = f.Message;
                return message is null ? ExternalState.Failed : ExternalState.Found;
            }
        }
        message = null;
        if (!forwarding)
        {
            return ExternalState.Failed;
        }
        if (cache is not null && cache.TryGet(lowerName, qtype, out var entry, out age, countMiss: !retry))
        {
            message = entry!.Message;
            fromCache = true;
            return ExternalState.Found;
        }
        return ExternalState.Missing;
    }
}
