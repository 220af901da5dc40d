using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Switchboard.Controllers.LoadBalancer;

/// <summary>
/// The addresses the built-in LoadBalancer provider hands out (`--lb-pool`, one or more CIDRs of either family).
/// Allocation takes the lowest free address of the family, skipping the network address (and the IPv4
/// broadcast address), so results are predictable. Not thread-safe: the controller has one worker.
/// </summary>
internal sealed class LoadBalancerPool
{
    private readonly List<(IPAddress Network, int Bits)> _ranges = [];
    private readonly Dictionary<IPAddress, string> _owners = [];

    public LoadBalancerPool(string cidrs)
    {
        foreach (var text in cidrs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPNetwork.TryParse(text, out var network))
            {
                throw new ArgumentException($"--lb-pool: '{text}' is not a CIDR (e.g. 172.18.255.0/24)", nameof(cidrs));
            }
            var max = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (max - network.PrefixLength < 2 && network.PrefixLength != max)
            {
                throw new ArgumentException($"--lb-pool: '{text}' is too small", nameof(cidrs));
            }
            _ranges.Add((network.BaseAddress, network.PrefixLength));
        }
        if (_ranges.Count == 0)
        {
            throw new ArgumentException("--lb-pool: no CIDR given", nameof(cidrs));
        }
    }

    public int Allocated => _owners.Count;

    public bool HasFamily(AddressFamily family) => _ranges.Any(r => r.Network.AddressFamily == family);

    public bool Contains(IPAddress ip) => _ranges.Any(r => new IPNetwork(r.Network, r.Bits).Contains(ip) && Usable(ip, r));

    /// <summary>The owner ("namespace/name") of an address, or null when free.</summary>
    public string? OwnerOf(IPAddress ip) => _owners.GetValueOrDefault(ip);

    /// <summary>Takes <paramref name="ip"/> for <paramref name="owner"/>; false when outside the pool or held by another.</summary>
    public bool TryReserve(IPAddress ip, string owner)
    {
        if (!Contains(ip))
        {
            return false;
        }
        if (_owners.TryGetValue(ip, out var current))
        {
            return current == owner;
        }
        _owners[ip] = owner;
        return true;
    }

    /// <summary>The lowest free address of <paramref name="family"/>, reserved for <paramref name="owner"/>; null when exhausted.</summary>
    public IPAddress? Allocate(AddressFamily family, string owner)
    {
        foreach (var range in _ranges.Where(r => r.Network.AddressFamily == family))
        {
            var width = family == AddressFamily.InterNetwork ? 32 : 128;
            var size = BigInteger.One << (width - range.Bits);
            var start = ToNumber(range.Network);
            // Bounded: a pool is small in practice, and allocation happens once per Service.
            var limit = BigInteger.Min(size, 1 << 20);
            for (var i = BigInteger.One; i < limit; i++)
            {
                var ip = FromNumber(start + i, family);
                if (Usable(ip, range) && !_owners.ContainsKey(ip))
                {
                    _owners[ip] = owner;
                    return ip;
                }
            }
        }
        return null;
    }

    public void Release(IPAddress ip, string owner)
    {
        if (_owners.TryGetValue(ip, out var current) && current == owner)
        {
            _owners.Remove(ip);
        }
    }

    private static bool Usable(IPAddress ip, (IPAddress Network, int Bits) range)
    {
        var width = ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (range.Bits == width)
        {
            return ip.Equals(range.Network);
        }
        var offset = ToNumber(ip) - ToNumber(range.Network);
        var size = BigInteger.One << (width - range.Bits);
        return offset > 0 && (ip.AddressFamily != AddressFamily.InterNetwork || offset < size - 1);
    }

    private static BigInteger ToNumber(IPAddress ip) => new(ip.GetAddressBytes(), isUnsigned: true, isBigEndian: true);

    private static IPAddress FromNumber(BigInteger n, AddressFamily family)
    {
        var length = family == AddressFamily.InterNetwork ? 4 : 16;
        var bytes = new byte[length];
        var raw = n.ToByteArray(isUnsigned: true, isBigEndian: true);
        raw.CopyTo(bytes, length - raw.Length);
        return new IPAddress(bytes);
    }
}
