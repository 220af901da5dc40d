using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>The host program a container runs, or why it cannot run (state waiting with this reason and message).</summary>
internal sealed record ResolvedCommand(IReadOnlyList<string> Argv, string? WaitingReason = null, string? WaitingMessage = null)
{
    public bool CanRun => WaitingReason is null;
}

/// <summary>
/// Images are not pulled: a few well-known images map to host programs (ARCHITECTURE.md §2 "Containers"), and a
/// container with an explicit command runs that host program. The command/args rules are Kubernetes': command
/// replaces the image ENTRYPOINT (and drops its CMD), args replace CMD. Pure.
/// </summary>
internal static class ContainerCommand
{
    public const string SupportedImages =
        "registry.k8s.io/e2e-test-images/agnhost:* (runs switchboard-agnhost), registry.k8s.io/pause:* (runs switchboard-agnhost pause), or any image with an explicit command (runs that host program)";

    public static bool IsAgnhost(string? image) => MatchesRepository(image, "registry.k8s.io/e2e-test-images/agnhost");

    public static bool IsPause(string? image) => MatchesRepository(image, "registry.k8s.io/pause");

    /// <summary>
    /// The argv of <paramref name="container"/>. With <paramref name="env"/> (the container's final environment),
    /// <c>$(VAR)</c> references in command and args are expanded and <c>$$</c> becomes <c>$</c>, as kubelet's
    /// ExpandContainerCommandAndArgs.
    /// </summary>
    public static ResolvedCommand Resolve(V1Container container, string agnhost, IReadOnlyDictionary<string, string>? env = null)
    {
        IList<string> command = container.Command ?? [];
        IList<string> args = container.Args ?? [];
        if (env is not null)
        {
            command = [.. command.Select(c => ContainerEnv.Expand(c, name => env.GetValueOrDefault(name)))];
            args = [.. args.Select(a => ContainerEnv.Expand(a, name => env.GetValueOrDefault(name)))];
        }
        if (IsAgnhost(container.Image))
        {
            // The image's ENTRYPOINT is /agnhost and its CMD is pause.
            if (command.Count == 0)
            {
                return new ResolvedCommand([agnhost, .. args.Count > 0 ? args : ["pause"]]);
            }
            return new ResolvedCommand([.. RewriteAgnhost(command, agnhost), .. args]);
        }
        if (IsPause(container.Image) && command.Count == 0)
        {
            return new ResolvedCommand([agnhost, "pause", .. args]);
        }
        if (command.Count > 0)
        {
            return new ResolvedCommand([.. RewriteAgnhost(command, agnhost), .. args]);
        }
        return new ResolvedCommand([], "ImageNotSupported",
            $"image {container.Image} has no command and cannot run on switchboard; supported: {SupportedImages}");
    }

    /// <summary>An argv whose program is <c>/agnhost</c> or <c>agnhost</c> runs switchboard-agnhost (also for kubectl exec).</summary>
    public static IReadOnlyList<string> RewriteAgnhost(IList<string> argv, string agnhost) =>
        argv.Count > 0 && argv[0] is "/agnhost" or "agnhost" ? [agnhost, .. argv.Skip(1)] : [.. argv];

    /// <summary>
    /// The switchboard-agnhost executable: an explicit path, else next to the running switchboard executable or
    /// assembly, else the name itself (found on PATH when the container starts).
    /// </summary>
    public static string FindAgnhost(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }
        foreach (var dir in new[] { Path.GetDirectoryName(Environment.ProcessPath), AppContext.BaseDirectory })
        {
            if (!string.IsNullOrEmpty(dir) && File.Exists(Path.Combine(dir, "switchboard-agnhost")))
            {
                return Path.Combine(dir, "switchboard-agnhost");
            }
        }
        return "switchboard-agnhost";
    }

    private static bool MatchesRepository(string? image, string repository)
    {
        if (image is null || !image.StartsWith(repository, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = image.AsSpan(repository.Length);
        return rest.IsEmpty || rest[0] is ':' or '@';
    }
}
