using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Switchboard.Dns.AutoPath;
using Switchboard.Dns.Cache;
using Switchboard.Dns.Forward;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Server;

/// <summary>Who asked and how: transport, client family and (for autopath) the client's IP as a key.</summary>
internal readonly record struct RequestContext(bool Tcp, bool ClientIsV6, UInt128 Client, bool HasClient);

/// <summary>
/// The handler chain, CoreDNS style: parse → autopath (optional) → cluster zone (kubernetes) → cache → forward.
/// <see cref="Handle"/> is the synchronous fast path the transports call per packet; it answers everything it
/// can from memory without allocating. Only when an answer must come from an upstream does it return
/// <see cref="NeedsAsync"/>; the transport then calls <see cref="HandleAsync"/>, which fetches what is missing and
/// runs the same synchronous pass again with the fetched answers, so both paths share every decision.
/// </summary>
internal sealed partial class DnsPipeline
{
    /// <summary>Returned by <see cref="Handle"/> when the query needs an upstream round trip.</summary>
    public const int NeedsAsync = -1;

    private const int OptLength = 11;
    private const int MaxExternalRounds = 8;

    private readonly ClusterZone _zone;
    private readonly ResponseCache? _cache;
    private readonly Forwarder _forwarder;
    private readonly AutoPathHandler? _autopath;
    private readonly DnsMetrics _metrics;
    private readonly int _maxUdp;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public DnsPipeline(ClusterZone zone, ResponseCache? cache, Forwarder forwarder, AutoPathHandler? autopath, DnsMetrics metrics, int maxUdpPayload, TimeProvider time, ILogger logger)
    {
        _zone = zone;
        _cache = cache;
        _forwarder = forwarder;
        _autopath = autopath;
        _metrics = metrics;
        _maxUdp = maxUdpPayload;
        _time = time;
        _logger = logger;
    }

    /// <summary>Answers one packet into <paramref name="response"/> (at least 64 KiB). Returns its length, 0 to drop the packet, or <see cref="NeedsAsync"/>.</summary>
    public int Handle(ReadOnlySpan<byte> packet, Span<byte> response, in RequestContext ctx)
    {
        Span<byte> needName = stackalloc byte[DnsLimits.MaxNameLength + 1];
        return Serve(packet, response, ctx, [], retry: false, needName, out _, out _, _time.GetTimestamp());
    }

    /// <summary>The slow path: fetches upstream answers the synchronous pass asked for, then answers. <paramref name="started"/> is when the packet arrived.</summary>
    public async Task<int> HandleAsync(ReadOnlyMemory<byte> packet, Memory<byte> response, RequestContext ctx, long started, CancellationToken cancellationToken)
    {
        var fetched = new List<ExternalAnswer>(2);
        var needName = new byte[DnsLimits.MaxNameLength + 1];
        for (var round = 0; round < MaxExternalRounds; round++)
        {
            var length = Serve(packet.Span, response.Span, ctx, CollectionsMarshal.AsSpan(fetched), retry: true, needName, out var needLength, out var needType, started);
            if (length != NeedsAsync)
            {
                return length;
            }
            var name = needName.AsSpan(0, needLength).ToArray();
            var message = await _forwarder.QueryAsync(name, needType, cancellationToken).ConfigureAwait(false);
            if (message is not null)
            {
                _cache?.Store(name, needType, message);
            }
            fetched.Add(new ExternalAnswer(name, needType, message));
        }
        return 0;
    }

