using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Switchboard.Node.Runtime;

/// <summary>Probe bookkeeping of one container and kind (kubelet's prober worker).</summary>
internal sealed class ProbeState
{
    /// <summary>The current result: null before the thresholds decided anything.</summary>
    public bool? Result { get; set; }

    public int Successes { get; set; }

    public int Failures { get; set; }

    public DateTime? LastRun { get; set; }
}

internal sealed partial class PodWorker
{
    /// <summary>
    /// Runs every probe that is due (initialDelaySeconds after the start, then every periodSeconds, each bounded by
    /// timeoutSeconds). Startup gates liveness and readiness; a failed startup or liveness probe restarts the container.
    /// </summary>
    /// <remarks>
    /// With <paramref name="readinessOnly"/> (a terminating Pod, as kubelet's prober worker after the deletion
    /// request) only readiness probes run; liveness and startup no longer restart anything.
    /// </remarks>
    private async Task RunProbesAsync(V1Pod pod, CancellationToken ct, bool readinessOnly = false)
    {
        var now = _s.Time.GetUtcNow().UtcDateTime;
        var due = new List<(V1Container Spec, ContainerRecord Record, string Kind, V1Probe Probe, ProbeState State)>();
        foreach (var spec in pod.Spec?.Containers ?? [])
        {
            if (!_record.Containers.TryGetValue(spec.Name, out var c) || c.Pid is null || c.StartedAt is not { } startedAt)
            {
                continue;
            }
            var startupDone = spec.StartupProbe is null || State(spec.Name, "startup").Result == true;
            foreach (var (kind, probe) in new[] { ("startup", spec.StartupProbe), ("liveness", spec.LivenessProbe), ("readiness", spec.ReadinessProbe) })
            {
                if (probe is null || (kind != "startup" && !startupDone) || (kind == "startup" && startupDone) || (readinessOnly && kind != "readiness"))
                {
                    continue;
                }
                var state = State(spec.Name, kind);
                var first = startedAt + TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0);
                var period = TimeSpan.FromSeconds(probe.PeriodSeconds is > 0 ? probe.PeriodSeconds.Value : 10);
                if (now >= first && (state.LastRun is null || now >= state.LastRun.Value + period))
                {
                    due.Add((spec, c, kind, probe, state));
                }
            }
        }
        if (due.Count == 0)
        {
            return;
        }
        var outcomes = await Task.WhenAll(due.Select(d => ProbeOnceAsync(pod, d.Spec, d.Record, d.Probe, ct))).ConfigureAwait(false);
        for (var i = 0; i < due.Count; i++)
        {
            var (spec, c, kind, probe, state) = due[i];
            var outcome = outcomes[i];
            state.LastRun = now;
            if (outcome.Success)
            {
                state.Failures = 0;
                state.Successes++;
                if (state.Successes >= (probe.SuccessThreshold is > 0 ? probe.SuccessThreshold.Value : 1))
                {
                    state.Result = true;
                }
                continue;
            }
            state.Successes = 0;
            state.Failures++;
            _s.Api.Event(pod, "Warning", "Unhealthy", $"{char.ToUpperInvariant(kind[0])}{kind[1..]} probe failed: {outcome.Message}");
            if (state.Failures < (probe.FailureThreshold is > 0 ? probe.FailureThreshold.Value : 3))
            {
                continue;
            }
            state.Result = false;
            if (kind is "liveness" or "startup" && !readinessOnly)
            {
                Log.ProbeRestart(_s.Logger, _record.Namespace, _record.Name, spec.Name, kind);
                _s.Api.Event(pod, "Normal", "Killing", $"Container {spec.Name} failed {kind} probe, will be restarted");
                var grace = TimeSpan.FromSeconds(probe.TerminationGracePeriodSeconds ?? pod.Spec?.TerminationGracePeriodSeconds ?? 30);
                await StopContainerAsync(spec.Name, c, grace, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<ProbeOutcome> ProbeOnceAsync(V1Pod pod, V1Container spec, ContainerRecord c, V1Probe probe, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(probe.TimeoutSeconds is > 0 ? probe.TimeoutSeconds.Value : 1));
        try
        {
            return await _s.Prober.ProbeAsync(Target(pod, spec, c), probe, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeOutcome(false, $"timeout after {probe.TimeoutSeconds ?? 1}s");
        }
    }

    /// <summary>
    /// A re-adopted container keeps the started/ready it had in the API until its probes say otherwise, so an agent
    /// restart does not flap the Pod out of its Services. Upstream kubelet starts readiness at Failure and flaps
    /// (kubernetes/kubernetes#100277); the last result of the same container (same ID) is the better guess, as
    /// kubernetes/kubernetes#84104 proposed. The probes themselves run at once, so a wrong guess lasts one period.
    /// </summary>
    private void KeepProbeResults(V1Pod pod)
    {
        foreach (var status in pod.Status?.ContainerStatuses ?? [])
        {
            var spec = pod.Spec?.Containers?.FirstOrDefault(c => c.Name == status.Name);
            if (spec is null || !_record.Containers.TryGetValue(status.Name, out var c) || c.Pid is null || c.ContainerId is null
                || status.ContainerID != "switchboard://" + c.ContainerId || status.State?.Running is null)
            {
                continue;
            }
            if (spec.StartupProbe is not null && status.Started == true)
            {
                State(status.Name, "startup").Result = true;
            }
            if (spec.ReadinessProbe is not null && status.Ready == true)
            {
                State(status.Name, "readiness").Result = true;
            }
        }
    }

    private ProbeState State(string container, string kind) => _probes.GetOrAdd((container, kind), _ => new ProbeState());

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "pod {Namespace}/{Name}: sync failed, retrying: {Error}")]
        public static partial void SyncFailed(ILogger logger, string @namespace, string name, string error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "pod {Namespace}/{Name}: sandbox creation failed: {Error}")]
        public static partial void SandboxFailed(ILogger logger, string @namespace, string name, string error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "pod {Namespace}/{Name}: teardown step failed: {Error}")]
        public static partial void TeardownFailed(ILogger logger, string @namespace, string name, string error);

        [LoggerMessage(Level = LogLevel.Information, Message = "pod {Namespace}/{Name}: sandbox ready in {SandboxMs} ms (namespaces {NamespacesMs} ms, CNI ADD {CniMs} ms)")]
        public static partial void SandboxReady(ILogger logger, string @namespace, string name, long sandboxMs, long namespacesMs, long cniMs);

        [LoggerMessage(Level = LogLevel.Information, Message = "pod {Namespace}/{Name}: container {Container} started (pid {Pid})")]
        public static partial void ContainerStarted(ILogger logger, string @namespace, string name, string container, int pid);

        [LoggerMessage(Level = LogLevel.Information, Message = "pod {Namespace}/{Name}: container {Container} exited with {ExitCode}")]
        public static partial void ContainerExited(ILogger logger, string @namespace, string name, string container, int exitCode);

        [LoggerMessage(Level = LogLevel.Information, Message = "pod {Namespace}/{Name}: container {Container} failed its {Kind} probe; restarting it")]
        public static partial void ProbeRestart(ILogger logger, string @namespace, string name, string container, string kind);
    }
}
