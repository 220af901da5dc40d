using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Node.Embedded;
using Switchboard.Node.Linux;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Embedded;

/// <summary>A container whose network namespace is gone is still stopped at cleanup, by its recorded pid + start time.</summary>
public sealed class StopRecordedContainersTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sb-stop-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void StopRecordedContainers_RecordedProcess_IsKilled_RecycledPidRecordIsLeftAlone()
    {
        using var sleeper = Process.Start("sleep", "300");
        using var bystander = Process.Start("sleep", "300");
        try
        {
            var record = new PodRecord { Namespace = "ns", Name = "p", Uid = "u", Netns = "sb-abc123-p1" };
            record.Containers["c"] = new ContainerRecord { Pid = sleeper.Id, PidStartTime = ProcessKiller.StartTime(sleeper.Id) };
            // A record whose start time does not match: the pid now belongs to another process.
            record.Containers["stale"] = new ContainerRecord { Pid = bystander.Id, PidStartTime = ProcessKiller.StartTime(bystander.Id) + 1 };
            record.Save(Path.Combine(_dir, "nodes", "node1", "pods", "ns_p_u"));

            EmbeddedCluster.StopRecordedContainers(_dir, NullLogger.Instance);

            Assert.True(sleeper.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.False(bystander.HasExited);
        }
        finally
        {
            foreach (var p in new[] { sleeper, bystander })
            {
                if (!p.HasExited)
                {
                    p.Kill();
                }
            }
        }
    }

    [Fact]
    public void StopRecordedContainers_NoNodesDirectory_DoesNothing() => EmbeddedCluster.StopRecordedContainers(_dir, NullLogger.Instance);
}
