using System.Numerics;

namespace Switchboard.ApiServer.Allocation;

/// <summary>The set of taken offsets of one range. Not thread-safe: the owner holds its lock.</summary>
internal interface IOffsetSet
{
    ulong Size { get; }

    ulong Count { get; }

    bool Contains(ulong offset);

    /// <summary>Marks offset taken; false when it already was.</summary>
    bool Add(ulong offset);

    /// <summary>Marks offset free; false when it already was.</summary>
    bool Remove(ulong offset);

    /// <summary>A free offset in [from, to) found from a random start (wrapping inside the band), or null when the band is full.</summary>
    ulong? FindFree(ulong from, ulong to, Random random);

    /// <summary>Every taken offset (for repair passes; O(size/64)).</summary>
    IEnumerable<ulong> Taken();
}

/// <summary>The offset set for a range: a bitmap up to 2^24 addresses, a hash set beyond (large IPv6 ranges).</summary>
internal static class OffsetSets
{
    public const ulong MaxDense = 1UL << 24;

    public static IOffsetSet Create(ulong size) => size <= MaxDense ? new AllocationBitmap((int)size) : new SparseOffsetSet(size);
}

/// <summary>
/// A two-level bitmap: one bit per offset plus one summary bit per 64-bit word that is full. A search from a random
/// start skips full words 64 at a time through the summary, so finding a free offset costs at most size/4096 word
/// reads however many offsets are taken (a /12 is 256 summary words), instead of growing with the allocation count.
/// </summary>
internal sealed class AllocationBitmap : IOffsetSet
{
    private readonly ulong[] _words;
    private readonly ulong[] _full;
    private readonly int _size;

    public AllocationBitmap(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        _size = size;
        var words = (size + 63) / 64;
        _words = new ulong[words];
        _full = new ulong[(words + 63) / 64];
        // Bits past the end count as taken so the last word can be "full".
        if (size % 64 != 0)
        {
            _words[^1] = ulong.MaxValue << (size % 64);
        }
    }

    public ulong Size => (ulong)_size;

    public ulong Count { get; private set; }

    public bool Contains(ulong offset) => offset < (ulong)_size && (_words[offset >> 6] & (1UL << (int)(offset & 63))) != 0;

    public bool Add(ulong offset)
    {
        if (offset >= (ulong)_size)
        {
            return false;
        }
        var w = (int)(offset >> 6);
        var bit = 1UL << (int)(offset & 63);
        if ((_words[w] & bit) != 0)
        {
            return false;
        }
        _words[w] |= bit;
        if (_words[w] == ulong.MaxValue)
        {
            _full[w >> 6] |= 1UL << (w & 63);
        }
        Count++;
        return true;
    }

    public bool Remove(ulong offset)
    {
        if (offset >= (ulong)_size)
        {
            return false;
        }
        var w = (int)(offset >> 6);
        var bit = 1UL << (int)(offset & 63);
        if ((_words[w] & bit) == 0)
        {
            return false;
        }
        _words[w] &= ~bit;
        _full[w >> 6] &= ~(1UL << (w & 63));
        Count--;
        return true;
    }

    public ulong? FindFree(ulong from, ulong to, Random random)
    {
        to = Math.Min(to, (ulong)_size);
        if (from >= to)
        {
            return null;
        }
        var start = from + (ulong)random.NextInt64((long)(to - from));
        var hit = FindClear((int)start, (int)to);
        if (hit < 0)
        {
            hit = FindClear((int)from, (int)start);
        }
        return hit < 0 ? null : (ulong)hit;
    }

    public IEnumerable<ulong> Taken()
    {
        for (var w = 0; w < _words.Length; w++)
        {
            var bits = _words[w];
            if (w == _words.Length - 1 && _size % 64 != 0)
            {
                bits &= (1UL << (_size % 64)) - 1;
            }
            while (bits != 0)
            {
                var b = BitOperations.TrailingZeroCount(bits);
                yield return ((ulong)w * 64) + (ulong)b;
                bits &= bits - 1;
            }
        }
    }

    /// <summary>First clear bit in [from, to), or -1.</summary>
    private int FindClear(int from, int to)
    {
        if (from >= to)
        {
            return -1;
        }
        var firstWord = from >> 6;
        var lastWord = (to - 1) >> 6;
        var free = ~_words[firstWord] & (ulong.MaxValue << (from & 63));
        if (firstWord == lastWord)
        {
            free &= UpTo(to);
            return free != 0 ? (firstWord * 64) + BitOperations.TrailingZeroCount(free) : -1;
        }
        if (free != 0)
        {
            return (firstWord * 64) + BitOperations.TrailingZeroCount(free);
        }
        var w = NextNotFullWord(firstWord + 1, lastWord);
        if (w >= 0)
        {
            return (w * 64) + BitOperations.TrailingZeroCount(~_words[w]);
        }
        free = ~_words[lastWord] & UpTo(to);
        return free != 0 ? (lastWord * 64) + BitOperations.TrailingZeroCount(free) : -1;
    }

    /// <summary>First word index in [from, to) whose summary bit is clear, or -1.</summary>
    private int NextNotFullWord(int from, int to)
    {
        if (from >= to)
        {
            return -1;
        }
        var s = from >> 6;
        var lastS = (to - 1) >> 6;
        var open = ~_full[s] & (ulong.MaxValue << (from & 63));
        while (true)
        {
            if (s == lastS)
            {
                open &= UpTo(to);
            }
            if (open != 0)
            {
                return (s * 64) + BitOperations.TrailingZeroCount(open);
            }
            if (++s > lastS)
            {
                return -1;
            }
            open = ~_full[s];
        }
    }

    /// <summary>The mask of bits below position to within its word (all bits when to is a multiple of 64).</summary>
    private static ulong UpTo(int to) => (to & 63) == 0 ? ulong.MaxValue : (1UL << (to & 63)) - 1;
}

/// <summary>
/// Taken offsets of a range too large for a bitmap (IPv6 beyond /104): random probing finds a free offset in a
/// handful of tries because such a range can never be more than sparsely used.
/// </summary>
internal sealed class SparseOffsetSet(ulong size) : IOffsetSet
{
    private const int Probes = 64;
    private readonly HashSet<ulong> _taken = [];

    public ulong Size => size;

    public ulong Count => (ulong)_taken.Count;

    public bool Contains(ulong offset) => _taken.Contains(offset);

    public bool Add(ulong offset) => offset < size && _taken.Add(offset);

    public bool Remove(ulong offset) => _taken.Remove(offset);

    public ulong? FindFree(ulong from, ulong to, Random random)
    {
        to = Math.Min(to, size);
        if (from >= to)
        {
            return null;
        }
        var span = to - from;
        Span<byte> buffer = stackalloc byte[8];
        for (var i = 0; i < Probes; i++)
        {
            random.NextBytes(buffer);
            var candidate = from + (BitConverter.ToUInt64(buffer) % span);
            if (!_taken.Contains(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    public IEnumerable<ulong> Taken() => [.. _taken];
}
