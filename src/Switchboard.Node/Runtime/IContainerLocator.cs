namespace Switchboard.Node.Runtime;

/// <summary>
/// What the kubelet API needs from the Pod runtime to serve exec, attach, logs and port-forward for one
/// container: how to start a process in the Pod's view (ARCHITECTURE.md §2 "Pod sandbox") and where the
/// container's logs are. Implemented by the runtime; faked in kubelet API tests.
/// </summary>
internal interface IContainerLocator
{
    /// <summary>The running (or last run) container, or null when the Pod or container is unknown on this node.</summary>
    ContainerView? Find(string podNamespace, string podName, string container);
}

/// <summary>A snapshot of one container as the runtime knows it.</summary>
internal sealed record ContainerView
{
    public required string PodNamespace { get; init; }

    public required string PodName { get; init; }

    public required string PodUid { get; init; }

    public required string Container { get; init; }

    /// <summary>
    /// The argv prefix (absolute tool paths) that puts a command into the Pod's view — its mount namespace (the
    /// service-account files), then its network and UTS namespaces:
    /// <c>nsenter --mount=&lt;pod-dir&gt;/mnt -- ip netns exec &lt;pod-netns&gt; nsenter --uts=&lt;pod-dir&gt;/uts --</c>.
    /// For hostNetwork Pods only <c>nsenter --mount=&lt;pod-dir&gt;/mnt --</c>. Append the command after it (rewrite
    /// <c>/agnhost …</c> with <see cref="PodRuntime.ExecCommand"/>); every tool execs in place.
    /// </summary>
    public required IReadOnlyList<string> ExecPrefix { get; init; }

    /// <summary>The container's environment as the container process got it (exec sessions get the same).</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Working directory of the container process (its workingDir, or "/").</summary>
    public string WorkingDirectory { get; init; } = "/";

    /// <summary>The Pod's network namespace name under /run/netns (port-forward dials from there); null for hostNetwork.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Log file of the current run (<c>&lt;pod-dir&gt;/&lt;container&gt;/&lt;restart&gt;.log</c>); null before the first start.</summary>
    public string? CurrentLog { get; init; }

    /// <summary>Log file of the previous run, for <c>kubectl logs --previous</c>; null when there was none.</summary>
    public string? PreviousLog { get; init; }

    /// <summary>True while the container process runs.</summary>
    public bool Running { get; init; }
}
