using System.Collections.Concurrent;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>Containers by (namespace, pod, container); tests swap views to model restarts and exits.</summary>
internal sealed class FakeContainerLocator : IContainerLocator
{
    private readonly ConcurrentDictionary<(string, string, string), ContainerView> _views = new();

    public void Set(ContainerView view) => _views[(view.PodNamespace, view.PodName, view.Container)] = view;

    public ContainerView? Find(string podNamespace, string podName, string container) =>
        _views.TryGetValue((podNamespace, podName, container), out var v) ? v : null;

    /// <summary>A running container whose commands run on the host as ordinary processes (empty ExecPrefix).</summary>
    public static ContainerView HostContainer(string ns, string pod, string container, string? log, IReadOnlyDictionary<string, string>? env = null) => new()
    {
        PodNamespace = ns,
        PodName = pod,
        PodUid = "uid-" + pod,
        Container = container,
        ExecPrefix = [],
        Environment = env ?? new Dictionary<string, string> { ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
        CurrentLog = log,
        Running = true,
    };
}
