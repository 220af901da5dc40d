using System.Buffers.Binary;
using System.Collections.Concurrent;
using Switchboard.Dns.Metrics;
using Switchboard.Dns.Wire;

namespace Switchboard.Dns.Cache;

/// <summary>One cached upstream response: the message as received and how long it may be served.</summary>
internal sealed class CachedResponse(byte[] message, long storedAt, uint ttl, bool negative)
{
    public byte[] Message { get; } = message;

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when stored.</summary>
    public long StoredAt { get; } = storedAt;

    /// <summary>Seconds the entry lives: the smallest answer TTL, or the SOA's negative TTL (RFC 2308 §5).</summary>
    public uint Ttl { get; } = ttl;

    public bool Negative { get; } = negative;
}

/// <summary>
/// A bounded cache of forwarded answers only, positive and negative, honouring their TTLs (CoreDNS cache plugin
/// defaults: 9984 entries, at most 3600 s for answers and 1800 s for denials). Cluster-zone answers never enter it:
/// they come from the live index so a new Service resolves at once. Hits copy no bytes and allocate nothing: keys
/// are looked up by span, TTLs are aged while the entry is copied into the response.
/// </summary>
internal sealed class ResponseCache
{
    public const uint MaxSuccessTtl = 3600;
    public const uint MaxDenialTtl = 1800;

    private readonly ConcurrentDictionary<string, CachedResponse> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedResponse>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly DnsMetrics _metrics;
    private int _count;
    private int _evicting;

    public ResponseCache(int capacity, TimeProvider time, DnsMetrics metrics)
    {
        _capacity = Math.Max(1, capacity);
        _time = time;
        _metrics = metrics;
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        // Entry counts by kind are computed at scrape time, so the packet path keeps no extra counters.
        metrics.SetCacheGauges(() => _entries.Count(e => !e.Value.Negative), () => _entries.Count(e => e.Value.Negative));
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>A live entry for (name, type), and how many whole seconds old it is; expired entries are removed.</summary>
    public bool TryGet(ReadOnlySpan<byte> lowerName, ushort qtype, out CachedResponse? entry, out uint age, bool countMiss = true)
    {
        Span<char> key = stackalloc char[DnsLimits.MaxNameLength + 2];
        var k = Key(lowerName, qtype, key);
        age = 0;
        if (!_lookup.TryGetValue(k, out entry))
        {
            if (countMiss)
            {
                _metrics.CacheMiss();
            }
            return false;
        }
        var elapsed = _time.GetElapsedTime(entry.StoredAt);
        if (elapsed.TotalSeconds >= entry.Ttl)
        {
            Remove(k, entry);
            entry = null;
            if (countMiss)
            {
                _metrics.CacheMiss();
            }
            return false;
        }
        age = (uint)elapsed.TotalSeconds;
        _metrics.CacheHit(entry.Negative);
        return true;
    }

    /// <summary>Stores a response if it is cacheable: NOERROR or NXDOMAIN, not truncated, with a positive TTL.</summary>
    public void Store(ReadOnlySpan<byte> lowerName, ushort qtype, byte[] message)
    {
        if (!TryGetTtl(message, out var ttl, out var negative) || ttl == 0)
        {
            return;
        }
        Span<char> key = stackalloc char[DnsLimits.MaxNameLength + 2];
        var k = Key(lowerName, qtype, key).ToString();
        var entry = new CachedResponse(message, _time.GetTimestamp(), ttl, negative);
        if (!_entries.TryAdd(k, entry))
        {
            _entries[k] = entry; // a newer answer for the same question (two misses raced, or the old one expired)
            return;
        }
        if (Interlocked.Increment(ref _count) > _capacity)
        {
            Evict();
        }
    }

    /// <summary>
    /// The cache lifetime of a response: min TTL of the answer records for a positive answer; for NXDOMAIN and
    /// NODATA, min(SOA TTL, SOA minimum) from the authority section (RFC 2308 §5), no SOA meaning do not cache.
    /// </summary>
    internal static bool TryGetTtl(ReadOnlySpan<byte> m, out uint ttl, out bool negative)
    {
        ttl = 0;
        negative = false;
        if (m.Length < DnsLimits.HeaderLength || (m[2] & (DnsFlags.TC >> 8)) != 0)
        {
            return false;
        }
        var rcode = m[3] & 0x0F;
        if (rcode is not (DnsRcode.NoError or DnsRcode.NXDomain))
        {
            return false; // SERVFAIL and REFUSED are upstream trouble: retry next time rather than pin it
        }
        int qd = DnsName.U16(m, 4), an = DnsName.U16(m, 6), ns = DnsName.U16(m, 8);
        var pos = DnsLimits.HeaderLength;
        for (var i = 0; i < qd; i++)
        {
            if (!DnsName.TrySkip(m, ref pos) || (pos += 4) > m.Length)
            {
                return false;
            }
        }
        var min = uint.MaxValue;
        for (var i = 0; i < an; i++)
        {
            var start = pos;
            if (!DnsQueryParser.SkipRecord(m, ref pos, out var type))
            {
                return false;
            }
            if (type != DnsType.OPT)
            {
                min = Math.Min(min, RecordTtl(m, start));
            }
        }
        negative = rcode == DnsRcode.NXDomain || an == 0;
        if (!negative)
        {
            ttl = Math.Min(min, MaxSuccessTtl);
            return true;
        }
        for (var i = 0; i < ns; i++)
        {
            var start = pos;
            if (!DnsQueryParser.SkipRecord(m, ref pos, out var type))
            {
                return false;
            }
            if (type == DnsType.SOA)
            {
                var soaMinimum = BinaryPrimitives.ReadUInt32BigEndian(m[(pos - 4)..]);
                ttl = Math.Min(Math.Min(RecordTtl(m, start), soaMinimum), MaxDenialTtl);
                return true;
            }
        }
        return false;
    }

    private static uint RecordTtl(ReadOnlySpan<byte> m, int recordStart)
    {
        var p = recordStart;
        DnsName.TrySkip(m, ref p);
        return BinaryPrimitives.ReadUInt32BigEndian(m[(p + 4)..]);
    }

    private static ReadOnlySpan<char> Key(ReadOnlySpan<byte> lowerName, ushort qtype, Span<char> buffer)
    {
        buffer[0] = (char)qtype;
        for (var i = 0; i < lowerName.Length; i++)
        {
            buffer[i + 1] = (char)lowerName[i];
        }
        return buffer[..(lowerName.Length + 1)];
    }

    private void Remove(ReadOnlySpan<char> key, CachedResponse entry)
    {
        if (_lookup.TryRemove(key, out var removed))
        {
            if (!ReferenceEquals(removed, entry))
            {
                // Lost a race with a fresh store; put it back.
                _entries.TryAdd(key.ToString(), removed);
                return;
            }
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Over capacity: drop expired entries, then arbitrary ones (as CoreDNS's random eviction), down to 90 %.</summary>
    private void Evict()
    {
        if (Interlocked.Exchange(ref _evicting, 1) != 0)
        {
            return;
        }
        try
        {
            var target = _capacity * 9 / 10;
            foreach (var pass in (bool[])[true, false])
            {
                foreach (var (key, entry) in _entries)
                {
                    if (Volatile.Read(ref _count) <= target)
                    {
                        return;
                    }
                    if ((!pass || _time.GetElapsedTime(entry.StoredAt).TotalSeconds >= entry.Ttl) && _entries.TryRemove(new KeyValuePair<string, CachedResponse>(key, entry)))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _evicting, 0);
        }
    }
}
