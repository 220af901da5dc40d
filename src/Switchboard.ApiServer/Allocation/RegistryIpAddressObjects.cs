using k8s.Models;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Allocation;

/// <summary>
/// IPAddress objects written through the registry, so they get system metadata, resourceVersions and watch events
/// like any object a client writes; the manager is `kube-apiserver`, as upstream's allocator's writes show.
/// </summary>
internal sealed class RegistryIpAddressObjects(ResourceStorage storage) : IIpAddressObjects
{
    private static readonly WriteOptions Writer = new(false, "kube-apiserver");

    public async Task<bool> TryCreateAsync(string name, string family, string serviceNamespace, string serviceName, CancellationToken cancellationToken)
    {
        var obj = new V1IPAddress
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Labels = new Dictionary<string, string>
                {
                    [ServiceAllocations.FamilyLabel] = family,
                    [ServiceAllocations.ManagedByLabel] = ServiceAllocations.ControllerName,
                },
            },
            Spec = new V1IPAddressSpec
            {
                ParentRef = new V1ParentReference { Resource = "services", NamespaceProperty = serviceNamespace, Name = serviceName },
            },
        };
        try
        {
            await storage.CreateAsync(null, obj, Writer, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ApiException e) when (e.Code == 409)
        {
            return false;
        }
    }

    public async Task<bool> DeleteAsync(string name, string? serviceNamespace, string? serviceName, string? uid, CancellationToken cancellationToken)
    {
        var live = await storage.TryGetAsync(null, name, cancellationToken).ConfigureAwait(false);
        if (live is null)
        {
            return true;
        }
        var obj = (V1IPAddress)storage.Decode(live.Value.Span);
        var parent = obj.Spec?.ParentRef;
        if ((serviceName is not null && (parent?.Name != serviceName || parent.NamespaceProperty != serviceNamespace || parent.Resource != "services"))
            || (uid is not null && obj.Metadata.Uid != uid))
        {
            // Someone else's now: not ours to delete.
            return false;
        }
        try
        {
            var options = new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = obj.Metadata.Uid } };
            await storage.DeleteAsync(null, name, options, WriteOptions.Default, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ApiException e) when (e.Code == 404)
        {
            return true;
        }
        catch (ApiException e) when (e.Code == 409)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<StoredIpAddress>> ListAsync(CancellationToken cancellationToken)
    {
        var list = await storage.Store.ListAsync(storage.Info.StorePrefix, 0, null, 0, cancellationToken).ConfigureAwait(false);
        var result = new List<StoredIpAddress>(list.Items.Count);
        foreach (var item in list.Items)
        {
            if (KubeJson.Deserialize<V1IPAddress>(item.Value.Span) is not { } ip)
            {
                continue;
            }
            var parent = ip.Spec?.ParentRef;
            var managed = ip.Metadata.Labels?.TryGetValue(ServiceAllocations.ManagedByLabel, out var by) == true && by == ServiceAllocations.ControllerName;
            result.Add(new StoredIpAddress(ip.Metadata.Name, parent?.Group, parent?.Resource, parent?.NamespaceProperty, parent?.Name, managed,
                new DateTimeOffset(DateTime.SpecifyKind(ip.Metadata.CreationTimestamp ?? DateTime.UnixEpoch, DateTimeKind.Utc)), ip.Metadata.Uid ?? ""));
        }
        return result;
    }
}
