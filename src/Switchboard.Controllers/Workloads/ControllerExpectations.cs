namespace Switchboard.Controllers.Workloads;

/// <summary>
/// Upstream ControllerExpectations / UIDTrackingControllerExpectations: how many pod creations and which pod
/// deletions a ReplicaSet still waits to see in its informer. While any are outstanding the controller does not
/// create or delete again, so a lagging watch never makes it over-create. Expectations expire after 5 minutes
/// (a lost watch event must not wedge the ReplicaSet forever).
/// </summary>
internal sealed class ControllerExpectations(TimeProvider time)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromMinutes(5);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>True when nothing is outstanding for the key (or the expectations expired or never existed).</summary>
    public bool Satisfied(string key)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var e))
            {
                return true;
            }
            return (e.Adds <= 0 && e.Deletes.Count == 0) || time.GetUtcNow() - e.Set > Ttl;
        }
    }

    public void ExpectCreations(string key, int count)
    {
        lock (_lock)
        {
            _entries[key] = new Entry(count, new HashSet<string>(StringComparer.Ordinal), time.GetUtcNow());
        }
    }

    public void ExpectDeletions(string key, IEnumerable<string> podKeys)
    {
        lock (_lock)
        {
            _entries[key] = new Entry(0, new HashSet<string>(podKeys, StringComparer.Ordinal), time.GetUtcNow());
        }
    }

    public void CreationObserved(string key)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var e))
            {
                _entries[key] = e with { Adds = e.Adds - 1 };
            }
        }
    }

    public void DeletionObserved(string key, string podKey)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var e))
            {
                e.Deletes.Remove(podKey);
            }
        }
    }

    public void Delete(string key)
    {
        lock (_lock)
        {
            _entries.Remove(key);
        }
    }

    private sealed record Entry(int Adds, HashSet<string> Deletes, DateTimeOffset Set);
}
