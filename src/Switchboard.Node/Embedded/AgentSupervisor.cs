using Microsoft.Extensions.Logging;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Embedded;

/// <summary>One running agent process, as the supervisor sees it (the real one is <see cref="AgentProcess"/>).</summary>
internal interface IAgentProcess : IDisposable
{
    int Pid { get; }

    /// <summary>/proc/&lt;pid&gt;/stat start time, recorded with the pid so cleanup never kills a recycled pid.</summary>
    long StartTime { get; }

    /// <summary>Completes with the exit code when the process ends (128 + signal when a signal ended it).</summary>
    Task<int> Exited { get; }

    /// <summary>Asks the process to stop (SIGTERM).</summary>
    void Terminate();

    /// <summary>Completes when the process's output has been copied to its log (awaited at dispose only).</summary>
    Task Drained { get; }
}

/// <summary>
/// The restart delay of an agent, as kubelet under systemd with a doubling RestartSec: 1 s, then doubling to
/// <see cref="Max"/>; a run of at least <see cref="ResetAfter"/> starts again at <see cref="Initial"/>.
/// </summary>
internal sealed class AgentRestartBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan ResetAfter = TimeSpan.FromSeconds(60);

    private TimeSpan? _last;

    /// <summary>The delay before the next start, given how long the run that just ended lasted.</summary>
    public TimeSpan Next(TimeSpan uptime)
    {
        var delay = _last is not { } last || uptime >= ResetAfter ? Initial : TimeSpan.FromTicks(Math.Min(last.Ticks * 2, Max.Ticks));
        _last = delay;
        return delay;
    }
}

