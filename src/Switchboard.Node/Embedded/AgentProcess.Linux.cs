using System.Diagnostics;
using Switchboard.Node.Linux;

namespace Switchboard.Node.Embedded;

/// <summary>A real `switchboard agent` child of `up`; its stdout and stderr are appended to logs/&lt;node&gt;.log.</summary>
internal sealed partial class AgentProcess : IAgentProcess
{
    private readonly Process _process;

    private AgentProcess(Process process, string logPath)
    {
        _process = process;
        Pid = process.Id;
        StartTime = ProcessKiller.StartTime(process.Id) ?? 0;
        // The exit alone, not the end of the output: a grandchild that inherited a pipe must not delay a restart.
        Exited = WaitAsync(process);
        Drained = DrainAsync(process, logPath);
    }

    public int Pid { get; }

    public long StartTime { get; }

    public Task<int> Exited { get; }

    public Task Drained { get; }

    /// <summary>Starts <paramref name="psi"/> (stdout/stderr redirected, stdin closed at once).</summary>
    public static AgentProcess Start(ProcessStartInfo psi, string logPath)
    {
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + psi.FileName);
        process.StandardInput.Close();
        return new AgentProcess(process, logPath);
    }

    public void Terminate()
    {
        if (!_process.HasExited)
        {
            _ = SendSignal(Pid, 15);
        }
    }

    public void Dispose() => _process.Dispose();

    private static async Task<int> WaitAsync(Process process)
    {
        await process.WaitForExitAsync().ConfigureAwait(false);
        // .NET reports 128 + signal for a child ended by a signal (137 after SIGKILL), as a shell does.
        return process.ExitCode;
    }

    private static async Task DrainAsync(Process process, string logPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var file = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        await using (file.ConfigureAwait(false))
        {
            var gate = new SemaphoreSlim(1, 1);
            using (gate)
            {
                await Task.WhenAll(Copy(process.StandardOutput.BaseStream), Copy(process.StandardError.BaseStream)).ConfigureAwait(false);
            }

            async Task Copy(Stream source)
            {
                var buffer = new byte[4096];
                int n;
                while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    await gate.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        await file.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                        await file.FlushAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
