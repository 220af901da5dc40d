using k8s.Models;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>
/// Computes the <c>endpoints.kubernetes.io/last-change-trigger-time</c> annotation (upstream TriggerTimeTracker):
/// the earliest trigger — a pod's Ready condition lastTransitionTime, or the Service's creation — that changed
/// since the previous sync of the Service; the creation time for a Service seen for the first time; nothing (the
/// annotation is removed on the next write) when no trigger moved. The proxy subtracts it from the time it
/// programs the change to report network programming latency. Like upstream it can be off when one object changes
/// twice between syncs. Safe for concurrent calls on different Services only (the work queue guarantees that).
/// </summary>
internal sealed class TriggerTimeTracker
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string, string), State> _states = [];

    public DateTime? Compute(V1Service service, IReadOnlyList<V1Pod> pods)
    {
        var key = (service.Metadata.NamespaceProperty ?? "", service.Metadata.Name);
        State? state;
        lock (_lock)
        {
            _states.TryGetValue(key, out state);
        }

        DateTime? min = null;
        var podTimes = new Dictionary<string, DateTime>(pods.Count, StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            if (EndpointUtil.ReadyCondition(pod)?.LastTransitionTime is { } t)
            {
                podTimes[pod.Metadata.Name] = t;
                if (state is null || !state.PodTimes.TryGetValue(pod.Metadata.Name, out var before) || t > before)
                {
                    min = Min(min, t);
                }
            }
        }
        var serviceTime = service.Metadata.CreationTimestamp;
        if (serviceTime is { } st && (state?.ServiceTime is not { } previous || st > previous))
        {
            min = Min(min, st);
        }

        lock (_lock)
        {
            _states[key] = new State(serviceTime, podTimes);
        }
        return state is null ? serviceTime : min;
    }

    public void DeleteService(string @namespace, string name)
    {
        lock (_lock)
        {
            _states.Remove((@namespace, name));
        }
    }

    private static DateTime Min(DateTime? current, DateTime value) => current is { } c && c <= value ? c : value;

    private sealed record State(DateTime? ServiceTime, Dictionary<string, DateTime> PodTimes);
}
