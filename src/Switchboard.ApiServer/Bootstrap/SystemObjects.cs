using System.Net;
using System.Numerics;
using k8s;
using k8s.Models;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Bootstrap;

/// <summary>
/// What every cluster has from its first start: the four system namespaces, the `kubernetes` Service in
/// default (first IP of the Service CIDR, 443 → the API server) and its EndpointSlice listing the advertise
/// addresses (none without one: upstream refuses loopback addresses in slices).
/// </summary>
internal static class SystemObjects
{
    public static readonly string[] Namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    public static async Task EnsureAsync(ApiRegistry registry, ApiServerOptions options, CancellationToken ct)
    {
        foreach (var name in Namespaces)
        {
            await CreateIfMissingAsync(registry.Namespaces, null, new V1Namespace { Metadata = new V1ObjectMeta { Name = name } }, ct).ConfigureAwait(false);
        }

        var services = registry.Find("", "Service")!;
        var firstIp = FirstIp(options.ServiceCidrs[0]);
        await CreateIfMissingAsync(services, "default", new V1Service
        {
            Metadata = new V1ObjectMeta
            {
                Name = "kubernetes",
                NamespaceProperty = "default",
                Labels = new Dictionary<string, string> { ["component"] = "apiserver", ["provider"] = "kubernetes" },
            },
            Spec = new V1ServiceSpec
            {
                Type = "ClusterIP",
                ClusterIP = firstIp,
                Ports = [new V1ServicePort { Name = "https", Port = 443, Protocol = "TCP", TargetPort = 6443 }],
                SessionAffinity = "None",
            },
        }, ct).ConfigureAwait(false);

        var slices = registry.Find("discovery.k8s.io", "EndpointSlice")!;
        var advertised = options.AdvertiseAddresses.Where(a => IPAddress.TryParse(a, out var ip) && !IPAddress.IsLoopback(ip)).ToList();
        var slice = new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta
            {
                Name = "kubernetes",
                NamespaceProperty = "default",
                Labels = new Dictionary<string, string>
                {
                    ["kubernetes.io/service-name"] = "kubernetes",
                    ["endpointslice.kubernetes.io/managed-by"] = "endpointslicemirroring-controller.k8s.io",
                },
            },
            AddressType = "IPv4",
            Endpoints = advertised.Count == 0 ? [] : [.. advertised.Where(a => IPAddress.Parse(a).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                .Select(a => new V1Endpoint { Addresses = [a], Conditions = new V1EndpointConditions { Ready = true } })],
            Ports = [new Discoveryv1EndpointPort { Name = "https", Port = 6443, Protocol = "TCP" }],
        };
        await CreateIfMissingAsync(slices, "default", slice, ct).ConfigureAwait(false);
    }

    private static async Task CreateIfMissingAsync(ResourceStorage storage, string? ns, IKubernetesObject<V1ObjectMeta> obj, CancellationToken ct)
    {
        if (await storage.TryGetAsync(ns, obj.Metadata.Name, ct).ConfigureAwait(false) is not null)
        {
            return;
        }
        try
        {
            await storage.CreateAsync(ns, obj, WriteOptions.Default, ct).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Code == 409)
        {
            // Created concurrently: fine.
        }
    }

    /// <summary>The first usable address of a CIDR (network + 1), which upstream gives the kubernetes Service.</summary>
    public static string FirstIp(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        var network = IPAddress.Parse(cidr[..slash]);
        var bytes = network.GetAddressBytes();
        var n = new BigInteger(bytes, isUnsigned: true, isBigEndian: true) + 1;
        var outBytes = n.ToByteArray(isUnsigned: true, isBigEndian: true);
        var full = new byte[bytes.Length];
        outBytes.CopyTo(full, full.Length - outBytes.Length);
        return new IPAddress(full).ToString();
    }
}
