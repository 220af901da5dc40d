using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Node.Runtime;

/// <summary>
/// What the runtime knows about one Pod, persisted as &lt;pod-dir&gt;/state.json after every change so that a
/// restarted agent re-adopts running containers (pid + start time) instead of restarting them. Owned by one worker.
/// </summary>
internal sealed class PodRecord
{
    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public required string Uid { get; init; }

    public required string Netns { get; init; }

    public bool HostNetwork { get; set; }

    /// <summary>The cached CNI ADD result (for DEL and CHECK), null while the network is not set up.</summary>
    public string? CniResult { get; set; }

    public List<string> PodIps { get; set; } = [];

    public bool SandboxReady { get; set; }

    public DateTime? StartTime { get; set; }

    /// <summary>All init containers completed (kubelet does not run them again while the sandbox lives).</summary>
    public bool Initialized { get; set; }

    public Dictionary<string, ContainerRecord> Containers { get; set; } = [];

    public string Serialize() => JsonSerializer.Serialize(this, Json);

    public void Save(string podDir) => Save(podDir, Serialize());

    public static void Save(string podDir, string json)
    {
        Directory.CreateDirectory(podDir);
        var tmp = Path.Combine(podDir, "state.json.tmp");
        File.WriteAllText(tmp, json);
        File.Move(tmp, Path.Combine(podDir, "state.json"), overwrite: true);
    }

    public static PodRecord? Load(string podDir)
    {
        try
        {
            return JsonSerializer.Deserialize<PodRecord>(File.ReadAllText(Path.Combine(podDir, "state.json")), Json);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}

/// <summary>One container's runs: the current process (if any), the last termination, restarts and back-off.</summary>
internal sealed class ContainerRecord
{
    public int RestartCount { get; set; }

    /// <summary>Number of runs started so far (the next log file is &lt;runs&gt;.log - 1 … kept equal to RestartCount + 1 once started).</summary>
    public int Runs { get; set; }

    public int? Pid { get; set; }

    public long? PidStartTime { get; set; }

    public string? ContainerId { get; set; }

    public DateTime? StartedAt { get; set; }

    /// <summary>The current run's end while the container is not running (state terminated).</summary>
    public TerminationRecord? Terminated { get; set; }

    /// <summary>The previous run's end (lastState).</summary>
    public TerminationRecord? LastTerminated { get; set; }

    /// <summary>No restart before this moment (CrashLoopBackOff).</summary>
    public DateTime? BackoffUntil { get; set; }

    public TimeSpan? Backoff { get; set; }

    /// <summary>The run whose back-off was already reported (one BackOff Event per crash).</summary>
    public int? BackoffEventFor { get; set; }

    /// <summary>Set when the container cannot be created (ImageNotSupported, CreateContainerConfigError).</summary>
    public string? WaitingReason { get; set; }

    public string? WaitingMessage { get; set; }

    public Dictionary<string, string>? Environment { get; set; }

    public string? LogPath { get; set; }

    public string? PreviousLogPath { get; set; }

    /// <summary>An init container with restartPolicy Always (a sidecar): restarted whenever it exits.</summary>
    public bool Sidecar { get; set; }

    [JsonIgnore]
    public ProcessId? Process => Pid is { } pid ? new ProcessId(pid, PidStartTime ?? 0) : null;
}

internal sealed record TerminationRecord(int ExitCode, string Reason, DateTime StartedAt, DateTime FinishedAt, string? ContainerId, string? Message = null);
