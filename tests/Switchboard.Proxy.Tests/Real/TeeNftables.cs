using Switchboard.Netfilter;
using Switchboard.Netfilter.Fake;

namespace Switchboard.Proxy.Tests.Real;

/// <summary>Runs every transaction on real nft first, then on the fake; they must agree (the fake feeds the tracer).</summary>
internal sealed class TeeNftables(INftables real, FakeNftables fake) : INftables
{
    public List<string> Scripts { get; } = [];

    public async Task RunAsync(NftTransaction transaction, CancellationToken ct)
    {
        Scripts.Add(transaction.ToString());
        await real.RunAsync(transaction, ct);
        try
        {
            await fake.RunAsync(transaction, ct);
        }
        catch (NftablesException e)
        {
            throw new InvalidOperationException("real nft accepted a transaction the fake refused: " + e.Message + "\n" + transaction, e);
        }
    }

    public Task CheckAsync(NftTransaction transaction, CancellationToken ct) => real.CheckAsync(transaction, ct);

    public Task<IReadOnlyList<string>> ListAsync(NftTableRef table, NftObjectKind kind, CancellationToken ct) => real.ListAsync(table, kind, ct);

    public Task<IReadOnlyList<NftRule>> ListRulesAsync(NftTableRef table, string chain, CancellationToken ct) => real.ListRulesAsync(table, chain, ct);

    public Task<IReadOnlyList<NftElement>> ListElementsAsync(NftTableRef table, NftObjectKind kind, string name, CancellationToken ct) =>
        real.ListElementsAsync(table, kind, name, ct);
}
