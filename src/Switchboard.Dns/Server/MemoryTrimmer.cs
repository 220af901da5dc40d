using System.Runtime;
using Switchboard.Dns.Kubernetes;

namespace Switchboard.Dns.Server;

/// <summary>
/// Gives memory back after the zone settles. The live set only changes when the API does, and a burst of changes
/// (the first list, a large rollout) leaves the old snapshots, list pages and JSON buffers as garbage that the GC
/// would keep committed until it feels pressure, so RSS would track history rather than the cluster. Once the
/// index has been quiet for a moment, one compacting collection that decommits free memory (Aggressive mode)
/// brings RSS back to the live set. At most once per <c>minInterval</c>; nothing happens while changes keep
/// coming, and the packet path never waits for it except during that one collection (milliseconds for a
/// heap of tens of MB).
/// </summary>
internal sealed class MemoryTrimmer : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _quiet;
    private readonly TimeSpan _minInterval;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private long _lastTrim;
    private int _trims;

    public MemoryTrimmer(ZoneIndex index, TimeProvider time, TimeSpan quiet, TimeSpan minInterval)
    {
        _time = time;
        _quiet = quiet;
        _minInterval = minInterval;
        _lastTrim = time.GetTimestamp() - (long)(minInterval.TotalSeconds * time.TimestampFrequency);
        _timer = time.CreateTimer(_ => Trim(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        index.Published += _ => Arm(_quiet);
    }

    /// <summary>How many times memory was trimmed (tests).</summary>
    public int Trims => Volatile.Read(ref _trims);

    public void Dispose() => _timer.Dispose();

    private void Arm(TimeSpan delay)
    {
        lock (_gate)
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void Trim()
    {
        var since = _time.GetElapsedTime(_lastTrim);
        if (since < _minInterval)
        {
            Arm(_minInterval - since);
            return;
        }
        _lastTrim = _time.GetTimestamp();
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Increment(ref _trims);
    }
}
