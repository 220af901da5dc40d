using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Linux;

/// <summary>Process identity and termination by pid + start time (/proc/&lt;pid&gt;/stat field 22).</summary>
internal static partial class ProcessKiller
{
    /// <summary>The start time in clock ticks since boot, or null when the process does not exist.</summary>
    public static long? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(rest[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>SIGKILLs the process if it is still the one recorded; a recycled pid is left alone.</summary>
    public static void Kill(OwnedProcess p, ILogger logger)
    {
        if (StartTime(p.Pid) != p.StartTime)
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
