namespace Switchboard.Netfilter;

/// <summary>The kinds of named objects <see cref="INftables.ListAsync"/> lists.</summary>
internal enum NftObjectKind
{
    Chain,
    Set,
    Map,
}

/// <summary>
/// nftables behind a tiny interface: the real <see cref="NftablesRunner"/> runs <c>nft -f -</c>, the fake
/// (<see cref="Fake.FakeNftables"/>) applies the same transactions in memory. Run is atomic: on failure
/// nothing changed and an <see cref="NftablesException"/> says why. The List methods are for start-up and
/// clean-up only (they read the whole table), never for the sync hot path.
/// </summary>
internal interface INftables
{
    /// <summary>Applies the transaction atomically. An empty transaction is a no-op.</summary>
    Task RunAsync(NftTransaction transaction, CancellationToken ct);

    /// <summary>Checks the transaction against the current state without applying it (<c>nft -c</c>).</summary>
    Task CheckAsync(NftTransaction transaction, CancellationToken ct);

    /// <summary>Names of the chains, sets or maps in a table; throws NotFound if the table does not exist.</summary>
    Task<IReadOnlyList<string>> ListAsync(NftTableRef table, NftObjectKind kind, CancellationToken ct);

    /// <summary>Rules of a chain in order, with <see cref="NftRule.Handle"/> and <see cref="NftRule.Comment"/>; <see cref="NftRule.Text"/> is nft's own rendering.</summary>
    Task<IReadOnlyList<NftRule>> ListRulesAsync(NftTableRef table, string chain, CancellationToken ct);

    /// <summary>Elements of a set or map (<paramref name="kind"/> Set or Map), key and value parts as nft prints them.</summary>
    Task<IReadOnlyList<NftElement>> ListElementsAsync(NftTableRef table, NftObjectKind kind, string name, CancellationToken ct);
}
