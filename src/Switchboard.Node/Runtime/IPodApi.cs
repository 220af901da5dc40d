using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>The runtime's writes to the API: Pod status, the final delete, Events. Faked in unit tests.</summary>
internal interface IPodApi
{
    /// <summary>Writes pods/status; conditions of types the runtime does not own (readiness gates, DisruptionTarget…) are kept.</summary>
    Task UpdateStatusAsync(V1Pod pod, V1PodStatus status, CancellationToken ct);

    /// <summary>Deletes the Pod with gracePeriodSeconds 0 and a UID precondition, as kubelet does once its containers stopped.</summary>
    Task DeleteAsync(V1Pod pod, CancellationToken ct);

    void Event(V1Pod pod, string type, string reason, string message);
}

/// <summary>Runs probes and lifecycle handlers. Faked in unit tests.</summary>
internal interface IProber
{
    /// <summary>One probe attempt; the message says why it failed (null on success).</summary>
    Task<ProbeOutcome> ProbeAsync(ProbeTarget target, V1Probe probe, CancellationToken ct);

    /// <summary>A lifecycle handler (preStop/postStart): exec, httpGet or sleep. Null on success, else the error.</summary>
    Task<string?> RunHandlerAsync(ProbeTarget target, V1LifecycleHandler handler, CancellationToken ct);
}

/// <summary>Where a probe runs: the Pod IP (httpGet/tcpSocket dial it from the node) and the container's exec context.</summary>
internal sealed record ProbeTarget(V1Pod Pod, V1Container Container, string? PodIp, IReadOnlyList<string> ExecPrefix, IReadOnlyDictionary<string, string> Environment);

internal readonly record struct ProbeOutcome(bool Success, string? Message = null);
