using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>Keeps every log line, so a failing test can show what the kubelet said.</summary>
internal sealed class ListLoggerFactory : ILoggerFactory, ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public void AddProvider(ILoggerProvider provider) { }

    public ILogger CreateLogger(string categoryName) => this;

    public void Dispose() { }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");

    public override string ToString() => string.Join('\n', Lines);
}
