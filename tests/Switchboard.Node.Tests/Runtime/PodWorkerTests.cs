using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

/// <summary>The Pod state machine with fake kernel effects and virtual time.</summary>
public sealed class PodWorkerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sbt-worker-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly FakeLauncher _launcher = new();
    private readonly FakeCni _cni = new();
    private readonly FakeSandboxes _sandboxes = new();
    private readonly FakePodApi _api = new();
    private readonly FakeProber _prober = new();
    private readonly FakeDependencies _deps = new();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private PodWorker Worker(V1Pod pod)
    {
        var services = new RuntimeServices(
            new RuntimeOptions { NodeName = "n1", DataDir = _dir, NetnsPrefix = "sb-test01", NodeIps = ["172.18.0.11", "fd00:172:18::11"], ClusterDns = ["10.96.0.10"] },
            _sandboxes, _launcher, _prober, _api, _deps, _time, NullLogger.Instance)
        {
            Cni = _cni,
            Agnhost = "/x/switchboard-agnhost",
            Node = new NodeResources(2, 1024, 0),
        };
        return new PodWorker(services, new PodRecord { Namespace = "default", Name = pod.Metadata.Name, Uid = pod.Metadata.Uid, Netns = PodNames.Netns("sb-test01", pod.Metadata.Uid) }, pod);
    }

    private static V1Pod Pod(string restartPolicy = "Always", params V1Container[] containers) => new()
    {
        Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default", Uid = "uid-1" },
        Spec = new V1PodSpec
        {
            NodeName = "n1",
            RestartPolicy = restartPolicy,
            TerminationGracePeriodSeconds = 30,
            Containers = containers.Length > 0 ? containers : [new V1Container { Name = "c", Image = "busybox", Command = ["sleep", "1000"] }],
        },
    };

    private V1PodStatus Status(V1Pod pod) => _api.Statuses[pod.Metadata.Uid];

    [Fact]
    public async Task Sync_NewPod_SandboxCniThenContainerThroughThePrefix_RunningWithIps()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["create " + worker.Record.Netns, "files " + worker.Record.Netns], _sandboxes.Calls);
        Assert.Equal(["ADD uid-1"], _cni.Calls);
        var argv = _launcher.Started.Single().Argv;
        Assert.Equal(["/usr/bin/nsenter", "--mount=" + Path.Combine(worker.PodDir, "mnt"), "--", "/usr/sbin/ip", "netns", "exec", worker.Record.Netns, "/usr/bin/nsenter", "--uts=" + Path.Combine(worker.PodDir, "uts"), "--", "sleep", "1000"], argv);
        Assert.Equal(Path.Combine(worker.PodDir, "c", "0.log"), _launcher.Started[0].LogPath);
        var s = Status(pod);
        Assert.Equal("Running", s.Phase);
        Assert.Equal("10.244.1.5", s.PodIP);
        Assert.Equal(["10.244.1.5", "fd00::5"], s.PodIPs.Select(i => i.Ip));
        Assert.Equal(["172.18.0.11", "fd00:172:18::11"], s.HostIPs.Select(i => i.Ip));
        Assert.Equal(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"], s.Conditions.Select(c => c.Type));
        Assert.All(s.Conditions, c => Assert.Equal("True", c.Status));
        var cs = s.ContainerStatuses.Single();
        Assert.NotNull(cs.State.Running);
        Assert.True(cs.Ready);
        Assert.True(cs.Started);
        Assert.StartsWith("switchboard://", cs.ContainerID, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(worker.PodDir, "state.json")));
    }

    [Fact]
    public async Task Sync_NothingChanged_StatusWrittenOnce()
    {
        var worker = Worker(Pod());
        await worker.SyncAsync(CancellationToken.None);
        await worker.SyncAsync(CancellationToken.None);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(1, _api.StatusWrites);
    }

    [Fact]
    public async Task Sync_SomeoneElseSetReadyFalse_StatusWrittenAgain()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        pod.Status = k8s.KubernetesJson.Deserialize<V1PodStatus>(k8s.KubernetesJson.Serialize(pod.Status));
        pod.Status.Conditions.Single(c => c.Type == "Ready").Status = "False";
        worker.Update(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _api.StatusWrites);
        Assert.Equal("True", Status(pod).Conditions.Single(c => c.Type == "Ready").Status);
    }

    [Fact]
    public async Task Sync_CniAddFails_EventDelThenRetryWithBackoff()
    {
        _cni.FailAdds = 1;
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Contains(_api.Events, e => e.Reason == "FailedCreatePodSandBox" && e.Type == "Warning" && e.Message.Contains("no IP addresses", StringComparison.Ordinal));
        Assert.Equal(["ADD uid-1", "DEL uid-1"], _cni.Calls);
        Assert.Equal("Pending", Status(pod).Phase);
        Assert.Equal("False", Status(pod).Conditions.Single(c => c.Type == "PodReadyToStartContainers").Status);
        Assert.Empty(_launcher.Started);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _cni.Calls.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal("ADD uid-1", _cni.Calls[^1]);
        Assert.Single(_launcher.Started);
    }

    [Fact]
    public async Task Sync_CrashingContainer_ImmediateRestartThenBackOff10sDoubling()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var pid = worker.Record.Containers["c"].Pid!.Value;
        _launcher.Exit(pid, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
        var c = Status(pod).ContainerStatuses.Single();
        Assert.Equal(1, c.RestartCount);
        Assert.Equal(1, c.LastState.Terminated.ExitCode);
        Assert.Equal("Error", c.LastState.Terminated.Reason);
        Assert.Equal(Path.Combine(worker.PodDir, "c", "1.log"), _launcher.Started[1].LogPath);

        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 2);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
        c = Status(pod).ContainerStatuses.Single();
        Assert.Equal("CrashLoopBackOff", c.State.Waiting.Reason);
        Assert.StartsWith("back-off 10s restarting failed container=c pod=p_default(uid-1)", c.State.Waiting.Message, StringComparison.Ordinal);
        Assert.Equal(2, c.LastState.Terminated.ExitCode);
        Assert.Equal("Running", Status(pod).Phase);
        Assert.Equal("False", Status(pod).Conditions.Single(x => x.Type == "Ready").Status);

        _time.Advance(TimeSpan.FromSeconds(9));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(3, _launcher.Started.Count);
        Assert.Equal(2, Status(pod).ContainerStatuses.Single().RestartCount);

        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.StartsWith("back-off 20s", Status(pod).ContainerStatuses.Single().State.Waiting.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_CrashLoop_OneBackOffEventPerCrash()
    {
        var worker = Worker(Pod());
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        await worker.SyncAsync(CancellationToken.None);
        var backoff = Assert.Single(_api.Events, e => e.Reason == "BackOff");
        Assert.Equal("Back-off restarting failed container c in pod p_default(uid-1)", backoff.Message);
    }

    [Fact]
    public async Task Sync_PostStartHookFails_EventKillAndRestart()
    {
        var pod = Pod("Always", new V1Container
        {
            Name = "c",
            Image = "x",
            Command = ["sleep"],
            Lifecycle = new V1Lifecycle { PostStart = new V1LifecycleHandler { Exec = new V1ExecAction { Command = ["false"] } } },
        });
        _prober.HandlerError = "command 'false' exited with 1";
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Contains(_api.Events, e => e.Reason == "FailedPostStartHook" && e.Message.Contains("exited with 1", StringComparison.Ordinal));
        Assert.Equal(15, _launcher.Signals.Single().Signal);
        _prober.HandlerError = null;
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
        Assert.Equal(1, Status(pod).ContainerStatuses[0].RestartCount);
    }

    [Fact]
    public async Task Sync_ContainerRanTenMinutes_BackOffResets()
    {
        var worker = Worker(Pod());
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(11));
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(3, _launcher.Started.Count);
    }

    [Theory]
    [InlineData("Never", 0, "Succeeded", "Completed")]
    [InlineData("Never", 3, "Failed", "Error")]
    [InlineData("OnFailure", 0, "Succeeded", "Completed")]
    public async Task Sync_RestartPolicy_TerminalPhaseAndTeardown(string policy, int exitCode, string phase, string reason)
    {
        var pod = Pod(policy);
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, exitCode);
        await worker.SyncAsync(CancellationToken.None);
        var s = Status(pod);
        Assert.Equal(phase, s.Phase);
        Assert.Equal(exitCode, s.ContainerStatuses[0].State.Terminated.ExitCode);
        Assert.Equal(reason, s.ContainerStatuses[0].State.Terminated.Reason);
        Assert.Equal("PodCompleted", s.Conditions.Single(c => c.Type == "Ready").Reason);
        Assert.Single(_launcher.Started);
        Assert.Equal("DEL uid-1", _cni.Calls[^1]);
        Assert.Contains("remove " + worker.Record.Netns, _sandboxes.Calls);
    }

    [Fact]
    public async Task Sync_OnFailureWithFailure_Restarts()
    {
        var worker = Worker(Pod("OnFailure"));
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
    }

    [Fact]
    public async Task Sync_ReadinessProbe_ThresholdsDecideReady()
    {
        var probe = new V1Probe { Exec = new V1ExecAction { Command = ["true"] }, InitialDelaySeconds = 5, PeriodSeconds = 2, FailureThreshold = 2, SuccessThreshold = 1 };
        var pod = Pod("Always", new V1Container { Name = "c", Image = "x", Command = ["sleep"], ReadinessProbe = probe });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.False(Status(pod).ContainerStatuses[0].Ready);
        _time.Advance(TimeSpan.FromSeconds(5));
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
        Assert.Equal("True", Status(pod).Conditions.Single(c => c.Type == "Ready").Status);
        _prober.Result = (_, _) => false;
        _time.Advance(TimeSpan.FromSeconds(2));
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
        _time.Advance(TimeSpan.FromSeconds(2));
        await worker.SyncAsync(CancellationToken.None);
        Assert.False(Status(pod).ContainerStatuses[0].Ready);
        Assert.Equal("containers with unready status: [c]", Status(pod).Conditions.Single(c => c.Type == "Ready").Message);
        Assert.Contains(_api.Events, e => e.Reason == "Unhealthy" && e.Message.StartsWith("Readiness probe failed", StringComparison.Ordinal));
        Assert.Single(_launcher.Started);
    }

    [Fact]
    public async Task Sync_LivenessFailure_KillsAndRestartsTheContainer()
    {
        var probe = new V1Probe { HttpGet = new V1HTTPGetAction { Port = 80 }, PeriodSeconds = 1, FailureThreshold = 3 };
        var pod = Pod("Always", new V1Container { Name = "c", Image = "x", Command = ["sleep"], LivenessProbe = probe });
        _prober.Result = (_, _) => false;
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var first = worker.Record.Containers["c"].Pid!.Value;
        // The first probe ran at the start (no initial delay): failure 1; two more periods reach the threshold.
        for (var i = 0; i < 1; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await worker.SyncAsync(CancellationToken.None);
        }
        Assert.Empty(_launcher.Signals);
        _time.Advance(TimeSpan.FromSeconds(1));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal((first, 15), _launcher.Signals.Single());
        Assert.Contains(_api.Events, e => e.Reason == "Killing" && e.Message.Contains("failed liveness probe", StringComparison.Ordinal));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _launcher.Started.Count);
        Assert.Equal(143, Status(pod).ContainerStatuses[0].LastState.Terminated.ExitCode);
        Assert.Equal(1, Status(pod).ContainerStatuses[0].RestartCount);
    }

    [Fact]
    public async Task Sync_StartupProbe_GatesReadinessUntilItSucceeds()
    {
        var pod = Pod("Always", new V1Container
        {
            Name = "c",
            Image = "x",
            Command = ["sleep"],
            StartupProbe = new V1Probe { Exec = new V1ExecAction { Command = ["true"] }, PeriodSeconds = 1 },
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 80 }, PeriodSeconds = 1 },
        });
        var worker = Worker(pod);
        _prober.Result = (_, p) => p.Exec is null;
        await worker.SyncAsync(CancellationToken.None);
        Assert.False(Status(pod).ContainerStatuses[0].Started);
        Assert.False(Status(pod).ContainerStatuses[0].Ready);
        _prober.Result = (_, _) => true;
        _time.Advance(TimeSpan.FromSeconds(1));
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Started);
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
    }

    [Fact]
    public async Task Sync_ReadinessGateNotTrue_PodNotReady()
    {
        var pod = Pod();
        pod.Spec.ReadinessGates = [new V1PodReadinessGate { ConditionType = "example.com/lb" }];
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var ready = Status(pod).Conditions.Single(c => c.Type == "Ready");
        Assert.Equal("False", ready.Status);
        Assert.Equal("ReadinessGatesNotReady", ready.Reason);
        Assert.Equal("True", Status(pod).Conditions.Single(c => c.Type == "ContainersReady").Status);
        pod.Status = new V1PodStatus { Conditions = [new V1PodCondition { Type = "example.com/lb", Status = "True" }] };
        worker.Update(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal("True", Status(pod).Conditions.Single(c => c.Type == "Ready").Status);
    }

    [Fact]
    public async Task Sync_UnsupportedImageAndMissingConfig_WaitingReasons()
    {
        var pod = Pod("Always",
            new V1Container { Name = "nginx", Image = "nginx" },
            new V1Container { Name = "cfg", Image = "x", Command = ["sleep"], EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "missing" } }] });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var s = Status(pod);
        Assert.Equal("Pending", s.Phase);
        Assert.Equal("ImageNotSupported", s.ContainerStatuses[0].State.Waiting.Reason);
        Assert.Equal("CreateContainerConfigError", s.ContainerStatuses[1].State.Waiting.Reason);
        Assert.Equal("configmap \"missing\" not found", s.ContainerStatuses[1].State.Waiting.Message);
        Assert.Empty(_launcher.Started);
    }

    [Fact]
    public async Task Sync_DeletionTimestamp_PreStopSigtermDelThenDeleteWithGraceZero()
    {
        var pod = Pod("Always", new V1Container
        {
            Name = "c",
            Image = "x",
            Command = ["sleep"],
            Lifecycle = new V1Lifecycle { PreStop = new V1LifecycleHandler { Exec = new V1ExecAction { Command = ["true"] } } },
        });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var pid = worker.Record.Containers["c"].Pid!.Value;
        pod.Metadata.DeletionTimestamp = _time.GetUtcNow().UtcDateTime.AddSeconds(30);
        pod.Metadata.DeletionGracePeriodSeconds = 30;
        worker.Update(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["c"], _prober.Handlers);
        Assert.Equal((pid, 15), _launcher.Signals.Single());
        Assert.Equal("DEL uid-1", _cni.Calls[^1]);
        Assert.Equal("remove " + worker.Record.Netns, _sandboxes.Calls[^1]);
        Assert.Equal(["uid-1"], _api.Deleted);
        Assert.True(worker.Finished);
        Assert.False(Directory.Exists(worker.PodDir));
    }

    [Fact]
    public async Task Sync_Deletion_EachContainerSigtermedAfterItsOwnHook_ReadinessKeepsRunning_LivenessStops()
    {
        var pod = Pod("Always",
            new V1Container
            {
                Name = "slow",
                Image = "x",
                Command = ["sleep"],
                ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["ready"] }, PeriodSeconds = 1, FailureThreshold = 1 },
                LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 80 }, PeriodSeconds = 1, FailureThreshold = 1 },
                Lifecycle = new V1Lifecycle { PreStop = new V1LifecycleHandler { Exec = new V1ExecAction { Command = ["drain"] } } },
            },
            new V1Container { Name = "fast", Image = "x", Command = ["sleep"] });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal("True", Status(pod).Conditions.Single(c => c.Type == "Ready").Status);
        var slow = worker.Record.Containers["slow"].Pid!.Value;
        var fast = worker.Record.Containers["fast"].Pid!.Value;
        var hook = new TaskCompletionSource<string?>();
        _prober.Blocking["slow"] = hook.Task;
        pod.Metadata.DeletionTimestamp = _time.GetUtcNow().UtcDateTime.AddSeconds(30);
        pod.Metadata.DeletionGracePeriodSeconds = 30;
        worker.Update(pod);
        // From now on both probes of "slow" would fail.
        _prober.Result = (_, _) => false;
        var sync = worker.SyncAsync(CancellationToken.None);
        for (var i = 0; i < 30; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        // "fast" has no hook: stopped at once; "slow" is still in its hook, running, and now unready.
        Assert.False(sync.IsCompleted);
        Assert.Equal([(fast, 15)], _launcher.Signals);
        var during = Status(pod);
        Assert.Equal("False", during.Conditions.Single(c => c.Type == "Ready").Status);
        Assert.Equal(143, during.ContainerStatuses.Single(c => c.Name == "fast").State.Terminated.ExitCode);
        Assert.NotNull(during.ContainerStatuses.Single(c => c.Name == "slow").State.Running);
        Assert.Contains(_api.Events, e => e.Reason == "Unhealthy" && e.Message.StartsWith("Readiness probe failed", StringComparison.Ordinal));
        Assert.DoesNotContain(_api.Events, e => e.Message.StartsWith("Liveness probe failed", StringComparison.Ordinal));
        Assert.Equal(2, _api.Events.Count(e => e.Reason == "Killing" && e.Message.StartsWith("Stopping container", StringComparison.Ordinal)));

        hook.SetResult(null);
        while (!sync.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }
        await sync;
        Assert.Equal([(fast, 15), (slow, 15)], _launcher.Signals);
        Assert.Equal(["uid-1"], _api.Deleted);
        // Nothing restarted while the Pod terminated.
        Assert.Equal(2, _launcher.Started.Count);
    }

    [Fact]
    public async Task Sync_FinalDeleteFails_RetriedWithoutRestartingAnything()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        pod.Metadata.DeletionTimestamp = _time.GetUtcNow().UtcDateTime;
        pod.Metadata.DeletionGracePeriodSeconds = 0;
        worker.Update(pod);
        _api.FailDeletes = 1;
        await Assert.ThrowsAsync<HttpRequestException>(() => worker.SyncAsync(CancellationToken.None));
        Assert.False(worker.Finished);
        Assert.False(Directory.Exists(worker.PodDir));
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(worker.Finished);
        Assert.Equal(["uid-1"], _api.Deleted);
        Assert.Single(_launcher.Started);
        Assert.False(Directory.Exists(worker.PodDir));
    }

    [Fact]
    public async Task Sync_ContainerIgnoresSigterm_SigkillAfterGrace()
    {
        var pod = Pod();
        pod.Spec.TerminationGracePeriodSeconds = 3;
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var pid = worker.Record.Containers["c"].Pid!.Value;
        _launcher.IgnoreTerm.Add(pid);
        pod.Metadata.DeletionTimestamp = _time.GetUtcNow().UtcDateTime.AddSeconds(3);
        pod.Metadata.DeletionGracePeriodSeconds = 3;
        worker.Update(pod);
        var sync = worker.SyncAsync(CancellationToken.None);
        while (!sync.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }
        await sync;
        Assert.Equal([(pid, 15), (pid, 9)], _launcher.Signals);
        Assert.Equal(["uid-1"], _api.Deleted);
    }

    [Fact]
    public async Task Sync_GoneFromApi_StopsAndCleansUpWithoutApiDelete()
    {
        var worker = Worker(Pod());
        await worker.SyncAsync(CancellationToken.None);
        worker.GoneFromApi();
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(15, _launcher.Signals.Single().Signal);
        Assert.Empty(_api.Deleted);
        Assert.Equal("DEL uid-1", _cni.Calls[^1]);
        Assert.True(worker.Finished);
    }

    [Fact]
    public async Task Views_ExposeExecPrefixEnvLogsAndNetns()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        var view = worker.Views["c"];
        Assert.True(view.Running);
        Assert.Equal(worker.Record.Netns, view.NetworkNamespace);
        Assert.Equal(Path.Combine(worker.PodDir, "c", "0.log"), view.CurrentLog);
        Assert.Null(view.PreviousLog);
        Assert.Equal("p", view.Environment["HOSTNAME"]);
        Assert.Equal("/usr/bin/nsenter", view.ExecPrefix[0]);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(Path.Combine(worker.PodDir, "c", "0.log"), worker.Views["c"].PreviousLog);
        Assert.Equal(Path.Combine(worker.PodDir, "c", "1.log"), worker.Views["c"].CurrentLog);
    }

    [Fact]
    public async Task Sync_AdoptedSandboxLostWithItsContainers_AddressReleasedAndSandboxRebuilt()
    {
        var pod = Pod();
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["c"].Pid!.Value, 0);
        worker.Record.Save(worker.PodDir);
        _sandboxes.RepairResult = false;
        var services = new RuntimeServices(new RuntimeOptions { NodeName = "n1", DataDir = _dir, NetnsPrefix = "sb-test01" }, _sandboxes, _launcher, _prober, _api, new FakeDependencies(), _time, NullLogger.Instance) { Cni = _cni, Agnhost = "a" };
        var adopted = new PodWorker(services, PodRecord.Load(worker.PodDir)!, pod);
        _cni.Calls.Clear();
        await adopted.SyncAsync(CancellationToken.None);
        Assert.Equal(["DEL uid-1", "ADD uid-1"], _cni.Calls);
        Assert.Contains(_sandboxes.Calls, c => c.StartsWith("repair ", StringComparison.Ordinal));
        Assert.Equal(2, _launcher.Started.Count);
    }

    /// <summary>A new agent's worker for the same Pod, from the state.json the old one wrote (a restart).</summary>
    private PodWorker Readopt(PodWorker old, V1Pod pod)
    {
        old.Record.Save(old.PodDir);
        var services = new RuntimeServices(new RuntimeOptions { NodeName = "n1", DataDir = _dir, NetnsPrefix = "sb-test01", NodeIps = ["172.18.0.11"] }, _sandboxes, _launcher, _prober, _api, new FakeDependencies(), _time, NullLogger.Instance) { Cni = _cni, Agnhost = "a" };
        return new PodWorker(services, PodRecord.Load(old.PodDir)!, pod);
    }

    private static V1Pod ProbedPod(V1Probe readiness, V1Probe? startup = null) =>
        Pod("Always", new V1Container { Name = "c", Image = "x", Command = ["sleep"], ReadinessProbe = readiness, StartupProbe = startup });

    [Fact]
    public async Task Sync_ReadoptedReadyContainer_KeepsItsPidIpsAndReady_NoCniAdd()
    {
        // Two successes are needed for Ready: a fresh start at Failure would flap for a whole period.
        var pod = ProbedPod(new V1Probe { HttpGet = new V1HTTPGetAction { Port = 80 }, PeriodSeconds = 10, SuccessThreshold = 2 },
            new V1Probe { Exec = new V1ExecAction { Command = ["true"] }, PeriodSeconds = 10, SuccessThreshold = 1 });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        for (var i = 0; i < 2; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
            await worker.SyncAsync(CancellationToken.None);
        }
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
        var readySince = Status(pod).Conditions.Single(c => c.Type == "Ready").LastTransitionTime;
        var pid = worker.Record.Containers["c"].Pid;
        _cni.Calls.Clear();
        var writes = _api.StatusWrites;

        _time.Advance(TimeSpan.FromSeconds(3));
        var adopted = Readopt(worker, pod);
        await adopted.SyncAsync(CancellationToken.None);

        Assert.Empty(_cni.Calls);
        Assert.Single(_launcher.Started);
        Assert.Equal(pid, adopted.Record.Containers["c"].Pid);
        var s = Status(pod);
        Assert.True(_api.StatusWrites > writes);
        Assert.Equal("10.244.1.5", s.PodIP);
        Assert.True(s.ContainerStatuses[0].Started);
        Assert.True(s.ContainerStatuses[0].Ready);
        Assert.Equal(0, s.ContainerStatuses[0].RestartCount);
        var ready = s.Conditions.Single(c => c.Type == "Ready");
        Assert.Equal("True", ready.Status);
        Assert.Equal(readySince, ready.LastTransitionTime);
    }

    [Fact]
    public async Task Sync_ReadoptedReadyContainer_FailingProbesStillTakeReadyAway()
    {
        var pod = ProbedPod(new V1Probe { HttpGet = new V1HTTPGetAction { Port = 80 }, PeriodSeconds = 1, FailureThreshold = 2 });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);

        _prober.Result = (_, _) => false;
        var adopted = Readopt(worker, pod);
        await adopted.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
        _time.Advance(TimeSpan.FromSeconds(1));
        await adopted.SyncAsync(CancellationToken.None);
        Assert.False(Status(pod).ContainerStatuses[0].Ready);
    }

    [Fact]
    public async Task Sync_ReadoptedContainerWhoseApiStatusNamesAnotherContainer_StartsNotReady()
    {
        var pod = ProbedPod(new V1Probe { HttpGet = new V1HTTPGetAction { Port = 80 }, PeriodSeconds = 10, SuccessThreshold = 2 });
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(10));
        await worker.SyncAsync(CancellationToken.None);
        Assert.True(Status(pod).ContainerStatuses[0].Ready);
        // The API's status is about an earlier run of the container: its readiness says nothing about this one.
        pod.Status.ContainerStatuses[0].ContainerID = "switchboard://older";

        var adopted = Readopt(worker, pod);
        await adopted.SyncAsync(CancellationToken.None);
        Assert.False(Status(pod).ContainerStatuses[0].Ready);
    }

    [Fact]
    public async Task Sync_ServiceAccountToken_WrittenThenRenewedAt80PercentOfItsLifetime()
    {
        var worker = Worker(Pod());
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal("token-of-p", await File.ReadAllTextAsync(Path.Combine(worker.PodDir, "serviceaccount", "token")));
        Assert.Equal("default", await File.ReadAllTextAsync(Path.Combine(worker.PodDir, "serviceaccount", "namespace")));
        _time.Advance(TimeSpan.FromHours(19));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(1, _deps.TokenRequests);
        _time.Advance(TimeSpan.FromHours(1));
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(2, _deps.TokenRequests);
    }

    [Fact]
    public async Task Sync_AutomountDisabled_NoToken()
    {
        var pod = Pod();
        pod.Spec.AutomountServiceAccountToken = false;
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(0, _deps.TokenRequests);
        Assert.False(File.Exists(Path.Combine(worker.PodDir, "serviceaccount", "token")));
    }

    [Fact]
    public async Task Sync_HostNetwork_NoCniNodeIpsAsPodIps()
    {
        var pod = Pod();
        pod.Spec.HostNetwork = true;
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Empty(_cni.Calls);
        Assert.Equal(["172.18.0.11", "fd00:172:18::11"], Status(pod).PodIPs.Select(i => i.Ip));
        Assert.Equal(["/usr/bin/nsenter", "--mount=" + Path.Combine(worker.PodDir, "mnt"), "--", "sleep", "1000"], _launcher.Started[0].Argv);
    }
}

