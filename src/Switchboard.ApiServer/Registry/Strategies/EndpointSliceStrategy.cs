using k8s.Models;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>
/// EndpointSlices: v1 port defaults, upstream's generation rule (anything but metadata, plus labels), the v1 drop of
/// deprecatedTopology, and v1.33 validation. hints.forNodes is kept: upstream drops it while the alpha
/// PreferSameTrafficDistribution gate is off, and Switchboard's proxy consumes it.
/// </summary>
internal sealed class EndpointSliceStrategy : ResourceStrategy<V1EndpointSlice>
{
    private const string HostnameLabel = "kubernetes.io/hostname";

    public override bool TracksGeneration => true;

    protected override ValueTask PrepareForCreateAsync(V1EndpointSlice obj, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        DropTopology(obj, null);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask PrepareForUpdateAsync(V1EndpointSlice obj, V1EndpointSlice old, bool dryRun, CancellationToken cancellationToken)
    {
        ApplyDefaults(obj);
        // Upstream compares the whole object but metadata, and the labels (which select the Service).
        var changed = obj.AddressType != old.AddressType
            || StrategyHelpers.JsonDiffers(obj.Endpoints, old.Endpoints)
            || StrategyHelpers.JsonDiffers(obj.Ports, old.Ports)
            || StrategyHelpers.JsonDiffers(obj.Metadata.Labels, old.Metadata.Labels);
        StrategyHelpers.SetGeneration(obj, old, changed);
        DropTopology(obj, old);
        return ValueTask.CompletedTask;
    }

    protected override IEnumerable<FieldError> Validate(V1EndpointSlice obj) => EndpointSliceValidation.Validate(obj);

    protected override IEnumerable<FieldError> ValidateUpdate(V1EndpointSlice obj, V1EndpointSlice old) => EndpointSliceValidation.ValidateUpdate(obj, old);

    /// <summary>
    /// Upstream SetDefaults_EndpointPort: name "" and protocol TCP. Endpoint.conditions is a plain struct in
    /// discovery/v1, so upstream always stores it, as {} when nothing is set.
    /// </summary>
    private static void ApplyDefaults(V1EndpointSlice obj)
    {
        foreach (var port in obj.Ports ?? [])
        {
            port.Name ??= "";
            port.Protocol ??= "TCP";
        }
        foreach (var endpoint in obj.Endpoints ?? [])
        {
            endpoint.Conditions ??= new V1EndpointConditions();
        }
    }

    /// <summary>
    /// Upstream dropTopologyOnV1: v1 writes may not set deprecatedTopology. When the endpoints did not change it is
    /// kept; otherwise a hostname label naming a node the old slice knew moves into an unset nodeName.
    /// </summary>
    private static void DropTopology(V1EndpointSlice obj, V1EndpointSlice? old)
    {
        if (old is not null && !StrategyHelpers.JsonDiffers(obj.Endpoints, old.Endpoints))
        {
            return;
        }
        var previous = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ep in old?.Endpoints ?? [])
        {
            if (ep.DeprecatedTopology?.TryGetValue(HostnameLabel, out var node) == true)
            {
                previous.Add(node);
            }
        }
        foreach (var ep in obj.Endpoints ?? [])
        {
            if (ep.NodeName is null && ep.DeprecatedTopology?.TryGetValue(HostnameLabel, out var node) == true
                && previous.Contains(node) && NameValidation.IsDns1123Subdomain(node).Count == 0)
            {
                ep.NodeName = node;
            }
            ep.DeprecatedTopology = null;
        }
    }
}
