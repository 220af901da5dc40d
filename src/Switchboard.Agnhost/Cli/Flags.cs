using System.Globalization;

namespace Switchboard.Agnhost.Cli;

internal enum FlagKind
{
    Bool,
    Int,
    String,
    Duration,
}

internal sealed record FlagSpec(string Name, FlagKind Kind, string Default, string Usage, char Shorthand = '\0');

/// <summary>One subcommand: its cobra-style names, flags and positional-argument bounds.</summary>
internal sealed record CommandSpec(string Name, string Use, string Short, IReadOnlyList<FlagSpec> Flags, int MinArgs, int MaxArgs)
{
    public FlagSpec? Find(string name)
    {
        foreach (var flag in Flags)
        {
            if (flag.Name == name)
            {
                return flag;
            }
        }

        return null;
    }

    public FlagSpec? FindShorthand(char c)
    {
        foreach (var flag in Flags)
        {
            if (flag.Shorthand == c)
            {
                return flag;
            }
        }

        return null;
    }
}

/// <summary>A usage error: cobra prints "Error: msg" plus the usage; we exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message)
{
    public UsageException()
        : this("usage error")
    {
    }

    public UsageException(string message, Exception inner)
        : this(message + ": " + inner.Message)
    {
    }
}

/// <summary>Parsed flag values (defaults filled in) and positional arguments.</summary>
internal sealed class ParsedArgs
{
    private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);

    public ParsedArgs(CommandSpec spec)
    {
        Spec = spec;
        foreach (var flag in spec.Flags)
        {
            values[flag.Name] = flag.Default;
        }
    }

    public CommandSpec Spec { get; }

    public List<string> Positionals { get; } = [];

    public HashSet<string> Changed { get; } = new(StringComparer.Ordinal);

    public bool Help { get; set; }

    public void Set(string name, string value)
    {
        values[name] = value;
        Changed.Add(name);
    }

    public string GetString(string name) => values[name];

    public int GetInt(string name) => int.Parse(values[name], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    public bool GetBool(string name) => GoParse.TryParseBool(values[name], out var b) && b;

    public TimeSpan GetDuration(string name) => GoDuration.TryParse(values[name], out var d) ? d : TimeSpan.Zero;
}

/// <summary>Go strconv-style parsing used for flag values.</summary>
internal static class GoParse
{
    public static bool TryParseBool(string s, out bool value)
    {
        switch (s)
        {
            case "1" or "t" or "T" or "TRUE" or "true" or "True":
                value = true;
                return true;
            case "0" or "f" or "F" or "FALSE" or "false" or "False":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>strconv.Atoi: optional sign and decimal digits only.</summary>
    public static bool TryParseInt(string s, out int value) =>
        int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value)
        && s.Length > 0 && !char.IsWhiteSpace(s[0]) && !char.IsWhiteSpace(s[^1]);
}
