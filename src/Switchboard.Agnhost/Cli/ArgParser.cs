namespace Switchboard.Agnhost.Cli;

/// <summary>
/// pflag-compatible parsing: --name=value, --name value (non-bool), --bool, -x shorthand, "--" ends flags,
/// flags and positionals may interleave. klog's global flags are accepted and ignored as upstream tests pass them.
/// </summary>
internal static class ArgParser
{
    /// <summary>klog flags agnhost registers on its root command (names as pflag shows them).</summary>
    private static readonly FlagSpec[] KlogFlags =
    [
        new("add_dir_header", FlagKind.Bool, "false", "klog"),
        new("alsologtostderr", FlagKind.Bool, "false", "klog"),
        new("log_backtrace_at", FlagKind.String, ":0", "klog"),
        new("log_dir", FlagKind.String, "", "klog"),
        new("log_file", FlagKind.String, "", "klog"),
        new("log_file_max_size", FlagKind.String, "1800", "klog"),
        new("logtostderr", FlagKind.Bool, "true", "klog"),
        new("one_output", FlagKind.Bool, "false", "klog"),
        new("skip_headers", FlagKind.Bool, "false", "klog"),
        new("skip_log_headers", FlagKind.Bool, "false", "klog"),
        new("stderrthreshold", FlagKind.String, "2", "klog"),
        new("v", FlagKind.String, "0", "klog", 'v'),
        new("vmodule", FlagKind.String, "", "klog"),
    ];

    public static ParsedArgs Parse(CommandSpec spec, IReadOnlyList<string> args)
    {
        var parsed = new ParsedArgs(spec);
        var onlyPositionals = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (onlyPositionals || arg.Length < 2 || arg[0] != '-')
            {
                parsed.Positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositionals = true;
                continue;
            }

            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                i = ParseLong(spec, parsed, args, i);
            }
            else
            {
                i = ParseShort(spec, parsed, args, i);
            }
        }

        if (parsed.Help)
        {
            return parsed;
        }

        // cobra's ExactArgs / MaximumNArgs messages.
        var n = parsed.Positionals.Count;
        if (spec.MinArgs == spec.MaxArgs && spec.MaxArgs > 0 && n != spec.MinArgs)
        {
            throw new UsageException($"accepts {spec.MinArgs} arg(s), received {n}");
        }

        if (n > spec.MaxArgs)
        {
            throw new UsageException($"accepts at most {spec.MaxArgs} arg(s), received {n}");
        }

        return parsed;
    }

    private static FlagSpec? Lookup(CommandSpec spec, string name)
    {
        var flag = spec.Find(name);
        if (flag is not null)
        {
            return flag;
        }

        // pflag normalises nothing, but klog flags are registered with underscores; accept dashes too.
        var normalized = name.Replace('-', '_');
        foreach (var k in KlogFlags)
        {
            if (k.Name == normalized)
            {
                return k;
            }
        }

        return null;
    }

    private static int ParseLong(CommandSpec spec, ParsedArgs parsed, IReadOnlyList<string> args, int i)
    {
        var body = args[i][2..];
        var eq = body.IndexOf('=', StringComparison.Ordinal);
        var name = eq >= 0 ? body[..eq] : body;
        if (name.Length == 0 || name[0] == '-' || name[0] == '=')
        {
            throw new UsageException($"bad flag syntax: {args[i]}");
        }

        if (name == "help")
        {
            parsed.Help = true;
            return i;
        }

        var flag = Lookup(spec, name) ?? throw new UsageException($"unknown flag: --{name}");
        string value;
        if (eq >= 0)
        {
            value = body[(eq + 1)..];
        }
        else if (flag.Kind == FlagKind.Bool)
        {
            value = "true";
        }
        else if (i + 1 < args.Count)
        {
            value = args[++i];
        }
        else
        {
            throw new UsageException($"flag needs an argument: --{name}");
        }

        Assign(parsed, flag, "--" + flag.Name, value);
        return i;
    }

    private static int ParseShort(CommandSpec spec, ParsedArgs parsed, IReadOnlyList<string> args, int i)
    {
        var shorthands = args[i][1..];
        for (var j = 0; j < shorthands.Length; j++)
        {
            var c = shorthands[j];
            if (c == 'h')
            {
                parsed.Help = true;
                continue;
            }

            var flag = spec.FindShorthand(c) ?? (c == 'v' ? Lookup(spec, "v") : null)
                ?? throw new UsageException($"unknown shorthand flag: '{c}' in {args[i]}");
            string value;
            if (j + 1 < shorthands.Length && shorthands[j + 1] == '=')
            {
                value = shorthands[(j + 2)..];
            }
            else if (flag.Kind == FlagKind.Bool)
            {
                value = "true";
                Assign(parsed, flag, "-" + c, value);
                continue;
            }
            else if (j + 1 < shorthands.Length)
            {
                value = shorthands[(j + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw new UsageException($"flag needs an argument: '{c}' in -{c}");
            }

            Assign(parsed, flag, "-" + c, value);
            return i;
        }

        return i;
    }

    private static void Assign(ParsedArgs parsed, FlagSpec flag, string shownName, string value)
    {
        switch (flag.Kind)
        {
            case FlagKind.Bool when !GoParse.TryParseBool(value, out _):
                throw new UsageException($"invalid argument \"{value}\" for \"{shownName}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax");
            case FlagKind.Int when !GoParse.TryParseInt(value, out _):
                throw new UsageException($"invalid argument \"{value}\" for \"{shownName}\" flag: strconv.ParseInt: parsing \"{value}\": invalid syntax");
            case FlagKind.Duration when !GoDuration.TryParse(value, out _):
                throw new UsageException($"invalid argument \"{value}\" for \"{shownName}\" flag: time: invalid duration \"{value}\"");
        }

        if (parsed.Spec.Find(flag.Name) is not null)
        {
            parsed.Set(flag.Name, value);
        }
    }
}
