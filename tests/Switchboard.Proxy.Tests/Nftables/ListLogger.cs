using Microsoft.Extensions.Logging;

namespace Switchboard.Proxy.Tests.Nftables;

/// <summary>Keeps warnings and errors (with their exception messages) so a failed sync explains itself in the test output.</summary>
internal sealed class ListLogger : ILogger
{
    public List<string> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (Entries)
            {
                Entries.Add(formatter(state, exception) + (exception is null ? "" : ": " + exception.Message));
            }
        }
    }
}
