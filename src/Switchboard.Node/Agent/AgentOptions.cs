namespace Switchboard.Node.Agent;

/// <summary>Flags of `switchboard agent` (ARCHITECTURE.md §1) that this slice uses.</summary>
internal sealed class AgentOptions
{
    public required string NodeName { get; init; }

    /// <summary>The node's addresses, one per family (kubelet's dual-stack --node-ip takes "v4,v6").</summary>
    public IReadOnlyList<string> NodeIps { get; init; } = [];

    public string? Zone { get; init; }

    public int KubeletPort { get; init; } = 10250;

    /// <summary>As kubelet's nodeLeaseDurationSeconds; renewed every quarter of it (10 s).</summary>
    public int LeaseDurationSeconds { get; init; } = 40;

    public int MaxPods { get; init; } = 110;
}
