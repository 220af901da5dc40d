using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Switchboard.Cli;

/// <summary>
/// Logs when `up` reaches each start-up phase, in ms since the process started (so runtime start-up counts too):
/// `startup phase &lt;name&gt; at &lt;ms&gt; ms` in up.log. bench/Switchboard.Bench (`nodes startup`) reads these lines.
/// </summary>
internal sealed partial class StartupTimeline
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _processStart;

    public StartupTimeline(ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
        using var self = Process.GetCurrentProcess();
        _processStart = self.StartTime.ToUniversalTime();
    }

    public void Reached(string phase)
    {
        var ms = (long)(_time.GetUtcNow() - _processStart).TotalMilliseconds;
        Log.Phase(_logger, phase, ms);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "startup phase {Phase} at {Milliseconds} ms")]
        public static partial void Phase(ILogger logger, string phase, long milliseconds);
    }
}
