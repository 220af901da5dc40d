using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace Switchboard.Netfilter.Fake;

/// <summary>
/// Applies operations to an immutable <see cref="NftRuleset"/> with the kernel semantics that matter to
/// Switchboard (checked against real nft by the differential tests): add is idempotent, create fails on an
/// existing object, delete/flush fail on a missing one, a referenced chain/set/map cannot be deleted, an element
/// must match the key and value types and arity, an element re-added with a different value fails, rule handles
/// are allocated per table.
/// </summary>
internal static partial class NftRulesetApplier
{
    [GeneratedRegex(@"\b(?:jump|goto)\s+([A-Za-z_.][A-Za-z0-9/\-_.]*)")]
    private static partial Regex ChainReferenceRegex();

    [GeneratedRegex(@"@([A-Za-z_.][A-Za-z0-9/\-_.]*)(?!,)")]
    private static partial Regex SetReferenceRegex();

    [GeneratedRegex(@"\$([A-Za-z][A-Za-z0-9_]*)")]
    private static partial Regex DefineRegex();

    public static NftRuleset Apply(NftRuleset state, NftTransaction transaction)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(transaction);
        var defines = transaction.Defines.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);
        var line = 0;
        foreach (var op in transaction.Operations)
        {
            line++;
            try
            {
                state = ApplyOne(state, op, defines);
            }
            catch (NftablesException e)
            {
                throw new NftablesException(e.Kind, $"line {line}: {e.Message}: {NftScript.Write(op)}");
            }
        }
        return state;
    }

    private static NftRuleset ApplyOne(NftRuleset state, NftOperation op, Dictionary<string, string> defines)
    {
        if (op.Object is NftTable table)
        {
            return ApplyTable(state, op.Verb, op.Table, table);
        }
        var current = state.Table(op.Table) ?? throw Error(NftErrorKind.NotFound, $"table {op.Table} does not exist");
        var next = op.Object switch
        {
            NftChain chain => ApplyChain(current, op.Verb, chain),
            NftRule rule => ApplyRule(current, op.Verb, rule, defines),
            NftSetBase set => ApplySet(current, op.Verb, set),
            NftElement element => ApplyElement(current, op.Verb, element, defines),
            _ => throw Error(NftErrorKind.Invalid, "unknown object " + op.Object.Kind),
        };
        return state with { Tables = state.Tables.SetItem(op.Table, next) };
    }

    private static NftRuleset ApplyTable(NftRuleset state, NftVerb verb, NftTableRef name, NftTable table)
    {
        var existing = state.Table(name);
        switch (verb)
        {
            case NftVerb.Add or NftVerb.Create:
                if (existing is not null)
                {
                    return verb == NftVerb.Create ? throw Error(NftErrorKind.Exists, $"table {name} exists") : state;
                }
                var created = new NftTableState
                {
                    Ref = name,
                    Comment = table.Comment,
                    Handle = state.NextTableHandle,
                    Chains = ImmutableDictionary<string, NftChainState>.Empty.WithComparers(StringComparer.Ordinal),
                    Sets = ImmutableDictionary<string, NftSetState>.Empty.WithComparers(StringComparer.Ordinal),
                    ChainReferences = ImmutableDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal),
                    SetReferences = ImmutableDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal),
                };
                return state with { Tables = state.Tables.SetItem(name, created), NextTableHandle = state.NextTableHandle + 1 };
            case NftVerb.Delete:
                _ = existing ?? throw Error(NftErrorKind.NotFound, $"table {name} does not exist");
                return state with { Tables = state.Tables.Remove(name) };
            case NftVerb.Flush:
                var t = existing ?? throw Error(NftErrorKind.NotFound, $"table {name} does not exist");
                // flush table removes the rules of every chain; set and map elements stay (as in the kernel).
                foreach (var chain in t.Chains.Values)
                {
                    t = RemoveRules(t, chain.Name);
                }
                return state with { Tables = state.Tables.SetItem(name, t) };
            default:
                throw Error(NftErrorKind.Invalid, $"{NftValidation.Verb(verb)} is not supported for tables");
        }
    }

    private static NftTableState ApplyChain(NftTableState table, NftVerb verb, NftChain chain)
    {
        var existing = table.Chain(chain.Name);
        switch (verb)
        {
            case NftVerb.Add or NftVerb.Create:
                if (existing is null)
                {
                    var state = new NftChainState { Definition = chain, Handle = table.NextHandle, Rules = [] };
                    return table with { Chains = table.Chains.Add(chain.Name, state), NextHandle = table.NextHandle + 1 };
                }
                if (verb == NftVerb.Create)
                {
                    throw Error(NftErrorKind.Exists, $"chain {chain.Name} exists");
                }
                return UpdateChain(table, existing, chain);
            case NftVerb.Delete:
                _ = existing ?? throw Error(NftErrorKind.NotFound, $"chain {chain.Name} does not exist");
                if (table.References(chain.Name) > 0)
                {
                    throw Error(NftErrorKind.Busy, $"chain {chain.Name} is still referenced by {table.References(chain.Name)} jump/goto rule(s) or map element(s)");
                }
                table = RemoveRules(table, chain.Name);
                return table with { Chains = table.Chains.Remove(chain.Name) };
            case NftVerb.Flush:
                _ = existing ?? throw Error(NftErrorKind.NotFound, $"chain {chain.Name} does not exist");
                return RemoveRules(table, chain.Name);
            default:
                throw Error(NftErrorKind.Invalid, $"{NftValidation.Verb(verb)} is not supported for chains");
        }
    }

    private static NftTableState UpdateChain(NftTableState table, NftChainState existing, NftChain chain)
    {
        var old = existing.Definition;
        if (!chain.IsBaseChain)
        {
            return table;
        }
        if (!old.IsBaseChain)
        {
            throw Error(NftErrorKind.Exists, $"chain {chain.Name} exists as a regular chain");
        }
        if (old.Type != chain.Type)
        {
            throw Error(NftErrorKind.Exists, $"chain {chain.Name} exists with type {old.Type}");
        }
        var oldPriority = NftPriority.Parse(old.Priority!);
        var newPriority = NftPriority.Parse(chain.Priority!);
        if (old.Hook != chain.Hook || oldPriority != newPriority)
        {
            throw Error(NftErrorKind.NotSupported, $"chain {chain.Name} exists with hook {old.Hook} priority {oldPriority}; hook and priority cannot change");
        }
        if (chain.Policy is not null && chain.Policy != old.Policy)
        {
            var updated = existing with { Definition = old with { Policy = chain.Policy } };
            return table with { Chains = table.Chains.SetItem(chain.Name, updated) };
        }
        return table;
    }

    private static NftTableState ApplyRule(NftTableState table, NftVerb verb, NftRule rule, Dictionary<string, string> defines)
    {
        var chain = table.Chain(rule.Chain) ?? throw Error(NftErrorKind.NotFound, $"chain {rule.Chain} does not exist");
        var rules = chain.Rules;
        int? position = null;
        if (rule.Handle is { } handle)
        {
            position = rules.FindIndex(r => r.Handle == handle);
            if (position < 0)
            {
                throw Error(NftErrorKind.NotFound, $"no rule with handle {handle} in chain {rule.Chain}");
            }
        }
        else if (rule.Index is { } index)
        {
            if (index >= rules.Count)
            {
                throw Error(NftErrorKind.NotFound, $"chain {rule.Chain} has {rules.Count} rule(s), no index {index}");
            }
            position = index;
        }

        if (verb == NftVerb.Delete)
        {
            var victim = rules[position!.Value];
            table = Unreference(table, victim);
            return WithRules(table, chain, rules.RemoveAt(position.Value));
        }

        var text = Expand(rule.Text, defines);
        var chainRefs = ChainReferenceRegex().Matches(text).Select(m => m.Groups[1].Value).ToEquatableArray();
        var setRefs = SetReferenceRegex().Matches(text).Select(m => m.Groups[1].Value).ToEquatableArray();
        foreach (var target in chainRefs)
        {
            var targetChain = table.Chain(target) ?? throw Error(NftErrorKind.NotFound, $"rule jumps to chain {target}, which does not exist");
            if (targetChain.IsBaseChain)
            {
                throw Error(NftErrorKind.NotSupported, $"rule jumps to base chain {target}");
            }
        }
        foreach (var set in setRefs)
        {
            if (!table.Sets.ContainsKey(set))
            {
                throw Error(NftErrorKind.NotFound, $"rule references set or map @{set}, which does not exist");
            }
        }
        var state = new NftRuleState
        {
            Handle = verb == NftVerb.Replace ? rule.Handle!.Value : table.NextHandle,
            Text = text,
            Comment = rule.Comment,
            ChainReferences = chainRefs,
            SetReferences = setRefs,
        };
        if (verb != NftVerb.Replace)
        {
            table = table with { NextHandle = table.NextHandle + 1 };
        }
        switch (verb)
        {
            case NftVerb.Add:
                rules = rules.Insert(position is { } after ? after + 1 : rules.Count, state);
                break;
            case NftVerb.Insert:
                rules = rules.Insert(position ?? 0, state);
                break;
            case NftVerb.Replace:
                table = Unreference(table, rules[position!.Value]);
                rules = rules.SetItem(position.Value, state);
                break;
            default:
                throw Error(NftErrorKind.Invalid, $"{NftValidation.Verb(verb)} is not supported for rules");
        }
        table = Reference(table, state);
        return WithRules(table, table.Chains[chain.Name], rules);
    }

    private static NftTableState ApplySet(NftTableState table, NftVerb verb, NftSetBase set)
    {
        var existing = table.Sets.GetValueOrDefault(set.Name);
        var isMap = set is NftMap;
        switch (verb)
        {
            case NftVerb.Add or NftVerb.Create:
                if (existing is null)
                {
                    var (keyTypes, valueTypes) = NftTypes.Split(set);
                    var state = new NftSetState
                    {
                        Definition = set,
                        Handle = table.NextHandle,
                        KeyTypes = keyTypes.ToEquatableArray(),
                        ValueTypes = valueTypes.ToEquatableArray(),
                        Elements = ImmutableDictionary<string, NftElementState>.Empty.WithComparers(StringComparer.Ordinal),
                    };
                    return table with { Sets = table.Sets.Add(set.Name, state), NextHandle = table.NextHandle + 1 };
                }
                if (verb == NftVerb.Create)
                {
                    throw Error(NftErrorKind.Exists, $"{existing.Definition.Kind} {set.Name} exists");
                }
                var old = existing.Definition;
                if (existing.IsMap != isMap || old.Type != set.Type || old.TypeOf != set.TypeOf || !SameFlags(old, set))
                {
                    throw Error(NftErrorKind.Exists, $"{old.Kind} {set.Name} exists with a different definition");
                }
                // The kernel updates timeout and size of an existing set; the comment is kept.
                var updated = existing with { Definition = old with { Timeout = set.Timeout ?? old.Timeout, Size = set.Size ?? old.Size } };
                return table with { Sets = table.Sets.SetItem(set.Name, updated) };
            case NftVerb.Delete or NftVerb.Flush:
                if (existing is null || existing.IsMap != isMap)
                {
                    throw Error(NftErrorKind.NotFound, $"{set.Kind} {set.Name} does not exist");
                }
                if (verb == NftVerb.Delete && table.SetReferences.GetValueOrDefault(set.Name) > 0)
                {
                    throw Error(NftErrorKind.Busy, $"{set.Kind} {set.Name} is still referenced by {table.SetReferences[set.Name]} rule(s)");
                }
                foreach (var element in existing.Elements.Values)
                {
                    table = UnreferenceChain(table, element.ChainReference);
                }
                return verb == NftVerb.Delete
                    ? table with { Sets = table.Sets.Remove(set.Name) }
                    : table with { Sets = table.Sets.SetItem(set.Name, existing with { Elements = existing.Elements.Clear() }) };
            default:
                throw Error(NftErrorKind.Invalid, $"{NftValidation.Verb(verb)} is not supported for {set.Kind}s");
        }
    }

    private static bool SameFlags(NftSetBase a, NftSetBase b) =>
        a.Flags.Order(StringComparer.Ordinal).SequenceEqual(b.Flags.Order(StringComparer.Ordinal), StringComparer.Ordinal);

    private static NftTableState ApplyElement(NftTableState table, NftVerb verb, NftElement element, Dictionary<string, string> defines)
    {
        var set = table.Sets.GetValueOrDefault(element.Container)
            ?? throw Error(NftErrorKind.NotFound, $"set or map {element.Container} does not exist");
        element = element with
        {
            Key = element.Key.Select(p => Expand(p, defines)).ToEquatableArray(),
            Value = element.Value.Select(p => Expand(p, defines)).ToEquatableArray(),
        };
        if (verb != NftVerb.Delete && set.IsMap != (element.Map is not null))
        {
            throw Error(NftErrorKind.Invalid, set.IsMap ? $"{set.Name} is a map: its elements need a value" : $"{set.Name} is a set: its elements have no value");
        }
        if (element.Key.Count != set.KeyTypes.Count)
        {
            throw Error(NftErrorKind.Invalid, $"key has {element.Key.Count} part(s), {set.Name} expects {set.KeyTypes.Count} ({string.Join(" . ", set.KeyTypes)})");
        }
        var keyParts = Normalize(set, set.KeyTypes, element.Key, set.IsInterval);
        var key = string.Join(" . ", keyParts);
        var existing = set.Elements.GetValueOrDefault(key);
        if (verb == NftVerb.Delete)
        {
            _ = existing ?? throw Error(NftErrorKind.NotFound, $"{set.Name} has no element {key}");
            table = UnreferenceChain(table, existing.ChainReference);
            return WithSet(table, set with { Elements = set.Elements.Remove(key) });
        }

        string value = "";
        string? target = null;
        if (set.IsMap)
        {
            if (element.Value.Count != set.ValueTypes.Count)
            {
                throw Error(NftErrorKind.Invalid, $"value has {element.Value.Count} part(s), {set.Name} expects {set.ValueTypes.Count} ({string.Join(" . ", set.ValueTypes)})");
            }
            value = string.Join(" . ", Normalize(set, set.ValueTypes, element.Value, interval: false));
            if (set.IsVerdictMap && NftTypes.TryParseVerdict(element.Value[0], out _, out target) && target is not null)
            {
                var chain = table.Chain(target) ?? throw Error(NftErrorKind.NotFound, $"element {key} of {set.Name} targets chain {target}, which does not exist");
                if (chain.IsBaseChain)
                {
                    throw Error(NftErrorKind.NotSupported, $"element {key} of {set.Name} targets base chain {target}");
                }
            }
        }
        if (existing is not null)
        {
            if (verb == NftVerb.Create)
            {
                throw Error(NftErrorKind.Exists, $"{set.Name} already has element {key}");
            }
            if (existing.CanonicalValue != value)
            {
                throw Error(NftErrorKind.Exists, $"{set.Name} already has element {key} with value {existing.CanonicalValue}; delete it first");
            }
            return table;
        }
        if (set.IsInterval)
        {
            CheckOverlap(set, element, key);
        }
        var state = new NftElementState
        {
            Element = element,
            CanonicalKey = key,
            CanonicalParts = keyParts.ToEquatableArray(),
            CanonicalValue = value,
            ChainReference = target,
        };
        table = ReferenceChain(table, target);
        return WithSet(table, set with { Elements = set.Elements.Add(key, state) });
    }

    private static string[] Normalize(NftSetState set, EquatableArray<string> types, EquatableArray<string> parts, bool interval)
    {
        var result = new string[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            if (!NftTypes.TryNormalize(types[i], parts[i], interval, out result[i], out var error))
            {
                throw Error(NftErrorKind.Invalid, $"{set.Name}: {error}");
            }
        }
        return result;
    }

    private static void CheckOverlap(NftSetState set, NftElement element, string key)
    {
        if (set.KeyTypes.Count != 1 || set.KeyTypes[0] is not (NftTypes.Ipv4Addr or NftTypes.Ipv6Addr))
        {
            return;
        }
        var family = set.KeyTypes[0] == NftTypes.Ipv4Addr ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6;
        NftTypes.TryParseInterval(element.Key[0], family, out var start, out var end, out _);
        foreach (var other in set.Elements.Values)
        {
            NftTypes.TryParseInterval(other.Element.Key[0], family, out var s, out var e, out _);
            if (start <= e && s <= end)
            {
                throw Error(NftErrorKind.Invalid, $"{set.Name}: conflicting intervals {key} and {other.CanonicalKey}");
            }
        }
    }

    private static string Expand(string text, Dictionary<string, string> defines)
    {
        if (!text.Contains('$', StringComparison.Ordinal))
        {
            return text;
        }
        return DefineRegex().Replace(text, m => defines.TryGetValue(m.Groups[1].Value, out var v)
            ? v
            : throw Error(NftErrorKind.Invalid, $"undefined symbol ${m.Groups[1].Value}"));
    }

    private static NftTableState RemoveRules(NftTableState table, string chainName)
    {
        var chain = table.Chains[chainName];
        foreach (var rule in chain.Rules)
        {
            table = Unreference(table, rule);
        }
        return WithRules(table, chain, []);
    }

    private static NftTableState WithRules(NftTableState table, NftChainState chain, ImmutableList<NftRuleState> rules) =>
        table with { Chains = table.Chains.SetItem(chain.Name, chain with { Rules = rules }) };

    private static NftTableState WithSet(NftTableState table, NftSetState set) =>
        table with { Sets = table.Sets.SetItem(set.Name, set) };

    private static NftTableState Reference(NftTableState table, NftRuleState rule)
    {
        foreach (var chain in rule.ChainReferences)
        {
            table = ReferenceChain(table, chain);
        }
        var sets = table.SetReferences;
        foreach (var set in rule.SetReferences)
        {
            sets = sets.SetItem(set, sets.GetValueOrDefault(set) + 1);
        }
        return table with { SetReferences = sets };
    }

    private static NftTableState Unreference(NftTableState table, NftRuleState rule)
    {
        foreach (var chain in rule.ChainReferences)
        {
            table = UnreferenceChain(table, chain);
        }
        var sets = table.SetReferences;
        foreach (var set in rule.SetReferences)
        {
            var n = sets.GetValueOrDefault(set) - 1;
            sets = n > 0 ? sets.SetItem(set, n) : sets.Remove(set);
        }
        return table with { SetReferences = sets };
    }

    private static NftTableState ReferenceChain(NftTableState table, string? chain) =>
        chain is null ? table : table with { ChainReferences = table.ChainReferences.SetItem(chain, table.References(chain) + 1) };

    private static NftTableState UnreferenceChain(NftTableState table, string? chain)
    {
        if (chain is null)
        {
            return table;
        }
        var n = table.References(chain) - 1;
        return table with { ChainReferences = n > 0 ? table.ChainReferences.SetItem(chain, n) : table.ChainReferences.Remove(chain) };
    }

    private static NftablesException Error(NftErrorKind kind, string message) => new(kind, message);
}
