using System.Collections.Immutable;
using System.Net.Sockets;

namespace Switchboard.Netfilter.Fake;

/// <summary>
/// An immutable snapshot of the fake's nftables state: tables → chains (rules in order) and sets/maps (elements).
/// <see cref="Apply"/> returns a new snapshot or throws; the snapshot it was called on never changes.
/// </summary>
internal sealed record NftRuleset
{
    public static NftRuleset Empty { get; } = new() { Tables = ImmutableDictionary<NftTableRef, NftTableState>.Empty };

    public required ImmutableDictionary<NftTableRef, NftTableState> Tables { get; init; }

    internal ulong NextTableHandle { get; init; } = 1;

    public NftTableState? Table(NftTableRef table) => Tables.GetValueOrDefault(table);

    public NftTableState? Table(NftFamily family, string name) => Table(new NftTableRef(family, name));

    /// <summary>Applies a transaction atomically: the new state, or an <see cref="NftablesException"/> and no change.</summary>
    public NftRuleset Apply(NftTransaction transaction) => NftRulesetApplier.Apply(this, transaction);

    /// <summary>A transaction that recreates this state from nothing (tables, sets, maps, chains, rules, elements).</summary>
    public NftTransaction ToTransaction()
    {
        NftTransactionBuilder? tx = null;
        foreach (var table in Tables.Values.OrderBy(t => t.Ref.Family).ThenBy(t => t.Ref.Name, StringComparer.Ordinal))
        {
            tx ??= new NftTransactionBuilder(table.Ref);
            tx.UseTable(table.Ref);
            tx.Add(new NftTable { Comment = table.Comment });
            foreach (var set in table.SortedSets())
            {
                tx.Add(set.Definition);
            }
            foreach (var chain in table.SortedChains())
            {
                tx.Add(chain.Definition);
            }
            foreach (var chain in table.SortedChains())
            {
                foreach (var rule in chain.Rules)
                {
                    tx.Add(new NftRule { Chain = chain.Name, Text = rule.Text, Comment = rule.Comment });
                }
            }
            foreach (var set in table.SortedSets())
            {
                foreach (var element in set.SortedElements())
                {
                    tx.Add(element.Element);
                }
            }
        }
        return tx?.Build() ?? NftTransaction.Empty;
    }

    /// <summary>The state as <c>nft list ruleset</c>-like text (names sorted, rules in order), for test failure messages and golden files.</summary>
    public string Dump(bool handles = false) => NftDump.Write(this, handles);

    public override string ToString() => Dump();
}

/// <summary>One table. Sets and maps share one namespace (<see cref="Sets"/>), as in the kernel.</summary>
internal sealed record NftTableState
{
    public required NftTableRef Ref { get; init; }

    public string? Comment { get; init; }

    public ulong Handle { get; init; }

    public required ImmutableDictionary<string, NftChainState> Chains { get; init; }

    /// <summary>Named sets and maps (see <see cref="NftSetState.IsMap"/>).</summary>
    public required ImmutableDictionary<string, NftSetState> Sets { get; init; }

    /// <summary>How many rules and verdict-map elements jump/goto each chain (a referenced chain cannot be deleted).</summary>
    public required ImmutableDictionary<string, int> ChainReferences { get; init; }

    /// <summary>How many rules reference each set or map with <c>@name</c>.</summary>
    public required ImmutableDictionary<string, int> SetReferences { get; init; }

    internal ulong NextHandle { get; init; } = 1;

    public NftChainState? Chain(string name) => Chains.GetValueOrDefault(name);

    /// <summary>A set (not a map) by name.</summary>
    public NftSetState? Set(string name) => Sets.GetValueOrDefault(name) is { IsMap: false } s ? s : null;

    /// <summary>A map (not a set) by name.</summary>
    public NftSetState? Map(string name) => Sets.GetValueOrDefault(name) is { IsMap: true } m ? m : null;

    public int References(string chain) => ChainReferences.GetValueOrDefault(chain);

    public IEnumerable<NftChainState> SortedChains() => Chains.Values.OrderBy(c => c.Name, StringComparer.Ordinal);

    public IEnumerable<NftSetState> SortedSets() => Sets.Values.OrderBy(s => s.IsMap).ThenBy(s => s.Name, StringComparer.Ordinal);
}