public sealed class PodWorkerInitTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sbt-init-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeTimeProvider _time = new();
    private readonly FakeLauncher _launcher = new();
    private readonly FakePodApi _api = new();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private PodWorker Worker(V1Pod pod) => new(
        new RuntimeServices(new RuntimeOptions { NodeName = "n1", DataDir = _dir, NetnsPrefix = "sb-test01" }, new FakeSandboxes(), _launcher, new FakeProber(), _api, new FakeDependencies(), _time, NullLogger.Instance)
        {
            Cni = new FakeCni(),
            Agnhost = "agnhost",
        },
        new PodRecord { Namespace = "default", Name = "p", Uid = "u", Netns = "sb-test01-pxxxx" },
        pod);

    private static V1Pod Pod(string policy) => new()
    {
        Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default", Uid = "u" },
        Spec = new V1PodSpec
        {
            RestartPolicy = policy,
            InitContainers = [new V1Container { Name = "i1", Image = "x", Command = ["one"] }, new V1Container { Name = "i2", Image = "x", Command = ["two"] }],
            Containers = [new V1Container { Name = "app", Image = "x", Command = ["app"] }],
        },
    };

    [Fact]
    public async Task Sync_InitContainers_RunOneAfterAnotherThenApp()
    {
        var pod = Pod("Always");
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["one"], _launcher.Started.Select(s => s.Argv[^1]));
        var s = _api.Statuses["u"];
        Assert.Equal("Pending", s.Phase);
        var initialized = s.Conditions.Single(c => c.Type == "Initialized");
        Assert.Equal("False", initialized.Status);
        Assert.Equal("ContainersNotInitialized", initialized.Reason);
        Assert.Equal("containers with incomplete status: [i1 i2]", initialized.Message);
        Assert.Equal("PodInitializing", s.ContainerStatuses[0].State.Waiting.Reason);

        _launcher.Exit(worker.Record.Containers["i1"].Pid!.Value, 0);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["one", "two"], _launcher.Started.Select(x => x.Argv[^1]));
        Assert.Equal("Completed", _api.Statuses["u"].InitContainerStatuses[0].State.Terminated.Reason);
        Assert.True(_api.Statuses["u"].InitContainerStatuses[0].Ready);

        _launcher.Exit(worker.Record.Containers["i2"].Pid!.Value, 0);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["one", "two", "app"], _launcher.Started.Select(x => x.Argv[^1]));
        s = _api.Statuses["u"];
        Assert.Equal("Running", s.Phase);
        Assert.Equal("True", s.Conditions.Single(c => c.Type == "Initialized").Status);
    }

    [Fact]
    public async Task Sync_InitFailsWithNever_PodFailed()
    {
        var pod = Pod("Never");
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["i1"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal("Failed", _api.Statuses["u"].Phase);
        Assert.Single(_launcher.Started);
    }

    [Fact]
    public async Task Sync_InitFailsWithAlways_RestartedAndAppWaits()
    {
        var pod = Pod("Always");
        var worker = Worker(pod);
        await worker.SyncAsync(CancellationToken.None);
        _launcher.Exit(worker.Record.Containers["i1"].Pid!.Value, 1);
        await worker.SyncAsync(CancellationToken.None);
        Assert.Equal(["one", "one"], _launcher.Started.Select(x => x.Argv[^1]));
        Assert.Equal(1, _api.Statuses["u"].InitContainerStatuses[0].RestartCount);
        Assert.Equal("Pending", _api.Statuses["u"].Phase);
    }
}
