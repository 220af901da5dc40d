using Switchboard.Store.Mvcc;

namespace Switchboard.Store.Tests.Mvcc;

public sealed class KeyIndexTests
{
    [Fact]
    public void RandomSetsAndRemoves_MatchSortedModelAndStayBalanced()
    {
        var random = new Random(42);
        var model = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        IndexNode? root = null;
        var snapshots = new List<(IndexNode? Root, string[] Keys)>();
        for (var i = 0; i < 5000; i++)
        {
            var key = $"/k/{random.Next(800)}";
            if (random.Next(4) == 0)
            {
                root = KeyIndex.Remove(root, key);
                model.Remove(key);
            }
            else
            {
                var live = random.Next(3) != 0;
                root = KeyIndex.Set(root, key, Entry(key), live);
                model[key] = live;
            }

            if (i % 500 == 0)
            {
                snapshots.Add((root, [.. model.Keys]));
            }
        }

        Assert.Equal(model.Keys, Walk(root, "", inclusive: true));
        Assert.True(root!.Height <= 1.45 * Math.Log2(model.Count + 2), $"height {root.Height} for {model.Count} keys");
        Assert.Equal(model.Count(kv => kv.Value), root.LiveCount);

        // Older roots are untouched by later writes.
        foreach (var (snapshotRoot, keys) in snapshots)
        {
            Assert.Equal(keys, Walk(snapshotRoot, "", inclusive: true));
        }

        foreach (var bound in new[] { "/k/1", "/k/5", "/k/55", "/k/799", "/a", "/z" })
        {
            Assert.Equal(model.Keys.Where(k => string.CompareOrdinal(k, bound) >= 0), Walk(root, bound, inclusive: true));
            Assert.Equal(model.Keys.Where(k => string.CompareOrdinal(k, bound) > 0), Walk(root, bound, inclusive: false));
            Assert.Equal(model.Count(kv => kv.Value && string.CompareOrdinal(kv.Key, bound) < 0), KeyIndex.RankLive(root, bound, BoundKind.Before));
            Assert.Equal(model.Count(kv => kv.Value && string.CompareOrdinal(kv.Key, bound) <= 0), KeyIndex.RankLive(root, bound, BoundKind.AtOrBefore));
            Assert.Equal(model.Count(kv => kv.Value && kv.Key.StartsWith(bound, StringComparison.Ordinal)), KeyIndex.CountLive(root, bound));
        }
    }

    [Fact]
    public void Build_FromSorted_IsBalancedAndComplete()
    {
        var keys = Enumerable.Range(0, 1000).Select(i => $"/b/{i:D4}").ToList();

        var root = KeyIndex.Build(keys.Select(k => (Entry(k), true)).ToList());

        Assert.Equal(keys, Walk(root, "", inclusive: true));
        Assert.Equal(10, root!.Height);
        Assert.Equal(1000, KeyIndex.CountLive(root, "/b/"));
        Assert.Equal(100, KeyIndex.CountLive(root, "/b/01"));
    }

    private static KeyEntry Entry(string key) => new(key, new KeyVersion(new StoreObject(key, ReadOnlyMemory<byte>.Empty, 1, 1), 1, null));

    private static List<string> Walk(IndexNode? root, string start, bool inclusive)
    {
        var keys = new List<string>();
        var cursor = new IndexCursor(root, start, inclusive);
        while (cursor.TryNext(out var node))
        {
            keys.Add(node.Key);
        }

        return keys;
    }
}
