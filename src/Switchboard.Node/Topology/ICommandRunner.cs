using System.Diagnostics;

namespace Switchboard.Node.Topology;

/// <summary>The result of one external command (ip, sysctl); <see cref="Stdout"/> for commands that list things.</summary>
internal readonly record struct CommandResult(int ExitCode, string Stderr, string Stdout = "")
{
    public bool Ok => ExitCode == 0;
}

/// <summary>
/// Runs external programs. The topology is built with iproute2 through this seam so that unit tests can check
/// the exact command plan with a fake, without root.
/// </summary>
internal interface ICommandRunner
{
    Task<CommandResult> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct);
}

/// <summary>Runs programs for real, capturing stderr for error messages.</summary>
internal sealed class ProcessCommandRunner : ICommandRunner
{
    public async Task<CommandResult> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + program);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return new CommandResult(process.ExitCode, (await stderr.ConfigureAwait(false)).Trim(), await stdout.ConfigureAwait(false));
    }
}
