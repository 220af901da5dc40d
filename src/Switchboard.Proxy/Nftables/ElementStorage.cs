using Switchboard.Netfilter;

namespace Switchboard.Proxy.Nftables;

/// <summary>
/// In-memory mirror of one set or map as programmed (upstream nftElementStorage): a sync sends only elements that
/// are new (add), changed (delete + add) or gone (delete), never listing the kernel.
/// </summary>
internal sealed class ElementStorage(string name, bool isMap)
{
    private readonly Dictionary<string, string> _elements = new(StringComparer.Ordinal);
    private readonly HashSet<string> _leftover = new(StringComparer.Ordinal);

    // Proposed state of the running sync; committed only when the transaction succeeded.
    private readonly Dictionary<string, string?> _changes = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public int Count => _elements.Count;

    /// <summary>Full sync: flush the container in the transaction and forget the mirror.</summary>
    public void Reset(NftTransactionBuilder tx)
    {
        if (isMap)
        {
            tx.Flush(new NftMap { Name = Name });
        }
        else
        {
            tx.Flush(new NftSet { Name = Name });
        }

        _changes.Clear();
        _leftover.Clear();
        foreach (var key in _elements.Keys)
        {
            _changes[key] = null;
        }
    }

    // Where Ensure records the keys it writes (the Service being written) and this storage's index there.
    private List<(int, string)>? _collector;
    private int _index;

    /// <summary>
    /// Starts a sync. Full: every programmed key is a leftover until ensured again. Partial: only keys passed to
    /// <see cref="MarkLeftover"/> (those of the Services that changed) are.
    /// </summary>
    public void Begin(bool full)
    {
        _leftover.Clear();
        if (!full)
        {
            return;
        }

        foreach (var (key, _) in Current())
        {
            _leftover.Add(key);
        }
    }

    /// <summary>A key of a changed Service: deleted by <see cref="CleanupLeftovers"/> unless ensured again.</summary>
    public void MarkLeftover(string key)
    {
        if (Lookup(key) is not null)
        {
            _leftover.Add(key);
        }
    }

    /// <summary>Records every key ensured from now on as (<paramref name="index"/>, key) into <paramref name="collector"/> (null: stop).</summary>
    public void Collect(List<(int, string)>? collector, int index)
    {
        _collector = collector;
        _index = index;
    }

    public void Ensure(NftTransactionBuilder tx, string k1, string? value, string? comment) =>
        Ensure(tx, k1, value, comment, 1, k1, null, null);

    public void Ensure(NftTransactionBuilder tx, string k1, string k2, string? value, string? comment) =>
        Ensure(tx, string.Concat(k1, " . ", k2), value, comment, 2, k1, k2, null);

    public void Ensure(NftTransactionBuilder tx, string k1, string k2, string k3, string? value, string? comment) =>
        Ensure(tx, string.Concat(k1, " . ", k2, " . ", k3), value, comment, 3, k1, k2, k3);

    // Hot path: an unchanged element costs one key string and two lookups; objects are built only to be sent.
    private void Ensure(NftTransactionBuilder tx, string keyText, string? value, string? comment, int parts, string k1, string? k2, string? k3)
    {
        var valueText = value ?? "";
        var existing = Lookup(keyText);
        if (existing is null || existing != valueText)
        {
            EquatableArray<string> key = parts switch
            {
                1 => [k1],
                2 => [k1, k2!],
                _ => [k1, k2!, k3!],
            };
            var element = new NftElement
            {
                Set = isMap ? null : Name,
                Map = isMap ? Name : null,
                Key = key,
                Value = value is null ? [] : [value],
                Comment = comment,
            };
            if (existing is not null)
            {
                tx.Delete(element with { Value = [], Comment = null });
            }

            tx.Add(element);
            _changes[keyText] = valueText;
        }

        _leftover.Remove(keyText);
        _collector?.Add((_index, keyText));
    }

    /// <summary>Deletes every key that was not ensured in this sync.</summary>
    public void CleanupLeftovers(NftTransactionBuilder tx)
    {
        foreach (var keyText in _leftover)
        {
            tx.Delete(new NftElement
            {
                Set = isMap ? null : Name,
                Map = isMap ? Name : null,
                Key = [.. keyText.Split(" . ")],
            });
            _changes[keyText] = null;
        }

        _leftover.Clear();
    }

    /// <summary>The transaction succeeded: the proposed state becomes the mirror.</summary>
    public void Commit()
    {
        foreach (var (key, value) in _changes)
        {
            if (value is null)
            {
                _elements.Remove(key);
            }
            else
            {
                _elements[key] = value;
            }
        }

        _changes.Clear();
    }

    /// <summary>The transaction failed: drop the proposal (the next sync is a full one).</summary>
    public void Abort() => _changes.Clear();

    private string? Lookup(string key) =>
        _changes.TryGetValue(key, out var proposed) ? proposed : _elements.GetValueOrDefault(key);

    private IEnumerable<KeyValuePair<string, string>> Current()
    {
        foreach (var (k, v) in _elements)
        {
            if (!_changes.TryGetValue(k, out var p) || p is not null)
            {
                yield return new(k, v);
            }
        }

        foreach (var (k, v) in _changes)
        {
            if (v is not null && !_elements.ContainsKey(k))
            {
                yield return new(k, v);
            }
        }
    }
}
