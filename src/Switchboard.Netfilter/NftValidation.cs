using System.Text;

namespace Switchboard.Netfilter;

/// <summary>Checks objects before they become nft text: which verbs an object kind supports, names, comments, parts.</summary>
internal static class NftValidation
{
    /// <summary>nft comments are limited to 128 bytes (NFT_USERDATA_MAXLEN for comments).</summary>
    public const int MaxCommentBytes = 128;

    /// <summary>Object names are at most 255 bytes (NFT_NAME_MAXLEN 256 with the terminator).</summary>
    public const int MaxNameLength = 255;

    public static void Validate(NftVerb verb, NftObject obj)
    {
        switch (obj)
        {
            case NftTable table:
                RequireVerb(verb, obj, NftVerb.Add, NftVerb.Create, NftVerb.Delete, NftVerb.Flush);
                ValidateComment(table.Comment);
                break;
            case NftChain chain:
                RequireVerb(verb, obj, NftVerb.Add, NftVerb.Create, NftVerb.Delete, NftVerb.Flush);
                ValidateName(chain.Name, "chain");
                ValidateChain(chain);
                ValidateComment(chain.Comment);
                break;
            case NftRule rule:
                ValidateRule(verb, rule);
                break;
            case NftSetBase set:
                RequireVerb(verb, obj, NftVerb.Add, NftVerb.Create, NftVerb.Delete, NftVerb.Flush);
                ValidateName(set.Name, set.Kind);
                ValidateSet(verb, set);
                ValidateComment(set.Comment);
                break;
            case NftElement element:
                RequireVerb(verb, obj, NftVerb.Add, NftVerb.Create, NftVerb.Delete);
                ValidateElement(verb, element);
                break;
            default:
                throw new ArgumentException("unknown nftables object " + obj.GetType().Name, nameof(obj));
        }
    }

