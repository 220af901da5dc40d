using System.Collections.Concurrent;
using k8s.Models;
using Switchboard.Node.Runtime;
using Switchboard.Node.Runtime.Cni;
using Switchboard.Node.Topology;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>Records what the runtime writes to the API.</summary>
internal sealed class FakePodApi : IPodApi
{
    private readonly Lock _lock = new();

    public ConcurrentDictionary<string, V1PodStatus> Statuses { get; } = new();

    public List<(string Pod, string Type, string Reason, string Message)> Events { get; } = [];

    public ConcurrentBag<string> Deleted { get; } = [];

    public int StatusWrites;

    public bool EchoToPod { get; set; } = true;

    public Task UpdateStatusAsync(V1Pod pod, V1PodStatus status, CancellationToken ct)
    {
        Statuses[pod.Metadata.Uid] = status;
        Interlocked.Increment(ref StatusWrites);
        if (EchoToPod)
        {
            // What the informer would deliver next: the Pod with the status just written.
            pod.Status = status;
        }
        return Task.CompletedTask;
    }

    public int FailDeletes;

    public Task DeleteAsync(V1Pod pod, CancellationToken ct)
    {
        if (FailDeletes > 0)
        {
            FailDeletes--;
            throw new HttpRequestException("connection refused");
        }
        Deleted.Add(pod.Metadata.Uid);
        return Task.CompletedTask;
    }

    public void Event(V1Pod pod, string type, string reason, string message)
    {
        lock (_lock)
        {
            Events.Add((pod.Metadata.Name, type, reason, message));
        }
    }

    public List<(string Pod, string Type, string Reason, string Message)> EventsSnapshot()
    {
        lock (_lock)
        {
            return [.. Events];
        }
    }
}

internal sealed class FakeDependencies : IPodDependencies
{
    public Dictionary<string, V1ConfigMap> ConfigMaps { get; } = [];

    public Dictionary<string, V1Secret> Secrets { get; } = [];

    public List<V1Service> Services { get; } = [];

    public Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct) => Task.FromResult(ConfigMaps.GetValueOrDefault(ns + "/" + name));

    public Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct) => Task.FromResult(Secrets.GetValueOrDefault(ns + "/" + name));

    public Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<V1Service>>([.. Services.Where(s => s.Metadata.NamespaceProperty == ns)]);

    public int TokenRequests;

    public Task<string?> ServiceAccountTokenAsync(V1Pod pod, CancellationToken ct)
    {
        Interlocked.Increment(ref TokenRequests);
        return Task.FromResult<string?>("token-of-" + pod.Metadata.Name);
    }
}

internal sealed class FakeSandboxes : ISandboxManager
{
    public List<string> Calls { get; } = [];

    public Task CreateAsync(SandboxSpec spec, CancellationToken ct)
    {
        Calls.Add("create " + spec.Netns);
        return Task.CompletedTask;
    }

    public bool RepairResult { get; set; } = true;

    public Task<bool> RepairAsync(SandboxSpec spec, int? livePid, CancellationToken ct)
    {
        Calls.Add($"repair {spec.Netns} {livePid}");
        return Task.FromResult(RepairResult);
    }

    public Task WriteFilesAsync(SandboxSpec spec, string resolvConf, string hosts, CancellationToken ct)
    {
        Calls.Add("files " + spec.Netns);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(SandboxSpec spec, CancellationToken ct)
    {
        Calls.Add("remove " + spec.Netns);
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> ListNetns(string prefix) => [];
}

internal sealed class FakeCni : ICniNetwork
{
    public int FailAdds;

    public List<string> Calls { get; } = [];

    public Task<CniResult> AddAsync(CniPod pod, CancellationToken ct)
    {
        Calls.Add("ADD " + pod.ContainerId);
        if (FailAdds > 0)
        {
            FailAdds--;
            throw new CniException("CNI ADD of plugin ptp failed: no IP addresses available");
        }
        return Task.FromResult(new CniResult("{\"ips\":[{\"address\":\"10.244.1.5/24\"},{\"address\":\"fd00::5/64\"}]}", ["10.244.1.5", "fd00::5"]));
    }

    public Task CheckAsync(CniPod pod, string cachedResult, CancellationToken ct) => Task.CompletedTask;

    public Task DelAsync(CniPod pod, string? cachedResult, CancellationToken ct)
    {
        Calls.Add("DEL " + pod.ContainerId);
        return Task.CompletedTask;
    }
}

/// <summary>Processes that run until told: Exit(pid, code); SIGTERM ends them with 143 unless they ignore it.</summary>
internal sealed class FakeLauncher : IProcessLauncher
{
    private int _next = 1000;

    public Dictionary<int, int?> Exits { get; } = [];

    public List<LaunchSpec> Started { get; } = [];

    public HashSet<int> IgnoreTerm { get; } = [];

    public List<(int Pid, int Signal)> Signals { get; } = [];

    public ProcessId Start(LaunchSpec spec)
    {
        Started.Add(spec);
        var pid = ++_next;
        Exits[pid] = null;
        return new ProcessId(pid, 1);
    }

    public void Exit(int pid, int code) => Exits[pid] = code;

    public ProcessExit? Poll(ProcessId process) => Exits.TryGetValue(process.Pid, out var code) && code is not null ? new ProcessExit(code) : null;

    public void Signal(ProcessId process, int signal)
    {
        Signals.Add((process.Pid, signal));
        if (signal == 9 || !IgnoreTerm.Contains(process.Pid))
        {
            Exits[process.Pid] = 128 + signal;
        }
    }
}

internal sealed class FakeProber : IProber
{
    public Func<string, V1Probe, bool> Result { get; set; } = (_, _) => true;

    public List<string> Handlers { get; } = [];

    public string? HandlerError { get; set; }

    public Task<ProbeOutcome> ProbeAsync(ProbeTarget target, V1Probe probe, CancellationToken ct) =>
        Task.FromResult(Result(target.Container.Name, probe) ? new ProbeOutcome(true) : new ProbeOutcome(false, "fake failure"));

    /// <summary>Hooks of these containers finish only when their task does (a preStop hook that takes a while).</summary>
    public Dictionary<string, Task<string?>> Blocking { get; } = [];

    public Task<string?> RunHandlerAsync(ProbeTarget target, V1LifecycleHandler handler, CancellationToken ct)
    {
        Handlers.Add(target.Container.Name);
        return Blocking.TryGetValue(target.Container.Name, out var blocked) ? blocked : Task.FromResult(HandlerError);
    }
}

/// <summary>Records commands; every command succeeds.</summary>
internal sealed class RecordingRunner : ICommandRunner
{
    public List<string> Commands { get; } = [];

    public Task<CommandResult> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        Commands.Add(program + " " + string.Join(' ', args));
        return Task.FromResult(new CommandResult(0, ""));
    }
}