    private int Serve(ReadOnlySpan<byte> packet, Span<byte> response, in RequestContext ctx, ReadOnlySpan<ExternalAnswer> fetched, bool retry, Span<byte> needName, out int needLength, out ushort needType, long started)
    {
        needLength = 0;
        needType = 0;
        var q = default(DnsQuery);
        try
        {
            var status = DnsQueryParser.Parse(packet, ref q);
            switch (status)
            {
                case ParseStatus.Drop:
                    return 0;
                case ParseStatus.FormErr:
                    return Error(ref q, response, ctx, DnsRcode.FormErr, started);
                case ParseStatus.NotImp:
                    return Error(ref q, response, ctx, DnsRcode.NotImp, started);
            }
            if (q.HasEdns && q.EdnsVersion != 0)
            {
                return Error(ref q, response, ctx, DnsRcode.BadVers, started); // RFC 6891 §6.1.3
            }
            if (q.QClass is not (DnsClass.IN or DnsClass.ANY) || q.QType is DnsType.AXFR or DnsType.IXFR)
            {
                return Error(ref q, response, ctx, DnsRcode.Refused, started); // no CHAOS zone, no zone transfers
            }

            var w = new DnsMessageWriter(response, ctx.Tcp ? DnsLimits.MaxMessageLength : q.UdpLimit(_maxUdp));
            if (q.HasEdns)
            {
                w.Reserve(OptLength);
            }
            if (!w.TryWriteQuestion(q.NameWire, q.QType, q.QClass))
            {
                return Error(ref q, response, ctx, DnsRcode.FormErr, started);
            }
            var afterQuestion = w.Checkpoint();
            var lower = q.LowerNameWire;
            var external = new ExternalSource(fetched, _cache, _forwarder.Enabled, retry);

            if (_autopath is not null && ctx.HasClient)
            {
                switch (_autopath.TryServe(lower, q.QType, ctx.Client, ref w, external, out var autoRcode, out var authoritative, needName, out needLength))
                {
                    case AutoPathStatus.Answered:
                        return Finish(ref w, ref q, ctx, autoRcode, authoritative, ResponsePlugin.AutoPath, started);
                    case AutoPathStatus.NeedsExternal:
                        needType = q.QType;
                        return NeedsAsync;
                }
                w.Rollback(afterQuestion);
            }

            var zoneStatus = _zone.Serve(lower, q.QType, ref w, out var rcode, out var chaseOffset);
            switch (zoneStatus)
            {
                case ZoneStatus.Answered:
                    return Finish(ref w, ref q, ctx, rcode, authoritative: rcode != DnsRcode.ServFail, ResponsePlugin.Kubernetes, started);
                case ZoneStatus.Chase:
                    return Chase(ref w, ref q, ctx, chaseOffset, external, needName, out needLength, out needType, started);
            }

            // Outside the zone (or a reverse miss that falls through): cache, then forward.
            if (_forwarder.IsLoopProbe(lower))
            {
                w.Rollback(afterQuestion);
                return Finish(ref w, ref q, ctx, DnsRcode.ServFail, authoritative: false, ResponsePlugin.Forward, started);
            }
            switch (external.Lookup(lower, q.QType, out var message, out var age, out var fromCache))
            {
                case ExternalState.Missing:
                    lower.CopyTo(needName);
                    needLength = lower.Length;
                    needType = q.QType;
                    return NeedsAsync;
                case ExternalState.Failed:
                    return Finish(ref w, ref q, ctx, DnsRcode.ServFail, authoritative: false, ResponsePlugin.Forward, started);
            }
            if (!MessageSplicer.TryCopy(message, age, answersOnly: false, ref w, out var upstreamRcode))
            {
                w.Rollback(afterQuestion);
                upstreamRcode = DnsRcode.ServFail;
            }
            return Finish(ref w, ref q, ctx, upstreamRcode, authoritative: false, fromCache ? ResponsePlugin.Cache : ResponsePlugin.Forward, started);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // One bad packet must never take the server down; count it as CoreDNS counts panics.
            _metrics.Panic();
            Log.HandlerFailed(_logger, ex);
            return q.HasQuestion || packet.Length >= DnsLimits.HeaderLength ? Error(ref q, response, ctx, DnsRcode.ServFail, started) : 0;
        }
    }

    /// <summary>S13: the CNAME of an ExternalName Service is written; append its target's records from upstream.</summary>
    private int Chase(ref DnsMessageWriter w, ref DnsQuery q, in RequestContext ctx, int chaseOffset, ExternalSource external, Span<byte> needName, out int needLength, out ushort needType, long started)
    {
        needLength = 0;
        needType = 0;
        Span<byte> target = stackalloc byte[DnsLimits.MaxNameLength + 1];
        var pos = chaseOffset;
        if (!DnsName.TryRead(w.Written, ref pos, target, out var targetLength))
        {
            return Finish(ref w, ref q, ctx, DnsRcode.NoError, authoritative: true, ResponsePlugin.Kubernetes, started);
        }
        var name = target[..targetLength];
        DnsName.ToLowerInPlace(name);
        switch (external.Lookup(name, q.QType, out var message, out var age, out _))
        {
            case ExternalState.Missing:
                name.CopyTo(needName);
                needLength = name.Length;
                needType = q.QType;
                return NeedsAsync;
            case ExternalState.Failed:
                // No upstream: the CNAME alone; the client's resolver may still chase it.
                return Finish(ref w, ref q, ctx, DnsRcode.NoError, authoritative: true, ResponsePlugin.Kubernetes, started);
        }
        var checkpoint = w.Checkpoint();
        if (!MessageSplicer.TryCopy(message, age, answersOnly: true, ref w, out var rcode))
        {
            w.Rollback(checkpoint);
            rcode = DnsRcode.NoError;
        }
        // RFC 6604: the rcode describes the end of the chain, so an NXDOMAIN target makes the answer NXDOMAIN.
        return Finish(ref w, ref q, ctx, rcode == DnsRcode.NXDomain ? DnsRcode.NXDomain : DnsRcode.NoError, authoritative: true, ResponsePlugin.Kubernetes, started);
    }

    private int Finish(ref DnsMessageWriter w, ref DnsQuery q, in RequestContext ctx, int rcode, bool authoritative, ResponsePlugin plugin, long started)
    {
        if (q.HasEdns)
        {
            w.Release(OptLength);
            w.TryAddOpt((ushort)_maxUdp, rcode, q.DnssecOk);
        }
        var flags = (ushort)(DnsFlags.QR | (q.Flags & (DnsFlags.RD | DnsFlags.CD)) | (authoritative ? DnsFlags.AA : 0) | (_forwarder.Enabled ? DnsFlags.RA : 0));
        var length = w.Finish(q.Id, flags, rcode);
        _metrics.Request(ctx.Tcp, ctx.ClientIsV6, q.QType, rcode, plugin, _time.GetElapsedTime(started));
        return length;
    }

    private int Error(ref DnsQuery q, Span<byte> response, in RequestContext ctx, int rcode, long started)
    {
        var w = new DnsMessageWriter(response, ctx.Tcp ? DnsLimits.MaxMessageLength : DnsLimits.ClassicUdpPayload);
        if (q.HasEdns)
        {
            w.Reserve(OptLength);
        }
        if (q.HasQuestion && !w.TryWriteQuestion(q.NameWire, q.QType, q.QClass))
        {
            return 0;
        }
        return Finish(ref w, ref q, ctx, rcode, authoritative: false, ResponsePlugin.None, started);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Query handling failed; answered SERVFAIL")]
        public static partial void HandlerFailed(ILogger logger, Exception exception);
    }
}
