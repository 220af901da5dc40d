using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Runtime.Cni;

namespace Switchboard.Node.Runtime;

/// <summary>Everything a Pod worker uses: options and the kernel/API seams (each faked in unit tests).</summary>
internal sealed record RuntimeServices(
    RuntimeOptions Options,
    ISandboxManager Sandboxes,
    IProcessLauncher Launcher,
    IProber Prober,
    IPodApi Api,
    IPodDependencies Dependencies,
    TimeProvider Time,
    ILogger Logger)
{
    /// <summary>Set once the node's Pod CIDRs are known (the conflist is written then).</summary>
    public ICniNetwork? Cni { get; set; }

    public string Agnhost { get; init; } = ContainerCommand.FindAgnhost(Options.AgnhostPath);

    public NodeResources Node { get; init; } = NodeResources.Current();
}

/// <summary>
/// One Pod on this node, as kubelet's pod worker: a single loop that owns the Pod's record and, on every pass,
/// sets up the sandbox (retrying with back-off), starts and restarts containers (CrashLoopBackOff), runs probes,
/// and writes pods/status when it changed; on deletion it runs preStop hooks, stops the containers (SIGTERM, grace,
/// SIGKILL), tears the sandbox down (CNI DEL always) and deletes the Pod with grace 0.
/// </summary>
internal sealed partial class PodWorker
{
    internal static readonly TimeSpan BackoffInitial = TimeSpan.FromSeconds(10);
    internal static readonly TimeSpan BackoffMax = TimeSpan.FromMinutes(5);
    internal static readonly TimeSpan BackoffReset = TimeSpan.FromMinutes(10);

