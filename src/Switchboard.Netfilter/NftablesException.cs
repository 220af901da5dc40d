namespace Switchboard.Netfilter;

/// <summary>Why nft refused a transaction; the fake reports the same kind as the kernel would.</summary>
internal enum NftErrorKind
{
    /// <summary>Syntax, type or value errors found by nft before the kernel (bad key arity, bad address...).</summary>
    Invalid,

    /// <summary>ENOENT: the object (table, chain, set, element, rule handle) does not exist.</summary>
    NotFound,

    /// <summary>EEXIST: create of an existing object, add of an element with a different value, a set/map redefined with another type.</summary>
    Exists,

    /// <summary>EBUSY: delete of a chain, set or map that a rule or a verdict element still references.</summary>
    Busy,

    /// <summary>EOPNOTSUPP: e.g. a base chain re-added with a different hook or priority.</summary>
    NotSupported,

    /// <summary>nft could not be run, or failed in a way not classified above.</summary>
    Other,
}

/// <summary>nft (or the fake) rejected a transaction or a listing. Nothing of the transaction was applied.</summary>
internal sealed class NftablesException : Exception
{
    public NftablesException(NftErrorKind kind, string message, string? stderr = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Stderr = stderr;
    }

    public NftablesException()
        : this(NftErrorKind.Other, "nftables error")
    {
    }

    public NftablesException(string message)
        : this(NftErrorKind.Other, message)
    {
    }

    public NftablesException(string message, Exception inner)
        : this(NftErrorKind.Other, message, null, inner)
    {
    }

    public NftErrorKind Kind { get; }

    /// <summary>nft's stderr for the real runner (null for the fake).</summary>
    public string? Stderr { get; }

    public bool IsNotFound => Kind == NftErrorKind.NotFound;

    /// <summary>Classifies nft's stderr by the errno text the kernel reported (the first error wins).</summary>
    public static NftErrorKind Classify(string stderr)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        var kinds = new (string Text, NftErrorKind Kind)[]
        {
            ("No such file or directory", NftErrorKind.NotFound),
            ("File exists", NftErrorKind.Exists),
            ("Device or resource busy", NftErrorKind.Busy),
            ("Operation not supported", NftErrorKind.NotSupported),
        };
        var best = NftErrorKind.Invalid;
        var bestIndex = int.MaxValue;
        foreach (var (text, kind) in kinds)
        {
            var i = stderr.IndexOf(text, StringComparison.Ordinal);
            if (i >= 0 && i < bestIndex)
            {
                best = kind;
                bestIndex = i;
            }
        }
        if (best == NftErrorKind.Invalid && !stderr.Contains("Error:", StringComparison.Ordinal))
        {
            return NftErrorKind.Other;
        }
        return best;
    }
}
