using Switchboard.Netfilter;

namespace Switchboard.Proxy.Nftables;

/// <summary>
/// A set whose elements several Services may need at once (the hairpin set: two Services with the same endpoint IP
/// share its element). Each element is reference-counted by how often programmed Services use it; a sync sends an
/// add when a count leaves 0 and a delete when it returns to 0. <see cref="ElementStorage"/> cannot do this: it
/// deletes a changed Service's keys unless that Service writes them again.
/// </summary>
internal sealed class SharedElementSet(string name)
{
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

    // Count changes proposed by the running sync; applied only when its transaction succeeded.
    private readonly Dictionary<string, int> _delta = new(StringComparer.Ordinal);
    private bool _full;

    public string Name { get; } = name;

    public int Count => _counts.Count;

    /// <summary>Starts a sync. Full: the set is flushed in the transaction and every count starts again from 0.</summary>
    public void Begin(NftTransactionBuilder tx, bool full)
    {
        _delta.Clear();
        _full = full;
        if (full)
        {
            tx.Flush(new NftSet { Name = Name });
        }
    }

    /// <summary>Keys a Service no longer has (its previous keys; partial syncs only).</summary>
    public void Release(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            _delta[key] = _delta.GetValueOrDefault(key) - 1;
        }
    }

    /// <summary>Keys a Service has now.</summary>
    public void Acquire(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            _delta[key] = _delta.GetValueOrDefault(key) + 1;
        }
    }

    /// <summary>Adds the elements whose count leaves 0 and deletes those whose count returns to 0.</summary>
    public void Write(NftTransactionBuilder tx)
    {
        foreach (var (key, delta) in _delta)
        {
            var before = _full ? 0 : _counts.GetValueOrDefault(key);
            var after = before + delta;
            if (after < 0)
            {
                throw new InvalidOperationException($"@{Name} element {key} released more often than acquired");
            }

            if (before == 0 && after > 0)
            {
                tx.Add(new NftElement { Set = Name, Key = [.. key.Split(" . ")] });
            }
            else if (before > 0 && after == 0)
            {
                tx.Delete(new NftElement { Set = Name, Key = [.. key.Split(" . ")] });
            }
        }
    }

    /// <summary>The transaction succeeded: the proposed counts become the mirror.</summary>
    public void Commit()
    {
        if (_full)
        {
            _counts.Clear();
        }

        foreach (var (key, delta) in _delta)
        {
            var after = _counts.GetValueOrDefault(key) + delta;
            if (after > 0)
            {
                _counts[key] = after;
            }
            else
            {
                _counts.Remove(key);
            }
        }

        _delta.Clear();
        _full = false;
    }

    /// <summary>The transaction failed: drop the proposal (the next sync is a full one).</summary>
    public void Abort()
    {
        _delta.Clear();
        _full = false;
    }
}
