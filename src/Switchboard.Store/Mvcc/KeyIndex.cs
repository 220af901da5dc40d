namespace Switchboard.Store.Mvcc;

/// <summary>
/// Node of a persistent (path-copying) AVL tree over keys in ordinal order. Immutable, so a reader holding a
/// root sees a stable key set without locks. Each node also carries the number of live keys in its subtree,
/// which makes Count(prefix) and a page's remaining count O(log n).
/// </summary>
internal sealed class IndexNode
{
    public IndexNode(string key, KeyEntry entry, bool live, IndexNode? left, IndexNode? right)
    {
        Key = key;
        Entry = entry;
        Live = live;
        Left = left;
        Right = right;
        Height = 1 + Math.Max(left?.Height ?? 0, right?.Height ?? 0);
        LiveCount = (left?.LiveCount ?? 0) + (right?.LiveCount ?? 0) + (live ? 1 : 0);
    }

    public string Key { get; }

    public KeyEntry Entry { get; }

    /// <summary>Whether the key's newest version is live (not a tombstone).</summary>
    public bool Live { get; }

    public IndexNode? Left { get; }

    public IndexNode? Right { get; }

    public int Height { get; }

    public int LiveCount { get; }
}

/// <summary>Where a rank query stops: counts live keys strictly before this bound.</summary>
internal enum BoundKind
{
    /// <summary>Keys ordinally less than Key.</summary>
    Before,
    /// <summary>Keys ordinally less than or equal to Key.</summary>
    AtOrBefore,
    /// <summary>Keys less than Key or starting with Key: the end of Key's prefix range.</summary>
    PrefixEnd,
}

internal static class KeyIndex
{
    private static int HeightOf(IndexNode? n) => n?.Height ?? 0;

    public static IndexNode? Find(IndexNode? node, string key)
    {
        while (node is not null)
        {
            var c = string.CompareOrdinal(key, node.Key);
            if (c == 0)
            {
                return node;
            }

            node = c < 0 ? node.Left : node.Right;
        }

        return null;
    }

    /// <summary>Inserts key or replaces its node (entry and liveness); returns the new root.</summary>
    public static IndexNode Set(IndexNode? node, string key, KeyEntry entry, bool live)
    {
        if (node is null)
        {
            return new IndexNode(key, entry, live, null, null);
        }

        var c = string.CompareOrdinal(key, node.Key);
        if (c < 0)
        {
            return Balance(node.Key, node.Entry, node.Live, Set(node.Left, key, entry, live), node.Right);
        }

        if (c > 0)
        {
            return Balance(node.Key, node.Entry, node.Live, node.Left, Set(node.Right, key, entry, live));
        }

        return new IndexNode(key, entry, live, node.Left, node.Right);
    }

    /// <summary>Removes key if present; returns the new root.</summary>
    public static IndexNode? Remove(IndexNode? node, string key)
    {
        if (node is null)
        {
            return null;
        }

        var c = string.CompareOrdinal(key, node.Key);
        if (c < 0)
        {
            var left = Remove(node.Left, key);
            return ReferenceEquals(left, node.Left) ? node : Balance(node.Key, node.Entry, node.Live, left, node.Right);
        }

        if (c > 0)
        {
            var right = Remove(node.Right, key);
            return ReferenceEquals(right, node.Right) ? node : Balance(node.Key, node.Entry, node.Live, node.Left, right);
        }

        if (node.Left is null)
        {
            return node.Right;
        }

        if (node.Right is null)
        {
            return node.Left;
        }

        var min = node.Right;
        while (min.Left is not null)
        {
            min = min.Left;
        }

        return Balance(min.Key, min.Entry, min.Live, node.Left, RemoveMin(node.Right));
    }

    /// <summary>Builds a balanced tree from entries sorted in ordinal key order.</summary>
    public static IndexNode? Build(IReadOnlyList<(KeyEntry Entry, bool Live)> sorted) => Build(sorted, 0, sorted.Count - 1);