/// <summary>
/// Keeps one agent process per node running for `up`: an agent that exits is started again after
/// <see cref="AgentRestartBackoff"/>'s delay, logged as a warning ("node2 agent exited with code 137; restarting
/// in 1s"), and its pid is swapped in run/owned.json so the cleanup after a crash of `up` still finds it. Once
/// <see cref="StopAsync"/> runs or the stop token given to <see cref="Start"/> is cancelled nothing is restarted
/// (the check is made after the delay too, so an agent that got the same Ctrl-C as `up` stays down).
/// </summary>
internal sealed partial class AgentSupervisor(OwnedState owned, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Slot> _slots = [];
    private readonly List<IAgentProcess> _ended = [];
    private (string Node, int ExitCode)? _firstExit;

    /// <summary>The first agent exit seen (`up` fails its start-up on it instead of waiting for a restart).</summary>
    public (string Node, int ExitCode)? FirstExit
    {
        get
        {
            lock (_gate)
            {
                return _firstExit;
            }
        }
    }

    /// <summary>The pid of the node's current agent, null while it is down.</summary>
    public int? Pid(string node)
    {
        lock (_gate)
        {
            return _slots.FirstOrDefault(s => s.Node == node)?.Current?.Pid;
        }
    }

    /// <summary>Starts the node's agent with <paramref name="launch"/> (which throws when it cannot) and supervises it.</summary>
    public void Start(string node, Func<IAgentProcess> launch, CancellationToken stopping)
    {
        var process = launch();
        var slot = new Slot(node, launch, CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, stopping));
        lock (_gate)
        {
            slot.Current = process;
            slot.StartedAt = time.GetUtcNow();
            _slots.Add(slot);
            owned.AddProcess(new OwnedProcess(process.Pid, process.StartTime, "agent " + node));
        }
        Log.Started(logger, node, process.Pid);
        slot.Loop = Task.Run(() => SuperviseAsync(slot), CancellationToken.None);
    }

    /// <summary>
    /// Stops supervising and SIGTERMs every agent; returns the nodes whose agent did not exit within
    /// <paramref name="grace"/> (still recorded in owned.json, so the topology removal kills them).
    /// </summary>
    public async Task<IReadOnlyList<string>> StopAsync(TimeSpan grace)
    {
        List<Slot> slots;
        lock (_gate)
        {
            slots = [.. _slots];
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        // The loops return without starting anything once the stop is set (a launch in progress finishes first).
        await Task.WhenAll(slots.Select(s => s.Loop)).ConfigureAwait(false);
        var running = new List<(Slot Slot, IAgentProcess Process)>();
        lock (_gate)
        {
            running.AddRange(slots.Where(s => s.Current is not null && !s.Current.Exited.IsCompleted).Select(s => (s, s.Current!)));
        }
        foreach (var (_, process) in running)
        {
            process.Terminate();
        }
        var slow = new List<string>();
        using var limit = new CancellationTokenSource(grace);
        foreach (var (slot, process) in running)
        {
            try
            {
                await process.Exited.WaitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                slow.Add(slot.Node);
            }
        }
        lock (_gate)
        {
            foreach (var slot in slots)
            {
                if (slot.Current is { Exited.IsCompleted: true } p)
                {
                    owned.RemoveProcess(p.Pid);
                }
            }
        }
        return slow;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        List<IAgentProcess> all;
        lock (_gate)
        {
            all = [.. _ended, .. _slots.Select(s => s.Current).OfType<IAgentProcess>()];
        }
        foreach (var process in all)
        {
            await process.Drained.ConfigureAwait(false);
            process.Dispose();
        }
        foreach (var slot in _slots)
        {
            slot.Stop.Dispose();
        }
        _stop.Dispose();
    }

    private async Task SuperviseAsync(Slot slot)
    {
        var backoff = new AgentRestartBackoff();
        var process = slot.Current!;
        while (true)
        {
            int code;
            try
            {
                code = await process.Exited.WaitAsync(slot.Stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var uptime = time.GetUtcNow() - slot.StartedAt;
            lock (_gate)
            {
                slot.Current = null;
                _ended.Add(process);
                _firstExit ??= (slot.Node, code);
                owned.RemoveProcess(process.Pid);
            }
            if (slot.Stop.IsCancellationRequested)
            {
                return;
            }
            var delay = backoff.Next(uptime);
            var failedStart = false;
            while (true)
            {
                // The timer exists before the line is logged: a test that waits for the line may advance time at once.
                var wait = Task.Delay(delay, time, slot.Stop.Token);
                var seconds = (int)Math.Ceiling(delay.TotalSeconds);
                if (!failedStart)
                {
                    Log.Restarting(logger, slot.Node, code, seconds);
                }
                try
                {
                    await wait.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                IAgentProcess next;
                lock (_gate)
                {
                    // Checked under the lock StopAsync reads Current with: a stop never misses a fresh agent.
                    if (slot.Stop.IsCancellationRequested)
                    {
                        return;
                    }
                    try
                    {
                        next = slot.Launch();
                    }
#pragma warning disable CA1031 // Whatever stops a start (a missing binary, no pids left) is logged and retried with back-off.
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        failedStart = true;
                        delay = backoff.Next(TimeSpan.Zero);
                        Log.StartFailed(logger, slot.Node, e.Message, (int)Math.Ceiling(delay.TotalSeconds));
                        continue;
                    }
                    slot.Current = next;
                    slot.StartedAt = time.GetUtcNow();
                    owned.AddProcess(new OwnedProcess(next.Pid, next.StartTime, "agent " + slot.Node));
                }
                Log.Restarted(logger, slot.Node, next.Pid);
                process = next;
                break;
            }
        }
    }

    private sealed class Slot(string node, Func<IAgentProcess> launch, CancellationTokenSource stop)
    {
        public string Node => node;

        public Func<IAgentProcess> Launch => launch;

        public CancellationTokenSource Stop => stop;

        public IAgentProcess? Current { get; set; }

        public DateTimeOffset StartedAt { get; set; }

        public Task Loop { get; set; } = Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "started the agent of {Node} (pid {Pid})")]
        public static partial void Started(ILogger logger, string node, int pid);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Node} agent exited with code {ExitCode}; restarting in {DelaySeconds}s")]
        public static partial void Restarting(ILogger logger, string node, int exitCode, int delaySeconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Node} agent restarted (pid {Pid})")]
        public static partial void Restarted(ILogger logger, string node, int pid);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Node} agent could not be started: {Error}; retrying in {DelaySeconds}s")]
        public static partial void StartFailed(ILogger logger, string node, string error, int delaySeconds);
    }
}
