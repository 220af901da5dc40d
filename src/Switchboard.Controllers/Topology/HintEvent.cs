namespace Switchboard.Controllers.Topology;

/// <summary>An Event to publish on the Service about its hints (upstream topologycache.EventBuilder).</summary>
internal sealed record HintEvent(string Type, string Reason, string Message)
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
    public const string EnabledReason = "TopologyAwareHintsEnabled";
    public const string DisabledReason = "TopologyAwareHintsDisabled";

    // Upstream's messages, verbatim, so alerts and docs written for Kubernetes match.
    public const string NoZoneSpecified = "One or more endpoints do not have a zone specified";
    public const string NoAllocatedHintsForZones = "No hints allocated for zones";
    public const string TopologyAwareHintsEnabled = "Topology Aware Hints has been enabled";
    public const string TopologyAwareHintsDisabled = "Topology Aware Hints has been disabled";
    public const string InsufficientNodeInfo = "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes";
    public const string NodesReadyInOneZoneOnly = "Nodes only ready in one zone";
    public const string InsufficientNumberOfEndpoints = "Insufficient number of endpoints";
    public const string MinAllocationExceedsOverloadThreshold = "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold";

    public static HintEvent Disabled(string message) => new(Warning, DisabledReason, message);

    /// <summary>Upstream FormatWithAddressType: "&lt;message&gt;, addressType: IPv4".</summary>
    public static string WithAddressType(string message, string addressType) => message + ", addressType: " + addressType;
}
