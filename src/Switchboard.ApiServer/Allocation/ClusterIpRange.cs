using System.Net;

namespace Switchboard.ApiServer.Allocation;

/// <summary>What reserving a requested address found.</summary>
internal enum ReserveOutcome
{
    Reserved,
    /// <summary>Inside the CIDR but the network or (IPv4) broadcast address.</summary>
    NotInRange,
    Taken,
    /// <summary>Taken by a release that has not finished deleting its IPAddress object yet.</summary>
    Releasing,
    /// <summary>No ServiceCIDR that names this range is ready (all are being deleted or report Ready=False).</summary>
    NotReady,
}

/// <summary>
/// The in-memory reservations of one Service CIDR: which offsets are taken (committed, in flight, or seen as an
/// IPAddress object) and which are being released. This is the fast index in front of the IPAddress objects, which
/// stay the durable record; an offset is free again only once its IPAddress object is gone. Thread-safe.
/// </summary>
internal sealed class ClusterIpRange
{
    private readonly Lock _gate = new();
    private readonly IOffsetSet _taken;
    private readonly Dictionary<ulong, Task> _releasing = [];
    private readonly Dictionary<ulong, long> _inFlight = [];
    private readonly Random _random;
    private bool _ready = true;

    public ClusterIpRange(ServiceCidr cidr, Random random)
    {
        Cidr = cidr;
        _random = random;
        _taken = OffsetSets.Create(cidr.Size);
    }

    public ServiceCidr Cidr { get; }

    /// <summary>
    /// Whether new addresses may be reserved here (upstream's allocator.ready). Checked under the same lock as every
    /// reservation, so once it is false no reservation starts; <see cref="HasInFlight"/> then tells when the ones that
    /// started before have settled.
    /// </summary>
    public bool Ready
    {
        get
        {
            lock (_gate)
            {
                return _ready;
            }
        }
        set
        {
            lock (_gate)
            {
                _ready = value;
            }
        }
    }

    /// <summary>True while a reservation has not yet been backed by its IPAddress object (or given up).</summary>
    public bool HasInFlight
    {
        get
        {
            lock (_gate)
            {
                return _inFlight.Count > 0;
            }
        }
    }

    public ulong Used
    {
        get
        {
            lock (_gate)
            {
                return _taken.Count;
            }
        }
    }

    /// <summary>Reserves a requested address (the caller then creates its IPAddress object).</summary>
    public ReserveOutcome TryReserve(IPAddress ip, long stamp, out Task? releasing)
    {
        releasing = null;
        if (Cidr.OffsetOf(ip) is not { } offset)
        {
            return ReserveOutcome.NotInRange;
        }
        lock (_gate)
        {
            if (!_ready)
            {
                return ReserveOutcome.NotReady;
            }
            if (_releasing.TryGetValue(offset, out releasing))
            {
                return ReserveOutcome.Releasing;
            }
            if (!_taken.Add(offset))
            {
                return ReserveOutcome.Taken;
            }
            _inFlight[offset] = stamp;
            return ReserveOutcome.Reserved;
        }
    }

    /// <summary>Reserves a free address, upper (dynamic) band first, then the static band; null when full or not ready.</summary>
    public IPAddress? ReserveNext(long stamp)
    {
        lock (_gate)
        {
            if (!_ready)
            {
                return null;
            }
            var offset = _taken.FindFree(Cidr.StaticBand, Cidr.Size, _random) ?? _taken.FindFree(0, Cidr.StaticBand, _random);
            if (offset is not { } o)
            {
                return null;
            }
            _taken.Add(o);
            _inFlight[o] = stamp;
            return Cidr.AddressAt(o);
        }
    }

    /// <summary>The reservation is backed by its IPAddress object now (or was abandoned and stays taken as seen).</summary>
    public void Settle(IPAddress ip)
    {
        if (Cidr.OffsetOf(ip) is { } offset)
        {
            lock (_gate)
            {
                _inFlight.Remove(offset);
            }
        }
    }

    /// <summary>Frees an address whose IPAddress object is known not to exist.</summary>
    public void Free(IPAddress ip)
    {
        if (Cidr.OffsetOf(ip) is { } offset)
        {
            lock (_gate)
            {
                _inFlight.Remove(offset);
                _releasing.Remove(offset);
                _taken.Remove(offset);
            }
        }
    }

    /// <summary>Marks an address as in use because an IPAddress object for it exists (repair, or a lost create race).</summary>
    public void MarkTaken(IPAddress ip)
    {
        if (Cidr.OffsetOf(ip) is { } offset)
        {
            lock (_gate)
            {
                _taken.Add(offset);
            }
        }
    }

    /// <summary>
    /// Starts releasing an address: it stays taken until release (deleting the IPAddress object) completes, then
    /// becomes free if the release succeeded. Returns false when it was not taken or is already being released.
    /// </summary>
    public bool BeginRelease(IPAddress ip, Func<Task<bool>> release)
    {
        if (Cidr.OffsetOf(ip) is not { } offset)
        {
            return false;
        }
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (!_taken.Contains(offset) || _releasing.ContainsKey(offset))
            {
                return false;
            }
            _inFlight.Remove(offset);
            _releasing[offset] = gate.Task;
        }
        _ = RunReleaseAsync(offset, release, gate);
        return true;
    }

    private async Task RunReleaseAsync(ulong offset, Func<Task<bool>> release, TaskCompletionSource gate)
    {
        var freed = false;
        try
        {
            freed = await release().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The IPAddress object may still exist: the address stays taken and the repair pass settles it.
        }
        lock (_gate)
        {
            _releasing.Remove(offset);
            if (freed)
            {
                _taken.Remove(offset);
            }
        }
        gate.SetResult();
    }

    public bool IsTaken(IPAddress ip)
    {
        if (Cidr.OffsetOf(ip) is not { } offset)
        {
            return false;
        }
        lock (_gate)
        {
            return _taken.Contains(offset);
        }
    }

    public bool IsReleasing(IPAddress ip)
    {
        if (Cidr.OffsetOf(ip) is not { } offset)
        {
            return false;
        }
        lock (_gate)
        {
            return _releasing.ContainsKey(offset);
        }
    }

    /// <summary>Releases still running (tests and shutdown wait for them).</summary>
    public Task[] PendingReleases()
    {
        lock (_gate)
        {
            return [.. _releasing.Values];
        }
    }

    /// <summary>
    /// Taken addresses that are neither in flight (reserved after <paramref name="since"/>) nor being released:
    /// the candidates a repair pass may call leaked.
    /// </summary>
    public List<IPAddress> SettledTaken(long since)
    {
        lock (_gate)
        {
            var result = new List<IPAddress>();
            foreach (var offset in _taken.Taken())
            {
                if (_releasing.ContainsKey(offset) || (_inFlight.TryGetValue(offset, out var stamp) && stamp >= since))
                {
                    continue;
                }
                result.Add(Cidr.AddressAt(offset));
            }
            return result;
        }
    }
}
