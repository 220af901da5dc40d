using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Client.Cache;
using Xunit.Abstractions;

namespace Switchboard.Client.Tests.Fakes;

/// <summary>Records handler calls as "add ns/name@rv", "update ns/name@old->new", "delete ns/name@rv".</summary>
internal sealed class RecordingHandler : IResourceEventHandler<V1Service>
{
    private readonly ConcurrentQueue<string> _events = new();

    public IReadOnlyList<string> Events => [.. _events];

    public void OnAdd(V1Service obj) => _events.Enqueue($"add {Key(obj)}@{obj.Metadata.ResourceVersion}");

    public void OnUpdate(V1Service oldObj, V1Service newObj) =>
        _events.Enqueue($"update {Key(newObj)}@{oldObj.Metadata.ResourceVersion}->{newObj.Metadata.ResourceVersion}");

    public void OnDelete(V1Service obj) => _events.Enqueue($"delete {Key(obj)}@{obj.Metadata.ResourceVersion}");

    private static string Key(V1Service o) => o.Metadata.NamespaceProperty + "/" + o.Metadata.Name;
}

/// <summary>Virtual time that also records every timer's due time, so a test can see the back-off the code chose.</summary>
internal sealed class RecordingTimeProvider : FakeTimeProvider
{
    private readonly ConcurrentQueue<TimeSpan> _dueTimes = new();

    public IReadOnlyList<TimeSpan> DueTimes => [.. _dueTimes];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _dueTimes.Enqueue(dueTime);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}

/// <summary>Deterministic "random" source.</summary>
internal sealed class FixedRandom(double value) : Random
{
    public override double NextDouble() => value;
}

/// <summary>Writes log lines to the xunit output so a failing test shows what the reflector did.</summary>
internal sealed class TestOutputLogger(ITestOutputHelper output) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            output.WriteLine($"{logLevel,-11} {formatter(state, exception)}{(exception is null ? "" : " — " + exception.Message)}");
        }
        catch (InvalidOperationException)
        {
            // The test already finished; nothing to write to.
        }
    }
}

internal static class Eventually
{
    /// <summary>Polls until the condition holds; the timeout only guards against a hang, it asserts nothing about speed.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (cts.IsCancellationRequested)
            {
                throw new TimeoutException("Timed out waiting for: " + what);
            }

            await Task.Delay(10);
        }
    }
}

/// <summary>Runs a reflector in the background and stops it (awaiting the loop) on dispose.</summary>
internal sealed class ReflectorRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _task;

    public ReflectorRun(Reflector<V1Service> reflector)
    {
        Reflector = reflector;
        _task = Task.Run(() => reflector.RunAsync(_cts.Token));
    }

    public Reflector<V1Service> Reflector { get; }

    public async Task WaitForSyncAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var done = await Task.WhenAny(Reflector.WaitForSyncAsync(timeout.Token), _task);
        await done; // surfaces a crashed loop or the hang guard
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await _task;
        }
        catch (OperationCanceledException)
        {
            // Expected: RunAsync ends as cancelled.
        }

        _cts.Dispose();
    }
}
