namespace Switchboard.Netfilter.Fake;

/// <summary>
/// In-memory nftables: <see cref="RunAsync"/> applies a transaction to the current <see cref="Snapshot"/>
/// atomically (all or nothing) with the kernel's semantics (see <see cref="NftRulesetApplier"/>), then swaps the
/// snapshot. Readers (the packet tracer) take <see cref="Snapshot"/> without locks. Thread-safe.
/// </summary>
internal sealed class FakeNftables : INftables
{
    private readonly Lock _lock = new();
    private NftRuleset _state = NftRuleset.Empty;
    private NftTransaction? _last;
    private int _runs;
    private NftablesException? _failNext;

    /// <summary>The current state; an immutable value that later transactions do not change.</summary>
    public NftRuleset Snapshot => Volatile.Read(ref _state);

    /// <summary>The last transaction that was applied successfully.</summary>
    public NftTransaction? LastTransaction
    {
        get
        {
            lock (_lock)
            {
                return _last;
            }
        }
    }

    /// <summary>How many transactions were applied successfully.</summary>
    public int SuccessfulRuns => Volatile.Read(ref _runs);

    /// <summary>The state as <c>nft list ruleset</c>-like text, for failure messages.</summary>
    public string Dump(bool handles = false) => Snapshot.Dump(handles);

    /// <summary>Makes the next <see cref="RunAsync"/> fail with <paramref name="error"/> without applying anything (tests of retry paths).</summary>
    public void FailNextRun(NftablesException error)
    {
        lock (_lock)
        {
            _failNext = error;
        }
    }

    /// <summary>Replaces the whole state (to start a test from a known ruleset).</summary>
    public void Reset(NftRuleset state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            Volatile.Write(ref _state, state);
        }
    }

    public Task RunAsync(NftTransaction transaction, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ct.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (_failNext is { } error)
            {
                _failNext = null;
                throw error;
            }
            var next = _state.Apply(transaction);
            Volatile.Write(ref _state, next);
            _last = transaction;
            _runs++;
        }
        return Task.CompletedTask;
    }

    public Task CheckAsync(NftTransaction transaction, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ct.ThrowIfCancellationRequested();
        _ = Snapshot.Apply(transaction);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListAsync(NftTableRef table, NftObjectKind kind, CancellationToken ct)
    {
        var t = RequireTable(table);
        IReadOnlyList<string> names = kind switch
        {
            NftObjectKind.Chain => [.. t.SortedChains().Select(c => c.Name)],
            NftObjectKind.Set => [.. t.SortedSets().Where(s => !s.IsMap).Select(s => s.Name)],
            NftObjectKind.Map => [.. t.SortedSets().Where(s => s.IsMap).Select(s => s.Name)],
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown object kind"),
        };
        return Task.FromResult(names);
    }

    public Task<IReadOnlyList<NftRule>> ListRulesAsync(NftTableRef table, string chain, CancellationToken ct)
    {
        var c = RequireTable(table).Chain(chain) ?? throw new NftablesException(NftErrorKind.NotFound, $"chain {chain} does not exist in table {table}");
        IReadOnlyList<NftRule> rules = [.. c.Rules.Select(r => r.ToRule(chain))];
        return Task.FromResult(rules);
    }

    public Task<IReadOnlyList<NftElement>> ListElementsAsync(NftTableRef table, NftObjectKind kind, string name, CancellationToken ct)
    {
        var t = RequireTable(table);
        var set = (kind == NftObjectKind.Map ? t.Map(name) : kind == NftObjectKind.Set ? t.Set(name) : null)
            ?? throw new NftablesException(NftErrorKind.NotFound, $"{kind.ToString().ToLowerInvariant()} {name} does not exist in table {table}");
        IReadOnlyList<NftElement> elements = [.. set.SortedElements().Select(e => e.Element)];
        return Task.FromResult(elements);
    }

    private NftTableState RequireTable(NftTableRef table) =>
        Snapshot.Table(table) ?? throw new NftablesException(NftErrorKind.NotFound, $"table {table} does not exist");
}