    /// <summary>Number of live keys before bound.</summary>
    public static int RankLive(IndexNode? node, string key, BoundKind kind)
    {
        var count = 0;
        while (node is not null)
        {
            if (IsBefore(node.Key, key, kind))
            {
                count += (node.Left?.LiveCount ?? 0) + (node.Live ? 1 : 0);
                node = node.Right;
            }
            else
            {
                node = node.Left;
            }
        }

        return count;
    }

    /// <summary>Number of live keys under prefix.</summary>
    public static int CountLive(IndexNode? root, string prefix) =>
        RankLive(root, prefix, BoundKind.PrefixEnd) - RankLive(root, prefix, BoundKind.Before);

    private static bool IsBefore(string nodeKey, string key, BoundKind kind)
    {
        var c = string.CompareOrdinal(nodeKey, key);
        return kind switch
        {
            BoundKind.Before => c < 0,
            BoundKind.AtOrBefore => c <= 0,
            _ => c < 0 || nodeKey.StartsWith(key, StringComparison.Ordinal),
        };
    }

    private static IndexNode? Build(IReadOnlyList<(KeyEntry Entry, bool Live)> sorted, int lo, int hi)
    {
        if (lo > hi)
        {
            return null;
        }

        var mid = lo + ((hi - lo) / 2);
        var (entry, live) = sorted[mid];
        return new IndexNode(entry.Key, entry, live, Build(sorted, lo, mid - 1), Build(sorted, mid + 1, hi));
    }

    private static IndexNode? RemoveMin(IndexNode node) =>
        node.Left is null ? node.Right : Balance(node.Key, node.Entry, node.Live, RemoveMin(node.Left), node.Right);

    // Children differ in height by at most 2 after a single insert or remove, which one or two rotations fix.
    private static IndexNode Balance(string key, KeyEntry entry, bool live, IndexNode? left, IndexNode? right)
    {
        var hl = HeightOf(left);
        var hr = HeightOf(right);
        if (hl > hr + 1)
        {
            var l = left!;
            if (HeightOf(l.Left) >= HeightOf(l.Right))
            {
                return new IndexNode(l.Key, l.Entry, l.Live, l.Left, new IndexNode(key, entry, live, l.Right, right));
            }

            var lr = l.Right!;
            return new IndexNode(
                lr.Key, lr.Entry, lr.Live,
                new IndexNode(l.Key, l.Entry, l.Live, l.Left, lr.Left),
                new IndexNode(key, entry, live, lr.Right, right));
        }

        if (hr > hl + 1)
        {
            var r = right!;
            if (HeightOf(r.Right) >= HeightOf(r.Left))
            {
                return new IndexNode(r.Key, r.Entry, r.Live, new IndexNode(key, entry, live, left, r.Left), r.Right);
            }

            var rl = r.Left!;
            return new IndexNode(
                rl.Key, rl.Entry, rl.Live,
                new IndexNode(key, entry, live, left, rl.Left),
                new IndexNode(r.Key, r.Entry, r.Live, rl.Right, r.Right));
        }

        return new IndexNode(key, entry, live, left, right);
    }
}

/// <summary>In-order walk of one immutable root, from a lower bound; the stack is bounded by the tree height.</summary>
internal struct IndexCursor
{
    private readonly IndexNode[] _stack;
    private int _count;

    /// <param name="root">The snapshot root.</param>
    /// <param name="start">Lower bound.</param>
    /// <param name="inclusive">Whether a key equal to start is included.</param>
    public IndexCursor(IndexNode? root, string start, bool inclusive)
    {
        _stack = new IndexNode[Math.Max(1, root?.Height ?? 0)];
        _count = 0;
        var node = root;
        while (node is not null)
        {
            var c = string.CompareOrdinal(node.Key, start);
            if (c > 0 || (c == 0 && inclusive))
            {
                _stack[_count++] = node;
                node = node.Left;
            }
            else
            {
                node = node.Right;
            }
        }
    }

    public bool TryNext(out IndexNode node)
    {
        if (_count == 0)
        {
            node = null!;
            return false;
        }

        node = _stack[--_count];
        var n = node.Right;
        while (n is not null)
        {
            _stack[_count++] = n;
            n = n.Left;
        }

        return true;
    }
}
