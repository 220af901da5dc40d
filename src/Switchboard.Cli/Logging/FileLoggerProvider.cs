using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Switchboard.Cli.Logging;

/// <summary>Appends log lines to one file (the data dir's logs/*.log), serialized by a lock.</summary>
internal sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<string, Logger> _loggers = new();

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, c => new Logger(this, c, LogLevel.Information));

    public void Dispose() => _writer.Dispose();

    internal void Write(string line)
    {
        lock (_gate)
        {
            _writer.WriteLine(line);
        }
    }

    internal sealed class Logger(FileLoggerProvider owner, string category, LogLevel min) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= min;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {logLevel} {category}: {formatter(state, exception)}");
            owner.Write(exception is null ? line : line + Environment.NewLine + exception);
        }
    }
}

/// <summary>Warnings and errors on stderr, so the user sees them next to progress lines.</summary>
internal sealed class StderrLoggerProvider(LogLevel min) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(min);

    public void Dispose()
    {
    }

    private sealed class Logger(LogLevel min) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= min;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"switchboard: {logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}");
            }
        }
    }
}
