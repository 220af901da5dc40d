using System.ComponentModel;
using System.Diagnostics;

namespace Switchboard.Netfilter.Exec;

/// <summary>Exit code and output of one external tool run (nft, conntrack, sysctl).</summary>
internal readonly record struct ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Ok => ExitCode == 0;
}

/// <summary>
/// Runs an external tool, optionally inside a named network namespace (<c>ip netns exec NS tool …</c>), with
/// optional stdin. The agent itself already runs in its node namespace and passes no namespace.
/// </summary>
internal sealed class ToolRunner(string? netns = null)
{
    /// <summary>The network namespace the tools run in, or null for the current one.</summary>
    public string? Netns { get; } = netns;

    public Task<ToolResult> RunAsync(string program, IReadOnlyList<string> args, string? stdin, CancellationToken ct) =>
        RunStreamingAsync(program, args, stdin is null ? null : (w, c) => w.WriteAsync(stdin.AsMemory(), c), ct);

    /// <summary>Runs the tool with <paramref name="writeStdin"/> streaming its stdin (closed afterwards); null for none.</summary>
    public async Task<ToolResult> RunStreamingAsync(string program, IReadOnlyList<string> args, Func<TextWriter, CancellationToken, Task>? writeStdin, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(Netns is null ? program : "ip")
        {
            UseShellExecute = false,
            RedirectStandardInput = writeStdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Netns is not null)
        {
            foreach (var a in (string[])["netns", "exec", Netns, program])
            {
                psi.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start {psi.FileName}: {e.Message} (is it installed?)", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                if (writeStdin is not null)
                {
                    await writeStdin(process.StandardInput, ct).ConfigureAwait(false);
                    process.StandardInput.Close();
                }
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            catch (IOException) when (process.HasExited)
            {
                // The tool exited before reading all of stdin (e.g. a usage error); its stderr says why.
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            return new ToolResult(process.ExitCode, await stdout.ConfigureAwait(false), (await stderr.ConfigureAwait(false)).Trim());
        }
    }
}
