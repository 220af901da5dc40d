using System.Diagnostics;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// One thing an exec or attach session talks to: byte streams in and out, an exit code, terminal resizes.
/// Implementations: <see cref="PipeProcess"/> (exec without tty), <see cref="PtyProcess"/> (exec -t) and
/// <see cref="LogAttachProcess"/> (attach: the container's log file, as the container writes stdout there).
/// </summary>
internal interface IStreamedProcess : IAsyncDisposable
{
    /// <summary>Where client stdin goes; null when stdin was not asked for.</summary>
    Stream? Stdin { get; }

    /// <summary>Output for the stdout channel (the terminal for a tty); null when not asked for.</summary>
    Stream? Stdout { get; }

    /// <summary>Output for the stderr channel; null for a tty or when not asked for.</summary>
    Stream? Stderr { get; }

    /// <summary>Completes with the exit code (128 + signal for a signalled process).</summary>
    Task<int> Exited { get; }

    /// <summary>The client closed stdin (v5 close signal).</summary>
    void CloseStdin();

    void Resize(ushort width, ushort height);
}

/// <summary>Starts the process of an exec: <c>ExecPrefix + command</c> with the container's environment.</summary>
internal interface IExecLauncher
{
    /// <summary>Starts the command; a tty gets <paramref name="size"/> before the command runs.</summary>
    IStreamedProcess Start(ContainerView container, StreamRequest request, TerminalSize? size);
}

/// <summary>The real launcher: pipes through System.Diagnostics.Process, a pty through posix_spawn.</summary>
internal sealed class ExecLauncher : IExecLauncher
{
    /// <summary>Kubelet's default PATH for containers that set none (ARCHITECTURE.md §2 "Containers").</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public IStreamedProcess Start(ContainerView container, StreamRequest request, TerminalSize? size)
    {
        var argv = container.ExecPrefix.Concat(request.Command).ToList();
        argv[0] = ResolveProgram(argv[0], container.Environment);
        return request.Tty
            ? PtyProcess.Start(argv, container.Environment, container.WorkingDirectory, request.Stdin, size)
            : PipeProcess.Start(argv, container.Environment, container.WorkingDirectory, request);
    }

    /// <summary>
    /// A bare program name is looked up on the container's PATH (or the default), not the agent's, so exec sees
    /// the programs the container would.
    /// </summary>
    public static string ResolveProgram(string program, IReadOnlyDictionary<string, string> environment)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return program;
        }
        var path = environment.TryGetValue("PATH", out var p) && p.Length > 0 ? p : DefaultPath;
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"exec: \"{program}\": executable file not found in $PATH");
    }
}

/// <summary>exec without a tty: an ordinary child with three pipes.</summary>
internal sealed class PipeProcess : IStreamedProcess
{
    private readonly Process _process;

    private PipeProcess(Process process, StreamRequest request)
    {
        _process = process;
        Stdin = request.Stdin ? process.StandardInput.BaseStream : null;
        if (!request.Stdin)
        {
            // The command reads EOF at once, as a container exec without stdin does.
            process.StandardInput.Close();
        }
        Stdout = process.StandardOutput.BaseStream;
        Stderr = process.StandardError.BaseStream;
        Exited = WaitAsync();
    }

    public Stream? Stdin { get; }

    /// <summary>Always present: output nobody asked for is still drained so the child never blocks on it.</summary>
    public Stream? Stdout { get; }

    public Stream? Stderr { get; }

    public Task<int> Exited { get; }

    public static PipeProcess Start(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, string workingDirectory, StreamRequest request)
    {
        var psi = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory.Exists(workingDirectory) ? workingDirectory : "/",
        };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Clear();
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("process did not start");
        return new PipeProcess(process, request);
    }

    private async Task<int> WaitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        return _process.ExitCode;
    }

    public void CloseStdin()
    {
        try
        {
            Stdin?.Close();
        }
        catch (IOException)
        {
            // The child already closed its end.
        }
    }

    public void Resize(ushort width, ushort height)
    {
        // No terminal without a tty.
    }

    public ValueTask DisposeAsync()
    {
        CloseStdin();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
