namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// The durable side of ClusterIP allocation: networking.k8s.io/v1 IPAddress objects named by the IP with a parentRef to
/// the Service, as upstream v1.33's allocator keeps them. The store's atomic create is what makes an address exclusive
/// across concurrent writers and restarts.
/// </summary>
internal interface IIpAddressObjects
{
    /// <summary>Creates the IPAddress object; false when one with that name already exists.</summary>
    Task<bool> TryCreateAsync(string name, string family, string serviceNamespace, string serviceName, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the IPAddress object if it still refers to the given Service (any owner when both are null) and, when
    /// uid is given, is still that object; true when no such object exists afterwards.
    /// </summary>
    Task<bool> DeleteAsync(string name, string? serviceNamespace, string? serviceName, string? uid, CancellationToken cancellationToken);

    /// <summary>Every stored IPAddress object.</summary>
    Task<IReadOnlyList<StoredIpAddress>> ListAsync(CancellationToken cancellationToken);
}

/// <summary>What the repair pass needs of an IPAddress object.</summary>
/// <param name="ManagedByAllocator">Carries ipaddress.kubernetes.io/managed-by: ipallocator.k8s.io.</param>
internal sealed record StoredIpAddress(string Name, string? Group, string? Resource, string? Namespace, string? ServiceName,
    bool ManagedByAllocator, DateTimeOffset Created, string Uid);
