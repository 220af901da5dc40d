using System.Globalization;

namespace Switchboard.ApiServer.Allocation;

/// <summary>--service-node-port-range as k8s.io/apimachinery/pkg/util/net.PortRange: "base-last", "base+size" or "port".</summary>
internal readonly record struct PortRange(int Base, int Size)
{
    public int Last => Base + Size - 1;

    public bool Contains(int port) => port >= Base && port <= Last;

    /// <summary>"30000-32767", as upstream prints the range in messages.</summary>
    public override string ToString() => Size == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Base}-{Last}");

    public static PortRange Parse(string text)
    {
        var value = text.Trim();
        int low, high;
        var plus = value.IndexOf('+', StringComparison.Ordinal);
        var dash = value.IndexOf('-', StringComparison.Ordinal);
        if (plus > 0)
        {
            low = Number(value[..plus]);
            high = low + Number(value[(plus + 1)..]);
        }
        else if (dash > 0)
        {
            low = Number(value[..dash]);
            high = Number(value[(dash + 1)..]);
        }
        else
        {
            low = high = Number(value);
        }
        if (low < 0 || high > 65535 || high < low)
        {
            throw new ArgumentException($"invalid port range \"{text}\"", nameof(text));
        }
        return new PortRange(low, high - low + 1);
    }

    private static int Number(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"invalid port range \"{s}\"", nameof(s));
}

/// <summary>What reserving a requested node port found.</summary>
internal enum PortOutcome
{
    Reserved,
    NotInRange,
    Taken,
}

/// <summary>
/// Node ports of --service-node-port-range (upstream portallocator with KEP-3668): a bitmap whose first
/// min(max(16, size/32), 128) ports are the static band; dynamic allocation starts at a random port of the upper band
/// and falls back to the static band. State lives in memory and is rebuilt from the stored Services at start-up:
/// a Service is the only durable claim on its ports, so a crash between reserving and storing leaks nothing.
/// Thread-safe.
/// </summary>
internal sealed class NodePortAllocator
{
    private readonly Lock _gate = new();
    private readonly AllocationBitmap _taken;
    private readonly Random _random;

    public NodePortAllocator(PortRange range, Random random)
    {
        Range = range;
        _random = random;
        _taken = new AllocationBitmap(range.Size);
        // KEP-3668: no split below 16 ports.
        StaticBand = range.Size < 16 ? 0 : Math.Clamp(range.Size / 32, 16, 128);
    }

    public PortRange Range { get; }

    public int StaticBand { get; }

    public int Used
    {
        get
        {
            lock (_gate)
            {
                return (int)_taken.Count;
            }
        }
    }

    public PortOutcome TryReserve(int port)
    {
        if (!Range.Contains(port))
        {
            return PortOutcome.NotInRange;
        }
        lock (_gate)
        {
            return _taken.Add((ulong)(port - Range.Base)) ? PortOutcome.Reserved : PortOutcome.Taken;
        }
    }

    /// <summary>A free port, or null when the range is full.</summary>
    public int? ReserveNext()
    {
        lock (_gate)
        {
            var offset = _taken.FindFree((ulong)StaticBand, (ulong)Range.Size, _random) ?? _taken.FindFree(0, (ulong)StaticBand, _random);
            if (offset is not { } o)
            {
                return null;
            }
            _taken.Add(o);
            return Range.Base + (int)o;
        }
    }

    public void Release(int port)
    {
        if (Range.Contains(port))
        {
            lock (_gate)
            {
                _taken.Remove((ulong)(port - Range.Base));
            }
        }
    }

    public bool IsTaken(int port)
    {
        if (!Range.Contains(port))
        {
            return false;
        }
        lock (_gate)
        {
            return _taken.Contains((ulong)(port - Range.Base));
        }
    }

    public List<int> TakenPorts()
    {
        lock (_gate)
        {
            return [.. _taken.Taken().Select(o => Range.Base + (int)o)];
        }
    }
}