/// <summary>A chain with its rules in order.</summary>
internal sealed record NftChainState
{
    public required NftChain Definition { get; init; }

    public ulong Handle { get; init; }

    public required ImmutableList<NftRuleState> Rules { get; init; }

    public string Name => Definition.Name;

    public bool IsBaseChain => Definition.IsBaseChain;
}

/// <summary>A rule as stored: text with defines expanded, its handle, and the chains/sets it references.</summary>
internal sealed record NftRuleState
{
    public required ulong Handle { get; init; }

    public required string Text { get; init; }

    public string? Comment { get; init; }

    /// <summary>Chains named by <c>jump</c>/<c>goto</c> (also inside anonymous vmaps).</summary>
    public EquatableArray<string> ChainReferences { get; init; } = [];

    /// <summary>Sets and maps named by <c>@name</c>.</summary>
    public EquatableArray<string> SetReferences { get; init; } = [];

    public NftRule ToRule(string chain) => new() { Chain = chain, Text = Text, Comment = Comment, Handle = Handle };
}

/// <summary>A set or map with its elements, keyed by canonical key text (see <see cref="NftTypes.TryNormalize"/>).</summary>
internal sealed record NftSetState
{
    public required NftSetBase Definition { get; init; }

    public ulong Handle { get; init; }

    public required EquatableArray<string> KeyTypes { get; init; }

    public required EquatableArray<string> ValueTypes { get; init; }

    public required ImmutableDictionary<string, NftElementState> Elements { get; init; }

    public string Name => Definition.Name;

    public bool IsMap => Definition is NftMap;

    public bool IsInterval => Definition.HasFlag(NftSetFlags.Interval);

    public bool IsVerdictMap => ValueTypes.Count == 1 && ValueTypes[0] == NftTypes.Verdict;

    public IEnumerable<NftElementState> SortedElements() => Elements.Values.OrderBy(e => e.CanonicalKey, StringComparer.Ordinal);

    /// <summary>
    /// The element whose key equals <paramref name="key"/> (parts normalised, so "6" finds "tcp"); for interval sets
    /// an address part matches an element whose prefix or range contains it. Null when nothing matches or a part is
    /// not valid for its type.
    /// </summary>
    public NftElementState? Lookup(params string[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != KeyTypes.Count)
        {
            return null;
        }
        var canonical = new string[key.Length];
        for (var i = 0; i < key.Length; i++)
        {
            if (!NftTypes.TryNormalize(KeyTypes[i], key[i], interval: false, out canonical[i], out _))
            {
                return null;
            }
        }
        if (Elements.TryGetValue(string.Join(" . ", canonical), out var exact))
        {
            return exact;
        }
        if (!IsInterval)
        {
            return null;
        }
        foreach (var element in Elements.Values)
        {
            if (Covers(element, canonical))
            {
                return element;
            }
        }
        return null;
    }

    /// <summary>True when <see cref="Lookup"/> finds an element.</summary>
    public bool Contains(params string[] key) => Lookup(key) is not null;

    private bool Covers(NftElementState element, string[] key)
    {
        for (var i = 0; i < key.Length; i++)
        {
            var type = KeyTypes[i];
            var part = element.Element.Key[i];
            if (type is NftTypes.Ipv4Addr or NftTypes.Ipv6Addr)
            {
                var family = type == NftTypes.Ipv4Addr ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (!NftTypes.TryParseInterval(part, family, out var start, out var end, out _)
                    || !NftTypes.TryParseInterval(key[i], family, out var value, out _, out _)
                    || value < start || value > end)
                {
                    return false;
                }
            }
            else if (element.CanonicalParts[i] != key[i])
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>An element as stored: what was written (defines expanded) and its canonical key.</summary>
internal sealed record NftElementState
{
    public required NftElement Element { get; init; }

    public required string CanonicalKey { get; init; }

    public required EquatableArray<string> CanonicalParts { get; init; }

    /// <summary>Canonical value text (" . "-joined), empty for set elements.</summary>
    public string CanonicalValue { get; init; } = "";

    /// <summary>The chain a verdict element jumps to or goes to, if any.</summary>
    public string? ChainReference { get; init; }

    public EquatableArray<string> Key => Element.Key;

    public EquatableArray<string> Value => Element.Value;
}
