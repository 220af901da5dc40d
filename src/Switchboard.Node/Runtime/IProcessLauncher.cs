namespace Switchboard.Node.Runtime;

/// <summary>What to start: the full argv (sandbox prefix included), env, the log file for stdout+stderr, the working directory.</summary>
internal sealed record LaunchSpec(IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string LogPath, string WorkingDirectory);

/// <summary>A process identity that survives pid reuse: pid + start time (clock ticks since boot, /proc/&lt;pid&gt;/stat field 22).</summary>
internal readonly record struct ProcessId(int Pid, long StartTime);

/// <summary>How a process ended: the exit code (128 + signal when killed), or null when it is unknown (not our child).</summary>
internal readonly record struct ProcessExit(int? ExitCode);

/// <summary>Starts container processes in their own session and watches them. Faked in unit tests.</summary>
internal interface IProcessLauncher
{
    /// <summary>Starts the process; throws <see cref="LaunchException"/> when it cannot.</summary>
    ProcessId Start(LaunchSpec spec);

    /// <summary>Null while the process runs; its exit once it has ended (reaping it when it is our child).</summary>
    ProcessExit? Poll(ProcessId process);

    /// <summary>Sends a signal to the process group led by the process, if it is still the recorded one.</summary>
    void Signal(ProcessId process, int signal);
}

internal sealed class LaunchException(string message) : Exception(message);

internal static class Signals
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
}
