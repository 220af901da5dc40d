using System.Text;

namespace Switchboard.Agnhost.Cli;

/// <summary>One subcommand and how to run it.</summary>
internal sealed record Command(CommandSpec Spec, Func<ParsedArgs, Task<int>> RunAsync);

/// <summary>
/// cobra-like front end: `[agnhost|/agnhost] <subcommand> [flags] [args]`. Usage errors print cobra's
/// "Error: ..." plus the usage on stderr and exit 2 (upstream ignores Execute's error and exits 0; the
/// Switchboard rule is that a bad flag exits 2).
/// </summary>
internal sealed class CommandLine(IReadOnlyList<Command> commands, TextWriter stdout, TextWriter stderr)
{
    public const int UsageExitCode = 2;

    public async Task<int> RunAsync(IReadOnlyList<string> argv)
    {
        var args = new List<string>(argv);
        if (args.Count > 0 && (args[0] == "agnhost" || args[0].EndsWith("/agnhost", StringComparison.Ordinal)))
        {
            args.RemoveAt(0);
        }

        if (args.Count == 0)
        {
            await stderr.WriteAsync(RootUsage()).ConfigureAwait(false);
            return UsageExitCode;
        }

        var name = args[0];
        if (name is "-h" or "--help" or "help")
        {
            await stdout.WriteAsync(RootUsage()).ConfigureAwait(false);
            return 0;
        }

        if (name == "--version")
        {
            await stdout.WriteLineAsync("app version 2.53 (switchboard-agnhost)").ConfigureAwait(false);
            return 0;
        }

        Command? command = null;
        foreach (var c in commands)
        {
            if (c.Spec.Name == name)
            {
                command = c;
            }
        }

        if (command is null)
        {
            await stderr.WriteAsync("Error: unknown command \"" + name + "\" for \"app\"\nRun 'app --help' for usage.\n").ConfigureAwait(false);
            return UsageExitCode;
        }

        ParsedArgs parsed;
        try
        {
            parsed = ArgParser.Parse(command.Spec, args.GetRange(1, args.Count - 1));
        }
        catch (UsageException e)
        {
            await stderr.WriteAsync("Error: " + e.Message + "\n" + Usage(command.Spec)).ConfigureAwait(false);
            return UsageExitCode;
        }

        if (parsed.Help)
        {
            await stdout.WriteAsync(command.Spec.Short + "\n\n" + Usage(command.Spec)).ConfigureAwait(false);
            return 0;
        }

        return await command.RunAsync(parsed).ConfigureAwait(false);
    }

    public string RootUsage()
    {
        var sb = new StringBuilder("Usage:\n  app [command]\n\nAvailable Commands:\n");
        foreach (var c in commands)
        {
            sb.Append("  ").Append(c.Spec.Name.PadRight(16)).Append(c.Spec.Short).Append('\n');
        }

        sb.Append("\nFlags:\n  -h, --help      help for app\n      --version   version for app\n\n");
        sb.Append("Use \"app [command] --help\" for more information about a command.\n");
        return sb.ToString();
    }

    public static string Usage(CommandSpec spec)
    {
        var sb = new StringBuilder("Usage:\n  ").Append(spec.Use).Append("\n\nFlags:\n");
        foreach (var f in spec.Flags)
        {
            var kind = f.Kind switch
            {
                FlagKind.Int => " int",
                FlagKind.String => " string",
                FlagKind.Duration => " duration",
                _ => string.Empty,
            };
            var left = "      --" + f.Name + kind;
            var defaultText = f.Kind == FlagKind.Bool
                ? (f.Default == "true" ? " (default true)" : string.Empty)
                : f.Default.Length > 0 ? " (default " + (f.Kind == FlagKind.String ? "\"" + f.Default + "\"" : f.Default) + ")" : string.Empty;
            sb.Append(left.PadRight(34)).Append(f.Usage).Append(defaultText).Append('\n');
        }

        sb.Append("  -h, --help".PadRight(34)).Append("help for ").Append(spec.Name).Append('\n');
        return sb.ToString();
    }
}
