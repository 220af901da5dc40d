using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Switchboard.ApiServer.Allocation;

/// <summary>Why an allocation failed; the Service strategy turns it into upstream's field error.</summary>
internal sealed class AllocationException(string message, bool full = false) : Exception(message)
{
    /// <summary>True when the range is exhausted (upstream answers 500 "range is full").</summary>
    public bool RangeFull { get; } = full;
}

/// <summary>Hands out Service cluster IPs from one family's Service CIDR.</summary>
internal interface IClusterIpAllocator
{
    AddressFamily Family { get; }

    string Cidr { get; }

    /// <summary>Reserves requested (if given) or a free IP; throws AllocationException.</summary>
    string Allocate(string? requested);

    void Release(string ip);

    /// <summary>True if ip lies in this allocator's range.</summary>
    bool Contains(string ip);
}

/// <summary>
/// The minimal single-range allocator of the API server issue (stage 1): a requested free IP is honoured,
/// else the next free one after the last allocation. The network address (and the IPv4 broadcast address)
/// is never handed out, as upstream. The semantics issue replaces this with upstream's static/dynamic split.
/// Thread-safe; state is rebuilt from stored Services at start-up (Reserve).
/// </summary>
internal sealed class ClusterIpAllocator : IClusterIpAllocator
{
    private readonly object _gate = new();
    private readonly HashSet<BigInteger> _used = [];
    private readonly BigInteger _base;
    private readonly BigInteger _size;
    private readonly int _prefix;
    private BigInteger _next = 1;

    public ClusterIpAllocator(string cidr)
    {
        Cidr = cidr;
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var network) || !int.TryParse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture, out _prefix))
        {
            throw new ArgumentException($"invalid CIDR {cidr}", nameof(cidr));
        }
        Family = network.AddressFamily;
        var bits = Family == AddressFamily.InterNetwork ? 32 : 128;
        if (_prefix < 0 || _prefix > bits)
        {
            throw new ArgumentException($"invalid CIDR {cidr}", nameof(cidr));
        }
        _size = BigInteger.One << (bits - _prefix);
        _base = ToNumber(network) & ~(_size - 1);
    }

    public AddressFamily Family { get; }

    public string Cidr { get; }

    public bool Contains(string ip) => IPAddress.TryParse(ip, out var a) && a.AddressFamily == Family && Offset(a) is { } o && o >= 0 && o < _size;

    public string Allocate(string? requested)
    {
        lock (_gate)
        {
            if (!string.IsNullOrEmpty(requested))
            {
                if (!IPAddress.TryParse(requested, out var a) || a.AddressFamily != Family)
                {
                    throw new AllocationException($"failed to allocate IP {requested}: provided IP ({requested}) is not in the valid range. The range of valid IPs is {Cidr}");
                }
                var offset = Offset(a)!.Value;
                if (offset <= 0 || offset >= LastUsable() + 1)
                {
                    throw new AllocationException($"failed to allocate IP {requested}: provided IP ({requested}) is not in the valid range. The range of valid IPs is {Cidr}");
                }
                if (!_used.Add(offset))
                {
                    throw new AllocationException($"failed to allocate IP {requested}: provided IP is already allocated");
                }
                return requested;
            }
            var last = LastUsable();
            for (BigInteger i = 0; i < last; i++)
            {
                var candidate = _next;
                _next = _next >= last ? 1 : _next + 1;
                if (_used.Add(candidate))
                {
                    return ToAddress(_base + candidate).ToString();
                }
            }
            throw new AllocationException("failed to allocate a serviceIP: range is full", full: true);
        }
    }

    public void Release(string ip)
    {
        if (IPAddress.TryParse(ip, out var a) && a.AddressFamily == Family && Offset(a) is { } o)
        {
            lock (_gate)
            {
                _used.Remove(o);
            }
        }
    }

    /// <summary>Highest usable offset: IPv4 excludes the broadcast address.</summary>
    private BigInteger LastUsable() => Family == AddressFamily.InterNetwork ? _size - 2 : _size - 1;

    private BigInteger? Offset(IPAddress a)
    {
        var n = ToNumber(a) - _base;
        return n >= 0 && n < _size ? n : null;
    }

    private static BigInteger ToNumber(IPAddress a) => new(a.GetAddressBytes(), isUnsigned: true, isBigEndian: true);

    private IPAddress ToAddress(BigInteger n)
    {
        var length = Family == AddressFamily.InterNetwork ? 4 : 16;
        var bytes = n.ToByteArray(isUnsigned: true, isBigEndian: true);
        var full = new byte[length];
        bytes.CopyTo(full, length - bytes.Length);
        return new IPAddress(full);
    }
}
