using System.Globalization;

namespace Switchboard.Agnhost.Cli;

/// <summary>
/// Go's standard "log" package output ("2006/01/02 15:04:05 message") on stderr, which is what upstream
/// agnhost prints. One Write per line so lines from concurrent connections do not interleave.
/// </summary>
internal sealed class GoLogger(TextWriter writer, TimeProvider time)
{
    public TimeProvider Time => time;

    public void Printf(string message)
    {
        var now = time.GetLocalNow();
        var line = string.Create(CultureInfo.InvariantCulture, $"{now:yyyy/MM/dd HH:mm:ss} {message}");
        writer.Write(line.EndsWith('\n') ? line : line + "\n");
    }

    /// <summary>log.Fatalf: print, then exit 1.</summary>
    public int Fatal(string message)
    {
        Printf(message);
        writer.Flush();
        Environment.Exit(1);
        return 1;
    }
}
