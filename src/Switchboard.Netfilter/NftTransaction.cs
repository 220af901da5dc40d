using System.Collections.Immutable;

namespace Switchboard.Netfilter;

/// <summary>What an operation does. Add is idempotent for tables, chains, sets, maps and equal elements; Create fails if the object exists.</summary>
internal enum NftVerb
{
    Add,
    Create,
    Insert,
    Replace,
    Delete,
    Flush,
}

/// <summary>One line of a transaction: a verb applied to an object in a table.</summary>
internal sealed record NftOperation(NftVerb Verb, NftTableRef Table, NftObject Object);

/// <summary>
/// An ordered, validated list of operations that nft applies atomically (all or nothing), plus <c>define</c>s
/// (<c>$NAME</c> in rule text and element parts). Build it with <see cref="NftTransactionBuilder"/>.
/// </summary>
internal sealed class NftTransaction
{
    internal NftTransaction(ImmutableArray<NftOperation> operations, ImmutableArray<KeyValuePair<string, string>> defines)
    {
        Operations = operations;
        Defines = defines;
    }

    public static NftTransaction Empty { get; } = new([], []);

    public ImmutableArray<NftOperation> Operations { get; }

    public ImmutableArray<KeyValuePair<string, string>> Defines { get; }

    public int Count => Operations.Length;

    /// <summary>The <c>nft -f</c> script for this transaction.</summary>
    public override string ToString() => NftScript.Write(this);
}

/// <summary>
/// Collects operations for one transaction. Every call validates its object and throws
/// <see cref="ArgumentException"/> with a clear message for invalid input (so a bad object is found where it is
/// made, not as an nft syntax error later). Operations go to the current table (<see cref="UseTable"/>).
/// </summary>
internal sealed class NftTransactionBuilder
{
    private readonly ImmutableArray<NftOperation>.Builder _operations = ImmutableArray.CreateBuilder<NftOperation>();
    private readonly ImmutableArray<KeyValuePair<string, string>>.Builder _defines = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();

    public NftTransactionBuilder(NftTableRef table)
    {
        NftValidation.ValidateName(table.Name, "table");
        Table = table;
    }

    public NftTransactionBuilder(NftFamily family, string table)
        : this(new NftTableRef(family, table))
    {
    }

    /// <summary>The table that following operations go to.</summary>
    public NftTableRef Table { get; private set; }

    public int Count => _operations.Count;

    /// <summary>Switches the table for the following operations (e.g. from <c>ip t</c> to <c>ip6 t</c>) in the same atomic transaction.</summary>
    public NftTransactionBuilder UseTable(NftTableRef table)
    {
        NftValidation.ValidateName(table.Name, "table");
        Table = table;
        return this;
    }

    /// <summary>Adds <c>define NAME = VALUE</c>; rule text and element parts may use <c>$NAME</c>.</summary>
    public NftTransactionBuilder Define(string name, string value)
    {
        if (string.IsNullOrEmpty(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || !char.IsAsciiLetter(name[0]))
        {
            throw new ArgumentException($"invalid define name \"{name}\": letters, digits and _ only, starting with a letter", nameof(name));
        }
        NftValidation.ValidatePart(value, "define value");
        foreach (var d in _defines)
        {
            if (d.Key == name)
            {
                throw new ArgumentException($"define {name} is already defined", nameof(name));
            }
        }
        _defines.Add(new(name, value));
        return this;
    }

    public NftTransactionBuilder Add(NftObject obj) => Append(NftVerb.Add, obj);

    public NftTransactionBuilder Create(NftObject obj) => Append(NftVerb.Create, obj);

    public NftTransactionBuilder Insert(NftObject obj) => Append(NftVerb.Insert, obj);

    public NftTransactionBuilder Replace(NftObject obj) => Append(NftVerb.Replace, obj);

    public NftTransactionBuilder Delete(NftObject obj) => Append(NftVerb.Delete, obj);

    public NftTransactionBuilder Flush(NftObject obj) => Append(NftVerb.Flush, obj);

    /// <summary>Appends an operation with any verb (validated like the named methods).</summary>
    public NftTransactionBuilder Append(NftVerb verb, NftObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        NftValidation.Validate(verb, obj);
        _operations.Add(new NftOperation(verb, Table, obj));
        return this;
    }

    public NftTransaction Build() => new(_operations.ToImmutable(), _defines.ToImmutable());
}
