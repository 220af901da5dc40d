namespace Switchboard.Store.Tests;

public sealed class MemoryStoreTests : StoreContractTests
{
    protected override IStore CreateStore(StoreOptions? options = null, TimeProvider? timeProvider = null) =>
        new MemoryStore(options, timeProvider);

    [Fact]
    public async Task New_StartsAtRevisionOneWithNothingCompacted()
    {
        await using var store = new MemoryStore();
        Assert.Equal(1, store.Revision);
        Assert.Equal(0, store.CompactedRevision);
    }

    [Fact]
    public async Task Compact_PastDelete_RemovesTombstonedKeysFromIndex()
    {
        await using var store = new MemoryStore();
        for (var i = 0; i < 20; i++)
        {
            await store.CreateAsync($"/k{i}", StoreTestKit.Json("1"));
            await store.DeleteAsync($"/k{i}", 0, StoreTestKit.Json("x"));
        }

        await store.CreateAsync("/live", StoreTestKit.Json("1"));
        Assert.Equal(21, store.Core.IndexedKeys);

        await store.CompactAsync(store.Revision);

        Assert.Equal(1, store.Core.IndexedKeys);
        Assert.Equal(1, store.Count("/"));
    }
}