    public static void ValidateName(string name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"{what} name must not be empty");
        }
        if (name.Length > MaxNameLength)
        {
            throw new ArgumentException($"{what} name \"{name}\" is longer than {MaxNameLength} characters");
        }
        // nft's scanner: an identifier starts with a letter, _ or . and continues with letters, digits, / - _ .
        var first = name[0];
        if (!(char.IsAsciiLetter(first) || first == '_' || first == '.'))
        {
            throw new ArgumentException($"{what} name \"{name}\" must start with a letter, _ or .");
        }
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '.'))
            {
                throw new ArgumentException($"{what} name \"{name}\" contains '{c}'; allowed are letters, digits, / - _ .");
            }
        }
    }

    public static void ValidateComment(string? comment)
    {
        if (comment is null)
        {
            return;
        }
        // nft has no escape for a double quote inside a quoted string, and a newline would end the command.
        if (comment.Contains('"', StringComparison.Ordinal) || comment.Contains('\n', StringComparison.Ordinal) || comment.Contains('\r', StringComparison.Ordinal))
        {
            throw new ArgumentException($"comment \"{comment}\" must not contain a double quote or a line break");
        }
        if (Encoding.UTF8.GetByteCount(comment) > MaxCommentBytes)
        {
            throw new ArgumentException($"comment \"{comment}\" is longer than {MaxCommentBytes} bytes");
        }
    }

    /// <summary>A key or value part, or define value: one token group without command separators.</summary>
    public static void ValidatePart(string part, string what)
    {
        if (string.IsNullOrWhiteSpace(part))
        {
            throw new ArgumentException($"{what} must not be empty");
        }
        foreach (var c in part)
        {
            if (c is '\n' or '\r' or ';' or '"' or '{' or '}' or ',' or '#')
            {
                throw new ArgumentException($"{what} \"{part}\" contains '{Escape(c)}', which nft would read as a separator");
            }
        }
        if (part.Contains(" . ", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{what} \"{part}\" contains \" . \"; pass concatenation parts separately");
        }
    }

    private static void ValidateChain(NftChain chain)
    {
        if (chain.Hook is null)
        {
            if (chain.Type is not null || chain.Priority is not null || chain.Policy is not null)
            {
                throw new ArgumentException($"regular chain \"{chain.Name}\" must not specify type, priority or policy (set Hook for a base chain)");
            }
            return;
        }
        if (chain.Type is null || chain.Priority is null)
        {
            throw new ArgumentException($"base chain \"{chain.Name}\" must specify type, hook and priority");
        }
        if (chain.Type is not (NftChainType.Filter or NftChainType.Nat or NftChainType.Route))
        {
            throw new ArgumentException($"base chain \"{chain.Name}\": unknown type \"{chain.Type}\" (filter, nat, route)");
        }
        if (chain.Hook is not (NftHook.Prerouting or NftHook.Input or NftHook.Forward or NftHook.Output or NftHook.Postrouting))
        {
            throw new ArgumentException($"base chain \"{chain.Name}\": unknown hook \"{chain.Hook}\" (prerouting, input, forward, output, postrouting)");
        }
        if (!NftPriority.TryParse(chain.Priority, out _))
        {
            throw new ArgumentException($"base chain \"{chain.Name}\": bad priority \"{chain.Priority}\" (a number or raw, mangle, dstnat, filter, security, srcnat with an optional +/- offset)");
        }
        if (chain.Policy is not null and not ("accept" or "drop"))
        {
            throw new ArgumentException($"base chain \"{chain.Name}\": policy must be accept or drop, not \"{chain.Policy}\"");
        }
    }

    private static void ValidateRule(NftVerb verb, NftRule rule)
    {
        RequireVerb(verb, rule, NftVerb.Add, NftVerb.Insert, NftVerb.Replace, NftVerb.Delete);
        ValidateName(rule.Chain, "chain");
        ValidateComment(rule.Comment);
        if (rule.Index is not null && rule.Handle is not null)
        {
            throw new ArgumentException($"rule in chain \"{rule.Chain}\": cannot specify both index and handle");
        }
        if (rule.Index is < 0)
        {
            throw new ArgumentException($"rule in chain \"{rule.Chain}\": index must not be negative");
        }
        if (verb is NftVerb.Replace or NftVerb.Delete && rule.Handle is null)
        {
            throw new ArgumentException($"{Verb(verb)} rule in chain \"{rule.Chain}\" needs a handle");
        }
        if (verb == NftVerb.Delete)
        {
            return;
        }
        if (string.IsNullOrWhiteSpace(rule.Text))
        {
            throw new ArgumentException($"{Verb(verb)} rule in chain \"{rule.Chain}\": rule text must not be empty");
        }
        foreach (var c in rule.Text)
        {
            if (c is '\n' or '\r' or ';' or '#')
            {
                throw new ArgumentException($"rule \"{rule.Text}\" contains '{Escape(c)}', which would end the nft command");
            }
        }
    }

    private static void ValidateSet(NftVerb verb, NftSetBase set)
    {
        if (verb is not (NftVerb.Add or NftVerb.Create))
        {
            return;
        }
        if ((set.Type is null) == (set.TypeOf is null))
        {
            throw new ArgumentException($"{set.Kind} \"{set.Name}\" must specify exactly one of type and typeof");
        }
        var type = set.Type ?? set.TypeOf!;
        ValidateTypeText(set, type);
        var isMapType = type.Contains(" : ", StringComparison.Ordinal);
        if (set is NftMap && !isMapType)
        {
            throw new ArgumentException($"map \"{set.Name}\" type \"{type}\" needs \"key : value\"");
        }
        if (set is NftSet && isMapType)
        {
            throw new ArgumentException($"set \"{set.Name}\" type \"{type}\" must not have a \" : value\" part (use a map)");
        }
        foreach (var flag in set.Flags)
        {
            if (flag is not (NftSetFlags.Interval or NftSetFlags.Timeout or NftSetFlags.Dynamic or NftSetFlags.Constant))
            {
                throw new ArgumentException($"{set.Kind} \"{set.Name}\": unknown flag \"{flag}\" (interval, timeout, dynamic, constant)");
            }
        }
        if (set.Timeout is { } timeout && (timeout < TimeSpan.FromSeconds(1) || timeout.Ticks % TimeSpan.TicksPerSecond != 0))
        {
            throw new ArgumentException($"{set.Kind} \"{set.Name}\": timeout must be whole seconds, at least 1s");
        }
        if (set.Size is <= 0)
        {
            throw new ArgumentException($"{set.Kind} \"{set.Name}\": size must be positive");
        }
    }

    private static void ValidateTypeText(NftSetBase set, string type)
    {
        foreach (var c in type)
        {
            if (c is '\n' or '\r' or ';' or '"' or '{' or '}' or '#')
            {
                throw new ArgumentException($"{set.Kind} \"{set.Name}\" type \"{type}\" contains '{Escape(c)}'");
            }
        }
    }

    private static void ValidateElement(NftVerb verb, NftElement element)
    {
        if ((element.Set is null) == (element.Map is null))
        {
            throw new ArgumentException("element must name exactly one of set and map");
        }
        ValidateName(element.Container, element.Set is null ? "map" : "set");
        if (element.Key.IsEmpty)
        {
            throw new ArgumentException($"element of {element.Container} has no key");
        }
        foreach (var part in element.Key)
        {
            ValidatePart(part, $"key part of an element of {element.Container}");
        }
        foreach (var part in element.Value)
        {
            ValidatePart(part, $"value part of an element of {element.Container}");
        }
        if (element.Set is not null && !element.Value.IsEmpty)
        {
            throw new ArgumentException($"element of set {element.Set} must not have a value (is it a map?)");
        }
        if (element.Map is not null && verb is NftVerb.Add or NftVerb.Create && element.Value.IsEmpty)
        {
            throw new ArgumentException($"element of map {element.Map} needs a value");
        }
        ValidateComment(element.Comment);
    }

    private static void RequireVerb(NftVerb verb, NftObject obj, params NftVerb[] allowed)
    {
        if (Array.IndexOf(allowed, verb) < 0)
        {
            throw new ArgumentException($"{Verb(verb)} is not supported for {obj.Kind}s (supported: {string.Join(", ", allowed.Select(Verb))})");
        }
    }

    internal static string Verb(NftVerb verb) => verb switch
    {
        NftVerb.Add => "add",
        NftVerb.Create => "create",
        NftVerb.Insert => "insert",
        NftVerb.Replace => "replace",
        NftVerb.Delete => "delete",
        NftVerb.Flush => "flush",
        _ => throw new ArgumentOutOfRangeException(nameof(verb), verb, "unknown verb"),
    };

    private static string Escape(char c) => c switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        _ => c.ToString(),
    };
}
