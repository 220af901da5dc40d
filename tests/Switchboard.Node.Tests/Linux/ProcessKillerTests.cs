using System.Diagnostics;
using Switchboard.Node.Linux;
using Switchboard.Node.Tests.KubeletApi;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Linux;

/// <summary>Kill by pid + start time on real processes.</summary>
public sealed class ProcessKillerTests
{
    [Fact]
    public async Task Kill_AZombieNobodyReaps_IsTreatedAsGone_NothingKilledOrLogged()
    {
        // The shell forks `true`, then becomes `sleep 300`, which never waits: `true` stays a zombie of it.
        using var parent = Process.Start(new ProcessStartInfo("sh", ["-c", "true & exec sleep 300"]))!;
        try
        {
            var zombie = await ZombieChildAsync(parent.Id);
            var stat = ProcessKiller.Stat(zombie);
            Assert.Equal('Z', stat?.State);
            var logs = new ListLoggerFactory();

            ProcessKiller.Kill(new OwnedProcess(zombie, stat!.Value.StartTime, "container c"), logs.CreateLogger("t"));

            Assert.Empty(logs.Lines);
            Assert.False(parent.HasExited);
        }
        finally
        {
            parent.Kill();
        }
    }

    [Fact]
    public void Kill_ALiveRecordedProcess_IsKilledAndLogged()
    {
        using var sleeper = Process.Start("sleep", "300");
        var logs = new ListLoggerFactory();
        ProcessKiller.Kill(new OwnedProcess(sleeper.Id, ProcessKiller.StartTime(sleeper.Id)!.Value, "agent node1"), logs.CreateLogger("t"));
        Assert.True(sleeper.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains(logs.Lines, l => l.Contains($"agent node1 (pid {sleeper.Id})", StringComparison.Ordinal));
    }

    private static async Task<int> ZombieChildAsync(int parent)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var children = File.ReadAllText($"/proc/{parent}/task/{parent}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var child in children.Select(int.Parse))
            {
                if (ProcessKiller.Stat(child) is { State: 'Z' })
                {
                    return child;
                }
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("no zombie child appeared");
    }
}
