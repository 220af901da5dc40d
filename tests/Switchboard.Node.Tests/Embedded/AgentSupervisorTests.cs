using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Node.Embedded;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Embedded;

public sealed class AgentRestartBackoffTests
{
    [Fact]
    public void Next_QuickCrashes_DoubleFromOneSecondToTheCap()
    {
        var backoff = new AgentRestartBackoff();
        var delays = Enumerable.Range(0, 8).Select(_ => backoff.Next(TimeSpan.FromSeconds(2)).TotalSeconds).ToList();
        Assert.Equal([1, 2, 4, 8, 16, 30, 30, 30], delays);
    }

    [Fact]
    public void Next_AfterARunLongerThanTheResetTime_StartsAgainAtOneSecond()
    {
        var backoff = new AgentRestartBackoff();
        backoff.Next(TimeSpan.Zero);
        backoff.Next(TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(4), backoff.Next(TimeSpan.FromSeconds(59)));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next(AgentRestartBackoff.ResetAfter));
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Next(TimeSpan.Zero));
    }
}

public sealed class AgentSupervisorTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sbt-supervisor-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LineLogger _log = new();
    private readonly ConcurrentQueue<FakeAgent> _launched = new();
    private int _nextPid = 1000;

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Start_RecordsThePidInOwnedJson()
    {
        var owned = OwnedState.Load(_dir, "abc123");
        await using var supervisor = new AgentSupervisor(owned, _time, _log);
        supervisor.Start("node1", Launch, CancellationToken.None);
        Assert.Equal(1000, supervisor.Pid("node1"));
        var recorded = Assert.Single(OwnedState.Load(_dir, "abc123").Processes);
        Assert.Equal(new OwnedProcess(1000, 51000, "agent node1"), recorded);
    }

    [Fact]
    public async Task AgentKilled_RestartedAfterOneSecond_NewPidReplacesTheOldInOwnedJson()
    {
        var owned = OwnedState.Load(_dir, "abc123");
        await using var supervisor = new AgentSupervisor(owned, _time, _log);
        supervisor.Start("node1", Launch, CancellationToken.None);
        supervisor.Start("node2", Launch, CancellationToken.None);
        var node2 = _launched.Last();

        node2.Exit(137);
        await UntilAsync(() => _log.Contains("node2 agent exited with code 137; restarting in 1s"));
        Assert.Null(supervisor.Pid("node2"));
        Assert.DoesNotContain(OwnedState.Load(_dir, "abc123").Processes, p => p.Pid == node2.Pid);

        _time.Advance(TimeSpan.FromMilliseconds(999));
        await Task.Delay(50);
        Assert.Equal(2, _launched.Count);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await UntilAsync(() => _launched.Count == 3);

        var fresh = _launched.Last();
        Assert.Equal(fresh.Pid, supervisor.Pid("node2"));
        Assert.Equal(1000, supervisor.Pid("node1"));
        Assert.Equal(["agent node1", "agent node2"], OwnedState.Load(_dir, "abc123").Processes.OrderBy(p => p.Name).Select(p => p.Name));
        Assert.Contains(OwnedState.Load(_dir, "abc123").Processes, p => p.Pid == fresh.Pid && p.StartTime == fresh.StartTime);
        Assert.Equal(("node2", 137), supervisor.FirstExit);
    }

    [Fact]
    public async Task RepeatedQuickExits_DelayDoubles_AndALongRunResetsIt()
    {
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        supervisor.Start("node1", Launch, CancellationToken.None);
        foreach (var (seconds, launches) in new[] { (1, 2), (2, 3), (4, 4) })
        {
            _launched.Last().Exit(1);
            await UntilAsync(() => _log.Contains($"node1 agent exited with code 1; restarting in {seconds}s"));
            _time.Advance(TimeSpan.FromSeconds(seconds));
            await UntilAsync(() => _launched.Count == launches);
        }
        // Up for a minute: the next crash restarts after 1 s again.
        _time.Advance(AgentRestartBackoff.ResetAfter);
        _log.Clear();
        _launched.Last().Exit(143);
        await UntilAsync(() => _log.Contains("node1 agent exited with code 143; restarting in 1s"));
    }

    [Fact]
    public async Task StopAsync_DuringTheBackoff_NothingIsRestartedAndRunningAgentsGetSigterm()
    {
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        supervisor.Start("node1", Launch, CancellationToken.None);
        supervisor.Start("node2", Launch, CancellationToken.None);
        var node1 = _launched.First();
        var node2 = _launched.Last();
        node2.Exit(137);
        await UntilAsync(() => _log.Contains("restarting in 1s"));

        var slow = await supervisor.StopAsync(TimeSpan.FromSeconds(5)).WaitAsync(Limit);

        Assert.Empty(slow);
        Assert.True(node1.Terminated);
        Assert.False(node2.Terminated);
        _time.Advance(TimeSpan.FromMinutes(5));
        await Task.Delay(50);
        Assert.Equal(2, _launched.Count);
        Assert.Empty(OwnedState.Load(_dir, "abc123").Processes);
    }

    [Fact]
    public async Task StopToken_CancelledBeforeTheAgentExits_NoRestart()
    {
        using var stopping = new CancellationTokenSource();
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        supervisor.Start("node1", Launch, stopping.Token);
        await stopping.CancelAsync();
        // The agent got the same Ctrl-C as `up` and exits on its own.
        _launched.Single().Exit(0);
        _time.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(50);
        Assert.Single(_launched);
        Assert.DoesNotContain("restarting", _log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StopToken_CancelledDuringTheDelay_NoRestart()
    {
        using var stopping = new CancellationTokenSource();
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        supervisor.Start("node1", Launch, stopping.Token);
        _launched.Single().Exit(130);
        await UntilAsync(() => _log.Contains("node1 agent exited with code 130; restarting in 1s"));
        await stopping.CancelAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        await Task.Delay(50);
        Assert.Single(_launched);
    }

    [Fact]
    public async Task Restart_LaunchFails_RetriedWithALongerDelay()
    {
        var calls = 0;
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        // The first start works, the second (the first restart) fails, the third works.
        supervisor.Start("node1", () => ++calls == 2 ? throw new InvalidOperationException("no such file") : Launch(), CancellationToken.None);
        _launched.Single().Exit(137);
        await UntilAsync(() => _log.Contains("restarting in 1s"));
        _time.Advance(TimeSpan.FromSeconds(1));
        await UntilAsync(() => _log.Contains("node1 agent could not be started: no such file; retrying in 2s"));
        _time.Advance(TimeSpan.FromSeconds(2));
        await UntilAsync(() => _launched.Count == 2);
        Assert.Equal(_launched.Last().Pid, supervisor.Pid("node1"));
    }

    [Fact]
    public async Task StopAsync_AnAgentIgnoringSigterm_IsReportedAndStaysRecordedForTheKill()
    {
        await using var supervisor = new AgentSupervisor(OwnedState.Load(_dir, "abc123"), _time, _log);
        supervisor.Start("node1", () => Launch(ignoreSigterm: true), CancellationToken.None);
        var slow = await supervisor.StopAsync(TimeSpan.FromMilliseconds(100)).WaitAsync(Limit);
        Assert.Equal(["node1"], slow);
        Assert.Single(OwnedState.Load(_dir, "abc123").Processes);
        _launched.Single().Exit(137);
    }

    private FakeAgent Launch() => Launch(ignoreSigterm: false);

    private FakeAgent Launch(bool ignoreSigterm)
    {
        var pid = Interlocked.Increment(ref _nextPid) - 1;
        var agent = new FakeAgent(pid, pid + 50000, ignoreSigterm);
        _launched.Enqueue(agent);
        return agent;
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met");
            }
            await Task.Delay(10);
        }
    }

    private sealed class FakeAgent(int pid, long startTime, bool ignoreSigterm) : IAgentProcess
    {
        private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Pid => pid;

        public long StartTime => startTime;

        public Task<int> Exited => _exit.Task;

        public Task Drained => _exit.Task;

        public bool Terminated { get; private set; }

        public void Exit(int code) => _exit.TrySetResult(code);

        public void Terminate()
        {
            Terminated = true;
            if (!ignoreSigterm)
            {
                Exit(0);
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class LineLogger : ILogger
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public bool Contains(string text) => _lines.Any(l => l.Contains(text, StringComparison.Ordinal));

        public void Clear() => _lines.Clear();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue(formatter(state, exception));

        public override string ToString() => string.Join('\n', _lines);
    }
}
