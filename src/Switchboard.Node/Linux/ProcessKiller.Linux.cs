using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Linux;

/// <summary>Process identity and termination by pid + start time (/proc/&lt;pid&gt;/stat field 22).</summary>
internal static partial class ProcessKiller
{
    /// <summary>The start time in clock ticks since boot, or null when the process does not exist.</summary>
    public static long? StartTime(int pid) => Stat(pid)?.StartTime;

    /// <summary>Start time and state (field 3: R, S, D, Z, …) from /proc/&lt;pid&gt;/stat; null when there is no such process.</summary>
    internal static (long StartTime, char State)? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(rest[19], CultureInfo.InvariantCulture), rest[0][0]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>SIGKILLs the process if it is still the one recorded; a recycled pid is left alone.</summary>
    public static void Kill(OwnedProcess p, ILogger logger)
    {
        // A zombie (dead, its parent has not reaped it yet: init after the agent went) keeps its /proc entry: it is
        // gone already, and waiting for the reaper would only delay the clean-up.
        if (Stat(p.Pid) is not { } stat || stat.StartTime != p.StartTime || stat.State is 'Z' or 'X')
        {
            return;
        }
        try
        {
            using var process = Process.GetProcessById(p.Pid);
            process.Kill();
            process.WaitForExit(TimeSpan.FromSeconds(10));
            Log.Killed(logger, p.Name, p.Pid);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Exited meanwhile.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "killed leftover process {Name} (pid {Pid}) of an earlier run")]
        public static partial void Killed(ILogger logger, string name, int pid);
    }
}
