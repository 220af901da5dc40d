using System.Globalization;

namespace Switchboard.Netfilter;

/// <summary>
/// An nftables object a transaction operates on. Objects do not carry their table: the operation does
/// (<see cref="NftOperation.Table"/>), so the same object values can be written to the <c>ip</c> and <c>ip6</c> tables.
/// </summary>
internal abstract record NftObject
{
    private protected NftObject()
    {
    }

    /// <summary>The nft keyword of the object kind: table, chain, rule, set, map, element.</summary>
    public abstract string Kind { get; }
}

/// <summary>The table itself (<c>add table ip kube-proxy { comment "..." ; }</c>).</summary>
internal sealed record NftTable : NftObject
{
    public string? Comment { get; init; }

    public override string Kind => "table";
}

/// <summary>
/// A chain. A base chain has <see cref="Type"/>, <see cref="Hook"/> and <see cref="Priority"/> (all three or none);
/// a regular chain is only reached by jump/goto. Names may contain <c>/</c> (as kube-proxy's per-service chains do).
/// </summary>
internal sealed record NftChain : NftObject
{
    public required string Name { get; init; }

    /// <summary><see cref="NftChainType"/>: filter, nat, route.</summary>
    public string? Type { get; init; }

    /// <summary><see cref="NftHook"/>: prerouting, input, forward, output, postrouting.</summary>
    public string? Hook { get; init; }

    /// <summary>A number or a named priority with an optional offset, e.g. <c>dstnat</c>, <c>dstnat-10</c>, <c>-100</c>.</summary>
    public string? Priority { get; init; }

    /// <summary>Base chain policy: accept (default) or drop.</summary>
    public string? Policy { get; init; }

    public string? Comment { get; init; }

    public bool IsBaseChain => Hook is not null;

    public override string Kind => "chain";
}

/// <summary>
/// A rule in nft syntax (<see cref="Text"/>, e.g. <c>ip daddr . meta l4proto . th dport vmap @service-ips</c>).
/// <see cref="Index"/> (0-based position) or <see cref="Handle"/> places Add (after) and Insert (before); Replace
/// and Delete need <see cref="Handle"/>.
/// </summary>
internal sealed record NftRule : NftObject
{
    public required string Chain { get; init; }

    /// <summary>The rule text without the comment. Empty only for Delete.</summary>
    public string Text { get; init; } = "";

    public string? Comment { get; init; }

    public int? Index { get; init; }

    public ulong? Handle { get; init; }

    public override string Kind => "rule";
}

/// <summary>Properties shared by sets and maps.</summary>
internal abstract record NftSetBase : NftObject
{
    public required string Name { get; init; }

    /// <summary>Key type (set) or <c>key : value</c> type (map), e.g. <c>ipv4_addr . inet_proto . inet_service : verdict</c>.</summary>
    public string? Type { get; init; }

    /// <summary>Alternative to <see cref="Type"/>: <c>typeof ip daddr . meta l4proto . th dport : verdict</c> (without "typeof").</summary>
    public string? TypeOf { get; init; }

    /// <summary><see cref="NftSetFlags"/>: interval, timeout, dynamic, constant.</summary>
    public EquatableArray<string> Flags { get; init; } = [];

    /// <summary>Default element timeout; written in whole seconds.</summary>
    public TimeSpan? Timeout { get; init; }

    public long? Size { get; init; }

    public string? Comment { get; init; }

    public bool HasFlag(string flag) => Flags.Contains(flag, StringComparer.Ordinal);
}

/// <summary>A named set (<c>add set ip t cluster-ips { type ipv4_addr ; }</c>).</summary>
internal sealed record NftSet : NftSetBase
{
    public override string Kind => "set";
}

/// <summary>A named map; verdict maps have value type <c>verdict</c> (<c>goto X</c>, <c>jump X</c>, <c>drop</c>...).</summary>
internal sealed record NftMap : NftSetBase
{
    public override string Kind => "map";
}

/// <summary>
/// An element of a set (<see cref="Set"/>) or a map (<see cref="Map"/>); exactly one is set. <see cref="Key"/> holds
/// the parts of a concatenated key (<c>["10.96.0.10", "udp", "53"]</c>), <see cref="Value"/> the parts of a map value
/// (<c>["goto service-X"]</c> or <c>["10.244.1.5", "8080"]</c>); Delete needs only the key.
/// </summary>
internal sealed record NftElement : NftObject
{
    public string? Set { get; init; }

    public string? Map { get; init; }

    public required EquatableArray<string> Key { get; init; }

    public EquatableArray<string> Value { get; init; } = [];

    public string? Comment { get; init; }

    /// <summary>The set or map this element belongs to.</summary>
    public string Container => Set ?? Map ?? "";

    public override string Kind => "element";
}

/// <summary>Base chain types.</summary>
internal static class NftChainType
{
    public const string Filter = "filter";
    public const string Nat = "nat";
    public const string Route = "route";
}

/// <summary>Base chain hooks (ip, ip6, inet).</summary>
internal static class NftHook
{
    public const string Prerouting = "prerouting";
    public const string Input = "input";
    public const string Forward = "forward";
    public const string Output = "output";
    public const string Postrouting = "postrouting";
}

/// <summary>Set flags.</summary>
internal static class NftSetFlags
{
    public const string Interval = "interval";
    public const string Timeout = "timeout";
    public const string Dynamic = "dynamic";
    public const string Constant = "constant";
}

/// <summary>
/// Named base-chain priorities of the ip/ip6/inet families. Names are turned into numbers when written, because
/// older nft releases reject some names in some hooks (e.g. <c>dstnat</c> in output).
/// </summary>
internal static class NftPriority
{
    public const string Raw = "raw";
    public const string Mangle = "mangle";
    public const string DstNat = "dstnat";
    public const string Filter = "filter";
    public const string Security = "security";
    public const string SrcNat = "srcnat";

    /// <summary>The number of a validated priority (throws <see cref="ArgumentException"/> for an invalid one).</summary>
    public static int Parse(string priority) =>
        TryParse(priority, out var value) ? value : throw new ArgumentException($"bad priority \"{priority}\"", nameof(priority));

    /// <summary>Parses <c>-100</c>, <c>dstnat</c>, <c>dstnat-10</c>, <c>dstnat + 10</c> to a number.</summary>
    public static bool TryParse(string priority, out int value)
    {
        value = 0;
        var text = priority.Replace(" ", "", StringComparison.Ordinal);
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }
        var split = text.IndexOfAny(['+', '-']);
        var name = split < 0 ? text : text[..split];
        int offset = 0;
        if (split >= 0 && !int.TryParse(text[split..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out offset))
        {
            return false;
        }
        int? baseValue = name switch
        {
            Raw => -300,
            Mangle => -150,
            DstNat => -100,
            Filter => 0,
            Security => 50,
            SrcNat => 100,
            _ => null,
        };
        if (baseValue is null)
        {
            return false;
        }
        value = baseValue.Value + offset;
        return true;
    }
}