    private readonly RuntimeServices _s;
    private readonly PodRecord _record;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Concurrent: while a Pod terminates, readiness probes and status writes run beside the container stops.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Container, string Kind), ProbeState> _probes = new();
    private V1Pod? _pod;
    private volatile bool _goneFromApi;
    private string? _lastStatusJson;
    private bool _repaired;
    private bool _dirRemoved;
    private string? _lastSavedJson;
    private DateTime _tokenRefreshAt = DateTime.MaxValue;
    private DateTime _sandboxRetryAt;
    private TimeSpan _sandboxBackoff = TimeSpan.FromSeconds(1);
    private ImmutableDictionary<string, ContainerView> _views = ImmutableDictionary<string, ContainerView>.Empty;

    public PodWorker(RuntimeServices services, PodRecord record, V1Pod? pod)
    {
        _s = services;
        _record = record;
        _pod = pod;
        PodDir = PodNames.PodDir(services.Options.PodsDir, record.Namespace, record.Name, record.Uid);
        PublishViews();
    }

    public string PodDir { get; }

    public PodRecord Record => _record;

    /// <summary>True once the Pod is gone: its containers stopped and its sandbox removed.</summary>
    public bool Finished { get; private set; }

    public ImmutableDictionary<string, ContainerView> Views => Volatile.Read(ref _views);

    public V1Pod? Pod => Volatile.Read(ref _pod);

    public SandboxSpec Sandbox => new()
    {
        PodDir = PodDir,
        Netns = _record.Netns,
        Hostname = _pod is { } p ? SandboxFiles.Hostname(p) : _record.Name,
        HostNetwork = _record.HostNetwork,
        NodeNetns = _s.Options.NodeNetns,
    };

    public void Update(V1Pod pod)
    {
        Volatile.Write(ref _pod, pod);
        Wake();
    }

    /// <summary>The Pod no longer exists in the API (deleted with grace 0, or while the agent was down).</summary>
    public void GoneFromApi()
    {
        _goneFromApi = true;
        Wake();
    }

    private void Wake() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested && !Finished)
        {
            // Taken before the pass: an update during the pass completes it, so the next pass starts at once.
            var wake = Volatile.Read(ref _wake).Task;
            try
            {
                await SyncAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or k8s.Autorest.HttpOperationException or HttpRequestException or InvalidOperationException
                or UnauthorizedAccessException or JsonException or CniException or SandboxException or LaunchException or ContainerConfigException
                or OperationCanceledException)
            {
                Log.SyncFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
            }
            if (Finished)
            {
                return;
            }
            try
            {
                await Task.WhenAny(wake, Task.Delay(_s.Options.RelistPeriod, _s.Time, ct)).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass of the state machine (also driven directly by unit tests).</summary>
    public async Task SyncAsync(CancellationToken ct)
    {
        var pod = Pod;
        if (_goneFromApi || pod is null)
        {
            await StopAllAsync(pod, TimeSpan.FromSeconds(2), runPreStop: false, ct).ConfigureAwait(false);
            await TeardownAsync(removeDir: true, ct).ConfigureAwait(false);
            Finished = true;
            return;
        }
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            if (!_dirRemoved)
            {
                var grace = TimeSpan.FromSeconds(pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec?.TerminationGracePeriodSeconds ?? 30);
                await TerminateAsync(pod, grace, ct).ConfigureAwait(false);
                await TeardownAsync(removeDir: true, ct).ConfigureAwait(false);
            }
            // A failed delete throws and is retried on the next pass; the Pod stays Terminating until it succeeds.
            await _s.Api.DeleteAsync(pod, ct).ConfigureAwait(false);
            Finished = true;
            return;
        }
        var now = _s.Time.GetUtcNow().UtcDateTime;
        _record.StartTime ??= now;
        _record.HostNetwork = pod.Spec?.HostNetwork == true;
        PollContainers(pod, now);
        if (!_repaired)
        {
            await RepairAsync(pod, ct).ConfigureAwait(false);
        }
        var phase = Phase(pod);
        if (phase is "Succeeded" or "Failed")
        {
            // A finished Pod keeps its logs but gives its address back.
            if (_record.SandboxReady || _record.CniResult is not null)
            {
                await TeardownAsync(removeDir: false, ct).ConfigureAwait(false);
            }
        }
        else
        {
            if (!_record.SandboxReady && now >= _sandboxRetryAt)
            {
                await CreateSandboxAsync(pod, now, ct).ConfigureAwait(false);
            }
            if (_record.SandboxReady)
            {
                if (await InitializeAsync(pod, now, ct).ConfigureAwait(false))
                {
                    foreach (var c in pod.Spec?.Containers ?? [])
                    {
                        await MaybeStartAsync(pod, c, now, ct).ConfigureAwait(false);
                    }
                }
                await RunProbesAsync(pod, ct).ConfigureAwait(false);
                if (pod.Spec?.AutomountServiceAccountToken != false && _s.Time.GetUtcNow().UtcDateTime >= _tokenRefreshAt)
                {
                    await WriteTokenAsync(pod, Sandbox, ct).ConfigureAwait(false);
                }
                PollContainers(pod, _s.Time.GetUtcNow().UtcDateTime);
            }
        }
        Save();
        PublishViews();
        await WriteStatusAsync(pod, ct).ConfigureAwait(false);
    }

    /// <summary>Once per worker: a sandbox from an earlier agent gets its namespace files back, or is made again.</summary>
    private async Task RepairAsync(V1Pod pod, CancellationToken ct)
    {
        _repaired = true;
        if (!_record.SandboxReady)
        {
            return;
        }
        // The token file of an earlier agent has an unknown age: renew it now.
        _tokenRefreshAt = DateTime.MinValue;
        var live = _record.Containers.Values.Select(c => c.Pid).FirstOrDefault(p => p is not null);
        try
        {
            if (await _s.Sandboxes.RepairAsync(Sandbox, live, ct).ConfigureAwait(false))
            {
                KeepProbeResults(pod);
                if (!_record.HostNetwork && _s.Cni is { } check && _record.CniResult is { } cached)
                {
                    try
                    {
                        // CNI CHECK of the adopted network: a failure is reported, the running containers are left alone.
                        await check.CheckAsync(CniPod(pod), cached, ct).ConfigureAwait(false);
                    }
                    catch (CniException e)
                    {
                        _s.Api.Event(pod, "Warning", "FailedCheckPodSandBox", "Pod sandbox network check failed: " + e.Message);
                    }
                }
                return;
            }
        }
        catch (SandboxException e)
        {
            Log.SandboxFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
        }
        // The network namespace is gone with every container: give the address back and build the sandbox again.
        if (_s.Cni is { } cni)
        {
            try
            {
                await cni.DelAsync(CniPod(pod), _record.CniResult, ct).ConfigureAwait(false);
            }
            catch (CniException e)
            {
                Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
            }
        }
        _record.CniResult = null;
        _record.SandboxReady = false;
        _record.PodIps = [];
    }

    /// <summary>Persists the record when it changed (every pass would otherwise rewrite it once a second).</summary>
    private void Save()
    {
        if (Finished || _dirRemoved)
        {
            return;
        }
        var json = _record.Serialize();
        if (json != _lastSavedJson)
        {
            PodRecord.Save(PodDir, json);
            _lastSavedJson = json;
        }
    }

    private async Task CreateSandboxAsync(V1Pod pod, DateTime now, CancellationToken ct)
    {
        var spec = Sandbox;
        // The record is the ledger of what this node made: it exists before the namespaces do.
        Save();
        // Sandbox and CNI ADD durations are logged: the Pod start-up benchmark reports them per Pod.
        var started = _s.Time.GetTimestamp();
        var cniTime = TimeSpan.Zero;
        try
        {
            await _s.Sandboxes.CreateAsync(spec, ct).ConfigureAwait(false);
            var namespacesMs = (long)_s.Time.GetElapsedTime(started).TotalMilliseconds;
            if (!_record.HostNetwork)
            {
                var cni = _s.Cni ?? throw new CniException("the node has no Pod CIDRs yet");
                var cniStarted = _s.Time.GetTimestamp();
                var result = await cni.AddAsync(CniPod(pod), ct).ConfigureAwait(false);
                cniTime = _s.Time.GetElapsedTime(cniStarted);
                _record.CniResult = result.Json;
                _record.PodIps = [.. result.PodIps];
            }
            else
            {
                _record.PodIps = [.. _s.Options.NodeIps];
            }
            var resolv = SandboxFiles.ResolvConf(pod, _s.Options.ClusterDns, _s.Options.ClusterDomain, ReadOrEmpty(_s.Options.HostResolvConf));
            var hosts = _record.HostNetwork ? SandboxFiles.HostNetworkHosts(pod, ReadOrEmpty("/etc/hosts")) : SandboxFiles.Hosts(pod, _record.PodIps, _s.Options.ClusterDomain);
            await _s.Sandboxes.WriteFilesAsync(spec, resolv, hosts, ct).ConfigureAwait(false);
            await WriteServiceAccountAsync(pod, spec, ct).ConfigureAwait(false);
            _record.SandboxReady = true;
            _sandboxBackoff = TimeSpan.FromSeconds(1);
            Save();
            var sandboxMs = (long)_s.Time.GetElapsedTime(started).TotalMilliseconds;
            Log.SandboxReady(_s.Logger, _record.Namespace, _record.Name, sandboxMs, namespacesMs, (long)cniTime.TotalMilliseconds);
        }
        catch (Exception e) when (e is CniException or SandboxException or IOException or UnauthorizedAccessException)
        {
            Log.SandboxFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
            _s.Api.Event(pod, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: " + e.Message);
            // Half an ADD must not leak addresses: DEL always follows a failure.
            if (!_record.HostNetwork && _s.Cni is { } cni)
            {
                try
                {
                    await cni.DelAsync(CniPod(pod), _record.CniResult, ct).ConfigureAwait(false);
                }
                catch (CniException del)
                {
                    Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, del.Message);
                }
            }
            _record.CniResult = null;
            _record.PodIps = [];
            _sandboxRetryAt = now + _sandboxBackoff;
            _sandboxBackoff = TimeSpan.FromTicks(Math.Min(_sandboxBackoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    private async Task WriteServiceAccountAsync(V1Pod pod, SandboxSpec spec, CancellationToken ct)
    {
        if (pod.Spec?.AutomountServiceAccountToken == false)
        {
            return;
        }
        Directory.CreateDirectory(spec.ServiceAccountDir);
        await WriteTokenAsync(pod, spec, ct).ConfigureAwait(false);
        if (_s.Options.CaPem is { } ca)
        {
            await File.WriteAllTextAsync(Path.Combine(spec.ServiceAccountDir, "ca.crt"), ca, ct).ConfigureAwait(false);
        }
        await File.WriteAllTextAsync(Path.Combine(spec.ServiceAccountDir, "namespace"), pod.Metadata.NamespaceProperty ?? "default", ct).ConfigureAwait(false);
    }

    /// <summary>The bound token, renewed at 80 % of its lifetime as kubelet's token manager does.</summary>
    private async Task WriteTokenAsync(V1Pod pod, SandboxSpec spec, CancellationToken ct)
    {
        var token = await _s.Dependencies.ServiceAccountTokenAsync(pod, ct).ConfigureAwait(false);
        var now = _s.Time.GetUtcNow().UtcDateTime;
        if (token is null)
        {
            _tokenRefreshAt = now + TimeSpan.FromMinutes(1);
            return;
        }
        Directory.CreateDirectory(spec.ServiceAccountDir);
        var tmp = Path.Combine(spec.ServiceAccountDir, ".token.tmp");
        await File.WriteAllTextAsync(tmp, token, ct).ConfigureAwait(false);
        // A rename is atomic for readers; the directory (not the file) is what the Pod's mount binds.
        File.Move(tmp, Path.Combine(spec.ServiceAccountDir, "token"), overwrite: true);
        _tokenRefreshAt = now + TokenLifetime * 0.8;
    }

    internal static readonly TimeSpan TokenLifetime = TimeSpan.FromDays(1);

    private CniPod CniPod(V1Pod? pod)
    {
        var mappings = new List<PortMapping>();
        foreach (var port in (pod?.Spec?.Containers ?? []).SelectMany(c => c.Ports ?? []))
        {
            if (port.HostPort is > 0 && pod?.Spec?.HostNetwork != true)
            {
                mappings.Add(new PortMapping(port.HostPort.Value, port.ContainerPort, port.Protocol ?? "TCP", port.HostIP ?? ""));
            }
        }
        return new CniPod(_record.Uid, "/run/netns/" + _record.Netns, _record.Namespace, _record.Name, _record.Uid) { PortMappings = mappings };
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    private ContainerRecord Container(string name)
    {
        if (!_record.Containers.TryGetValue(name, out var c))
        {
            c = new ContainerRecord();
            _record.Containers[name] = c;
        }
        return c;
    }

    private void PollContainers(V1Pod? pod, DateTime now)
    {
        foreach (var (name, c) in _record.Containers)
        {
            if (c.Process is { } p && _s.Launcher.Poll(p) is { } exit)
            {
                OnExited(name, c, exit, now);
            }
        }
    }

    private void OnExited(string name, ContainerRecord c, ProcessExit exit, DateTime now)
    {
        var started = c.StartedAt ?? now;
        var code = exit.ExitCode ?? 137;
        var reason = exit.ExitCode is null ? "ContainerStatusUnknown" : code == 0 ? "Completed" : "Error";
        c.Terminated = new TerminationRecord(code, reason, started, now, c.ContainerId,
            exit.ExitCode is null ? "The container could not be located when the agent restarted" : null);
        c.Pid = null;
        c.PidStartTime = null;
        // kubelet's back-off: the first restart is immediate, then 10 s doubling to 5 min; a run of 10 min resets it.
        if (c.Backoff is null || now - started >= BackoffReset)
        {
            c.BackoffUntil = now;
            c.Backoff = BackoffInitial;
        }
        else
        {
            c.BackoffUntil = now + c.Backoff.Value;
            c.Backoff = TimeSpan.FromTicks(Math.Min(c.Backoff.Value.Ticks * 2, BackoffMax.Ticks));
        }
        foreach (var key in _probes.Keys.Where(k => k.Container == name).ToList())
        {
            _probes.TryRemove(key, out _);
        }
        Log.ContainerExited(_s.Logger, _record.Namespace, _record.Name, name, code);
    }

    /// <summary>
    /// Init containers run one at a time, in order, each to a successful exit, before any app container (kubelet's
    /// computeInitContainerActions); a sidecar (restartPolicy Always) counts as done once it runs and keeps running.
    /// </summary>
    private async Task<bool> InitializeAsync(V1Pod pod, DateTime now, CancellationToken ct)
    {
        var inits = pod.Spec?.InitContainers ?? [];
        if (_record.Initialized)
        {
            foreach (var sidecar in inits.Where(IsSidecar))
            {
                await MaybeStartAsync(pod, sidecar, now, ct, init: true).ConfigureAwait(false);
            }
            return true;
        }
        foreach (var init in inits)
        {
            var c = Container(init.Name);
            if (IsSidecar(init))
            {
                await MaybeStartAsync(pod, init, now, ct, init: true).ConfigureAwait(false);
                if (c.Pid is null)
                {
                    return false;
                }
                continue;
            }
            if (c.Pid is null && c.Terminated is { ExitCode: 0 })
            {
                continue;
            }
            if (c.Pid is null)
            {
                await MaybeStartAsync(pod, init, now, ct, init: true).ConfigureAwait(false);
            }
            return false;
        }
        _record.Initialized = true;
        return true;
    }

    private static bool IsSidecar(V1Container init) => init.RestartPolicy == "Always";

    private static bool ShouldRun(V1Pod pod, ContainerRecord c, bool init = false)
    {
        if (c.Runs == 0)
        {
            return true;
        }
        if (init)
        {
            return c.Sidecar || c.Terminated is { ExitCode: not 0 } && pod.Spec?.RestartPolicy != "Never";
        }
        return (pod.Spec?.RestartPolicy ?? "Always") switch
        {
            "Always" => true,
            "OnFailure" => c.Terminated is { ExitCode: not 0 },
            _ => false,
        };
    }

    private async Task MaybeStartAsync(V1Pod pod, V1Container container, DateTime now, CancellationToken ct, bool init = false)
    {
        var c = Container(container.Name);
        c.Sidecar = init && IsSidecar(container);
        if (c.Pid is not null || !ShouldRun(pod, c, init))
        {
            return;
        }
        if (c.BackoffUntil is { } until && until > now)
        {
            if (c.BackoffEventFor != c.Runs)
            {
                c.BackoffEventFor = c.Runs;
                _s.Api.Event(pod, "Warning", "BackOff", $"Back-off restarting failed container {container.Name} in pod {pod.Metadata.Name}_{pod.Metadata.NamespaceProperty}({pod.Metadata.Uid})");
            }
            return;
        }
        if (ContainerCommand.Resolve(container, _s.Agnhost) is { CanRun: false } cannot)
        {
            c.WaitingReason = cannot.WaitingReason;
            c.WaitingMessage = cannot.WaitingMessage;
            return;
        }
        Dictionary<string, string> env;
        try
        {
            env = await ContainerEnv.BuildAsync(pod, container, _record.PodIps, _s.Options.NodeIps, _s.Dependencies, _s.Node, ct).ConfigureAwait(false);
        }
        catch (ContainerConfigException e)
        {
            if (c.WaitingReason != "CreateContainerConfigError" || c.WaitingMessage != e.Message)
            {
                _s.Api.Event(pod, "Warning", "Failed", "Error: " + e.Message);
            }
            c.WaitingReason = "CreateContainerConfigError";
            c.WaitingMessage = e.Message;
            return;
        }
        var command = ContainerCommand.Resolve(container, _s.Agnhost, env);
        var restart = c.Runs > 0;
        var restartCount = restart ? c.RestartCount + 1 : c.RestartCount;
        var log = PodNames.LogPath(PodDir, container.Name, restartCount);
        var argv = Sandbox.ExecPrefix().Concat(command.Argv).ToList();
        ProcessId process;
        try
        {
            process = _s.Launcher.Start(new LaunchSpec(argv, env, log, string.IsNullOrEmpty(container.WorkingDir) ? "/" : container.WorkingDir));
        }
        catch (LaunchException e)
        {
            c.WaitingReason = "RunContainerError";
            c.WaitingMessage = e.Message;
            _s.Api.Event(pod, "Warning", "Failed", "Error: " + e.Message);
            return;
        }
        if (restart)
        {
            c.RestartCount = restartCount;
            c.LastTerminated = c.Terminated;
            c.PreviousLogPath = c.LogPath;
        }
        c.Terminated = null;
        c.WaitingReason = null;
        c.WaitingMessage = null;
        c.Pid = process.Pid;
        c.PidStartTime = process.StartTime;
        c.StartedAt = now;
        c.Runs++;
        c.ContainerId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        c.Environment = env;
        c.LogPath = log;
        Save();
        Log.ContainerStarted(_s.Logger, _record.Namespace, _record.Name, container.Name, process.Pid);
        _s.Api.Event(pod, "Normal", "Started", $"Started container {container.Name}");
        if (container.Lifecycle?.PostStart is { } postStart)
        {
            // As kubelet: the hook runs right after the start; if it fails the container is killed (and restarted per policy).
            var error = await _s.Prober.RunHandlerAsync(Target(pod, container, c), postStart, ct).ConfigureAwait(false);
            if (error is not null)
            {
                _s.Api.Event(pod, "Warning", "FailedPostStartHook", $"PostStartHook failed: {error}");
                await StopContainerAsync(container.Name, c, TimeSpan.FromSeconds(pod.Spec?.TerminationGracePeriodSeconds ?? 30), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops one container: SIGTERM to its process group, up to <paramref name="grace"/>, then SIGKILL.</summary>
    private async Task StopContainerAsync(string name, ContainerRecord c, TimeSpan grace, CancellationToken ct)
    {
        if (c.Process is not { } p)
        {
            return;
        }
        _s.Launcher.Signal(p, Signals.SigTerm);
        var deadline = _s.Time.GetUtcNow() + grace;
        while (true)
        {
            if (_s.Launcher.Poll(p) is { } exit)
            {
                OnExited(name, c, exit, _s.Time.GetUtcNow().UtcDateTime);
                return;
            }
            if (_s.Time.GetUtcNow() >= deadline)
            {
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), _s.Time, ct).ConfigureAwait(false);
        }
        _s.Launcher.Signal(p, Signals.SigKill);
        for (var i = 0; i < 100; i++)
        {
            if (_s.Launcher.Poll(p) is { } exit)
            {
                OnExited(name, c, exit, _s.Time.GetUtcNow().UtcDateTime);
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), _s.Time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops every running container at once, each as kubelet's killContainer: the Killing event, its own preStop
    /// hook (bounded by the grace period), then SIGTERM with what is left of the grace (at least 2 s,
    /// minimumGracePeriodInSeconds) and SIGKILL. A container gets its SIGTERM as soon as its own hook is done.
    /// </summary>
    private async Task StopAllAsync(V1Pod? pod, TimeSpan grace, bool runPreStop, CancellationToken ct)
    {
        var running = _record.Containers.Where(kv => kv.Value.Pid is not null).ToList();
        if (running.Count == 0)
        {
            return;
        }
        var start = _s.Time.GetUtcNow();
        await Task.WhenAll(running.Select(kv => StopOneAsync(kv.Key, kv.Value))).ConfigureAwait(false);
        Save();
        PublishViews();

        async Task StopOneAsync(string name, ContainerRecord c)
        {
            if (pod is not null)
            {
                _s.Api.Event(pod, "Normal", "Killing", $"Stopping container {name}");
            }
            var spec = pod?.Spec?.Containers?.FirstOrDefault(x => x.Name == name);
            if (runPreStop && pod is not null && spec?.Lifecycle?.PreStop is { } preStop)
            {
                var hook = RunPreStopAsync(pod, spec, c, preStop, ct);
                await Task.WhenAny(hook, Task.Delay(grace, _s.Time, ct)).ConfigureAwait(false);
            }
            var left = grace - (_s.Time.GetUtcNow() - start);
            if (left < TimeSpan.FromSeconds(2))
            {
                left = TimeSpan.FromSeconds(2);
            }
            await StopContainerAsync(name, c, left, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Graceful termination as kubelet: preStop hooks, SIGTERM, grace, SIGKILL; meanwhile readiness probes keep
    /// running and the status is written (liveness and startup stop), so a Pod that turns unready while it shuts
    /// down becomes a terminating, non-serving endpoint, and containers that exited show as terminated.
    /// </summary>
    private async Task TerminateAsync(V1Pod pod, TimeSpan grace, CancellationToken ct)
    {
        var stopping = StopAllAsync(pod, grace, runPreStop: true, ct);
        while (!stopping.IsCompleted)
        {
            await Task.WhenAny(stopping, Task.Delay(_s.Options.RelistPeriod, _s.Time, ct)).ConfigureAwait(false);
            if (stopping.IsCompleted)
            {
                break;
            }
            try
            {
                await RunProbesAsync(pod, ct, readinessOnly: true).ConfigureAwait(false);
                await WriteStatusAsync(pod, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or k8s.Autorest.HttpOperationException or HttpRequestException or InvalidOperationException)
            {
                // Status during termination is best effort; stopping the containers is what matters.
                Log.SyncFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
            }
        }
        await stopping.ConfigureAwait(false);
        try
        {
            await WriteStatusAsync(pod, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or k8s.Autorest.HttpOperationException or HttpRequestException or InvalidOperationException)
        {
            Log.SyncFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
        }
    }

    private async Task RunPreStopAsync(V1Pod pod, V1Container container, ContainerRecord c, V1LifecycleHandler handler, CancellationToken ct)
    {
        var error = await _s.Prober.RunHandlerAsync(Target(pod, container, c), handler, ct).ConfigureAwait(false);
        if (error is not null)
        {
            _s.Api.Event(pod, "Warning", "FailedPreStopHook", $"PreStopHook failed: {error}");
        }
    }

    private ProbeTarget Target(V1Pod pod, V1Container container, ContainerRecord c) =>
        new(pod, container, _record.PodIps.Count > 0 ? _record.PodIps[0] : null, Sandbox.ExecPrefix(), c.Environment ?? []);

    /// <summary>CNI DEL (always, even without a cached result), then the namespaces and /etc/netns files.</summary>
    private async Task TeardownAsync(bool removeDir, CancellationToken ct)
    {
        if (!_record.HostNetwork && _s.Cni is { } cni)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await cni.DelAsync(CniPod(Pod), _record.CniResult, ct).ConfigureAwait(false);
                    break;
                }
                catch (CniException e) when (attempt < 2)
                {
                    Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), _s.Time, ct).ConfigureAwait(false);
                }
                catch (CniException e)
                {
                    Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
                    break;
                }
            }
        }
        try
        {
            await _s.Sandboxes.RemoveAsync(Sandbox, ct).ConfigureAwait(false);
        }
        catch (SandboxException e)
        {
            Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
        }
        _record.CniResult = null;
        _record.SandboxReady = false;
        if (removeDir)
        {
            _dirRemoved = true;
            try
            {
                if (Directory.Exists(PodDir))
                {
                    Directory.Delete(PodDir, recursive: true);
                }
            }
            catch (IOException e)
            {
                Log.TeardownFailed(_s.Logger, _record.Namespace, _record.Name, e.Message);
            }
        }
        else
        {
            Save();
        }
        PublishViews();
    }

    private void PublishViews()
    {
        var builder = ImmutableDictionary.CreateBuilder<string, ContainerView>(StringComparer.Ordinal);
        var prefix = Sandbox.ExecPrefix();
        foreach (var (name, c) in _record.Containers)
        {
            builder[name] = new ContainerView
            {
                PodNamespace = _record.Namespace,
                PodName = _record.Name,
                PodUid = _record.Uid,
                Container = name,
                ExecPrefix = prefix,
                Environment = c.Environment ?? new Dictionary<string, string>(),
                WorkingDirectory = Pod?.Spec?.Containers?.FirstOrDefault(x => x.Name == name)?.WorkingDir is { Length: > 0 } wd ? wd : "/",
                NetworkNamespace = _record.HostNetwork ? _s.Options.NodeNetns : _record.Netns,
                CurrentLog = c.LogPath,
                PreviousLog = c.PreviousLogPath,
                Running = c.Pid is not null,
            };
        }
        Volatile.Write(ref _views, builder.ToImmutable());
    }

    internal string Phase(V1Pod pod)
    {
        if (!_record.Initialized && pod.Spec?.InitContainers is { Count: > 0 } inits)
        {
            // An init container that failed and will not be retried fails the Pod.
            var failed = pod.Spec.RestartPolicy == "Never" && inits.Any(i => !IsSidecar(i) && _record.Containers.TryGetValue(i.Name, out var r) && r.Pid is null && r.Terminated is { ExitCode: not 0 });
            return failed ? "Failed" : "Pending";
        }
        int running = 0, waiting = 0, stopped = 0, succeeded = 0;
        foreach (var spec in pod.Spec?.Containers ?? [])
        {
            if (!_record.Containers.TryGetValue(spec.Name, out var c) || c.Runs == 0)
            {
                waiting++;
            }
            else if (c.Pid is not null)
            {
                running++;
            }
            else
            {
                stopped++;
                if (c.Terminated is { ExitCode: 0 })
                {
                    succeeded++;
                }
            }
        }
        if (waiting > 0)
        {
            return "Pending";
        }
        if (running > 0)
        {
            return "Running";
        }
        if (stopped > 0)
        {
            var policy = pod.Spec?.RestartPolicy ?? "Always";
            // A container that will be restarted keeps the Pod Running; one that will not decides the end.
            if (policy == "Always" || (policy == "OnFailure" && stopped != succeeded))
            {
                return "Running";
            }
            return stopped == succeeded ? "Succeeded" : "Failed";
        }
        return "Pending";
    }

    private async Task WriteStatusAsync(V1Pod pod, CancellationToken ct)
    {
        var status = BuildStatus(pod);
        var json = KubernetesJson.Serialize(status);
        if (json == _lastStatusJson && !Drifted(pod.Status, status))
        {
            return;
        }
        await _s.Api.UpdateStatusAsync(pod, status, ct).ConfigureAwait(false);
        _lastStatusJson = json;
    }

    /// <summary>
    /// True when someone else changed what this node owns (e.g. the node lifecycle controller set Ready False while
    /// the node was unreachable): as kubelet's status manager, the runtime writes its view again.
    /// </summary>
    private static bool Drifted(V1PodStatus? api, V1PodStatus mine) =>
        api is null
        || api.Phase != mine.Phase
        || api.PodIP != mine.PodIP
        || (api.ContainerStatuses?.Count ?? 0) != (mine.ContainerStatuses?.Count ?? 0)
        || mine.Conditions.Any(c => api.Conditions?.FirstOrDefault(x => x.Type == c.Type)?.Status != c.Status);

    internal V1PodStatus BuildStatus(V1Pod pod)
    {
        var phase = Phase(pod);
        var statuses = new List<V1ContainerStatus>();
        var notReady = new List<string>();
        foreach (var spec in pod.Spec?.Containers ?? [])
        {
            var c = Container(spec.Name);
            var status = ContainerStatus(pod, spec, c);
            statuses.Add(status);
            if (status.Ready != true)
            {
                notReady.Add(spec.Name);
            }
        }
        var initStatuses = new List<V1ContainerStatus>();
        var incomplete = new List<string>();
        foreach (var spec in pod.Spec?.InitContainers ?? [])
        {
            var status = ContainerStatus(pod, spec, Container(spec.Name), init: true);
            initStatuses.Add(status);
            if (!(status.State.Terminated is { ExitCode: 0 } || IsSidecar(spec) && status.State.Running is not null))
            {
                incomplete.Add(spec.Name);
            }
        }
        var initialized = _record.Initialized || pod.Spec?.InitContainers is not { Count: > 0 };
        var terminal = phase is "Succeeded" or "Failed";
        var containersReady = notReady.Count == 0 && !terminal;
        var gates = (pod.Spec?.ReadinessGates ?? []).Select(g => g.ConditionType).ToList();
        var failedGates = gates.Where(g => pod.Status?.Conditions?.FirstOrDefault(c => c.Type == g)?.Status != "True").ToList();
        var old = pod.Status?.Conditions ?? [];
        string notReadyMessage = $"containers with unready status: [{string.Join(' ', notReady)}]";
        var conditions = new List<V1PodCondition>
        {
            Condition(old, "PodReadyToStartContainers", _record.SandboxReady || terminal && _record.Containers.Count > 0 ? "True" : "False", null, null),
            Condition(old, "Initialized", initialized ? "True" : "False", initialized ? null : "ContainersNotInitialized", initialized ? null : $"containers with incomplete status: [{string.Join(' ', incomplete)}]"),
            Condition(old, "Ready", containersReady && failedGates.Count == 0 ? "True" : "False",
                terminal ? "PodCompleted" : !containersReady ? "ContainersNotReady" : failedGates.Count > 0 ? "ReadinessGatesNotReady" : null,
                terminal ? null : !containersReady ? notReadyMessage : failedGates.Count > 0 ? $"corresponding condition of pod readiness gate \"{failedGates[0]}\" does not exist." : null),
            Condition(old, "ContainersReady", containersReady ? "True" : "False", terminal ? "PodCompleted" : containersReady ? null : "ContainersNotReady", terminal || containersReady ? null : notReadyMessage),
            old.FirstOrDefault(c => c.Type == "PodScheduled") ?? new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = _record.StartTime },
        };
        return new V1PodStatus
        {
            Phase = phase,
            Conditions = conditions,
            HostIP = _s.Options.NodeIps.Count > 0 ? _s.Options.NodeIps[0] : null,
            HostIPs = _s.Options.NodeIps.Select(ip => new V1HostIP { Ip = ip }).ToList(),
            PodIP = _record.PodIps.Count > 0 ? _record.PodIps[0] : null,
            PodIPs = _record.PodIps.Count == 0 ? null : _record.PodIps.Select(ip => new V1PodIP { Ip = ip }).ToList(),
            StartTime = _record.StartTime,
            ContainerStatuses = statuses,
            InitContainerStatuses = initStatuses.Count > 0 ? initStatuses : null,
            QosClass = pod.Status?.QosClass ?? "BestEffort",
        };
    }

    private V1PodCondition Condition(IList<V1PodCondition> old, string type, string status, string? reason, string? message)
    {
        var previous = old.FirstOrDefault(c => c.Type == type);
        return new V1PodCondition
        {
            Type = type,
            Status = status,
            Reason = reason,
            Message = message,
            LastTransitionTime = previous?.Status == status && previous.LastTransitionTime is not null ? previous.LastTransitionTime : _s.Time.GetUtcNow().UtcDateTime,
        };
    }

    private V1ContainerStatus ContainerStatus(V1Pod pod, V1Container spec, ContainerRecord c, bool init = false)
    {
        var state = new V1ContainerState();
        bool ready = false, started = false;
        if (c.Pid is not null)
        {
            state.Running = new V1ContainerStateRunning { StartedAt = c.StartedAt };
            started = spec.StartupProbe is null || _probes.GetValueOrDefault((spec.Name, "startup"))?.Result == true;
            ready = started && (spec.ReadinessProbe is null || _probes.GetValueOrDefault((spec.Name, "readiness"))?.Result == true);
        }
        else if (c.WaitingReason is not null)
        {
            state.Waiting = new V1ContainerStateWaiting { Reason = c.WaitingReason, Message = c.WaitingMessage };
        }
        else if (c.Terminated is { } t && ShouldRun(pod, c, init) && Phase(pod) is not ("Succeeded" or "Failed") && pod.Metadata.DeletionTimestamp is null)
        {
            var delay = c.BackoffUntil is { } until ? until - _s.Time.GetUtcNow().UtcDateTime : TimeSpan.Zero;
            state.Waiting = delay > TimeSpan.Zero
                ? new V1ContainerStateWaiting
                {
                    Reason = "CrashLoopBackOff",
                    Message = $"back-off {FormatDuration(t.FinishedAt, c.BackoffUntil!.Value)} restarting failed container={spec.Name} pod={pod.Metadata.Name}_{pod.Metadata.NamespaceProperty}({pod.Metadata.Uid})",
                }
                : new V1ContainerStateWaiting { Reason = "ContainerCreating" };
        }
        else if (c.Terminated is { } done)
        {
            state.Terminated = Terminated(done);
        }
        else
        {
            var initializing = !init && !_record.Initialized && pod.Spec?.InitContainers is { Count: > 0 };
            state.Waiting = new V1ContainerStateWaiting { Reason = initializing ? "PodInitializing" : "ContainerCreating" };
        }
        if (init && !IsSidecar(spec) && state.Terminated is { ExitCode: 0 })
        {
            // A completed init container reports ready, as kubelet does.
            ready = true;
        }
        var last = new V1ContainerState();
        var lastTerm = state.Waiting is not null && c.Terminated is not null ? c.Terminated : c.LastTerminated;
        if (lastTerm is not null)
        {
            last.Terminated = Terminated(lastTerm);
        }
        return new V1ContainerStatus
        {
            Name = spec.Name,
            Image = spec.Image,
            ImageID = spec.Image ?? "",
            ContainerID = c.ContainerId is null ? null : "switchboard://" + c.ContainerId,
            State = state,
            LastState = last,
            Ready = ready,
            Started = started,
            RestartCount = c.RestartCount,
        };
    }

    private static V1ContainerStateTerminated Terminated(TerminationRecord t) => new()
    {
        ExitCode = t.ExitCode,
        Reason = t.Reason,
        Message = t.Message,
        StartedAt = t.StartedAt,
        FinishedAt = t.FinishedAt,
        ContainerID = t.ContainerId is null ? null : "switchboard://" + t.ContainerId,
    };

    private static string FormatDuration(DateTime from, DateTime to)
    {
        var d = to - from;
        return d.TotalMinutes >= 1 ? $"{(int)d.TotalMinutes}m{d.Seconds}s" : $"{(int)d.TotalSeconds}s";
    }

    internal string DebugState() => JsonSerializer.Serialize(_record);
}
