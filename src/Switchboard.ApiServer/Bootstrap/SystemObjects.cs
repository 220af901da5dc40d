using System.Net;
using System.Numerics;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;

namespace Switchboard.ApiServer.Bootstrap;

/// <summary>
/// What every cluster has from its first start: the four system namespaces, the `kubernetes` Service in
/// default (first IP of the Service CIDR, 443 → the API server) and its EndpointSlice listing the advertise
/// addresses (none without one: upstream refuses loopback addresses in slices).
/// </summary>
internal static partial class SystemObjects
{
    public static readonly string[] Namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    public static async Task EnsureAsync(ApiRegistry registry, ApiServerOptions options, ILogger logger, CancellationToken ct)
    {
        foreach (var name in Namespaces)
        {
            await CreateIfMissingAsync(registry.Namespaces, null, new V1Namespace { Metadata = new V1ObjectMeta { Name = name } }, ct).ConfigureAwait(false);
        }

        // The default ServiceCIDR first, as upstream's controller creates it before the `kubernetes` Service.
        await EnsureServiceCidrAsync(registry, options, ct).ConfigureAwait(false);

        var services = registry.Find("", "Service")!;
        var firstIp = FirstIp(options.ServiceCidrs[0]);
        var kubernetes = new V1Service
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
        };
        try
        {
            await CreateIfMissingAsync(services, "default", kubernetes, ct).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Code is 422 or 500)
        {
            // Allocation follows the ServiceCIDR objects: when the flag no longer matches the `kubernetes` ServiceCIDR
            // (upstream reports KubernetesDefaultServiceCIDRInconsistent), the first IP may lie in none of them. Upstream
            // keeps serving and its reconciler keeps failing; so does this.
            Log.KubernetesServiceFailed(logger, firstIp, e.Message);
        }

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

    /// <summary>Name of the ServiceCIDR that mirrors --service-cluster-ip-range.</summary>
    public const string DefaultServiceCidrName = "kubernetes";

    /// <summary>
    /// Upstream's kubernetes-service-cidr-controller: the `kubernetes` ServiceCIDR mirrors --service-cluster-ip-range
    /// (created if missing, upgraded when the flag gained a second family) and gets Ready=True when it matches. A
    /// mismatch is left alone and reported, as upstream does.
    /// </summary>
    public static async Task EnsureServiceCidrAsync(ApiRegistry registry, ApiServerOptions options, CancellationToken ct, TimeProvider? time = null)
    {
        var storage = registry.Find("networking.k8s.io", "ServiceCIDR")!;
        var cidrs = options.ServiceCidrs.ToList();
        var live = await storage.TryGetAsync(null, DefaultServiceCidrName, ct).ConfigureAwait(false);
        if (live is null)
        {
            await CreateIfMissingAsync(storage, null, new V1ServiceCIDR
            {
                Metadata = new V1ObjectMeta { Name = DefaultServiceCidrName },
                Spec = new V1ServiceCIDRSpec { Cidrs = cidrs },
            }, ct).ConfigureAwait(false);
            live = await storage.TryGetAsync(null, DefaultServiceCidrName, ct).ConfigureAwait(false);
            if (live is null)
            {
                return;
            }
        }
        var current = (V1ServiceCIDR)storage.Decode(live.Value.Span);
        var have = current.Spec?.Cidrs ?? [];
        var write = new WriteOptions(false, ServiceCidrController);
        if (cidrs.Count == 2 && have.Count == 1 && have[0] == cidrs[0])
        {
            await storage.UpdateAsync(null, DefaultServiceCidrName, UpdateTarget.Main, (obj, _) =>
            {
                ((V1ServiceCIDR)obj).Spec = new V1ServiceCIDRSpec { Cidrs = cidrs };
                return obj;
            }, write, ct).ConfigureAwait(false);
            return;
        }
        if (current.Metadata.DeletionTimestamp is not null || !have.SequenceEqual(cidrs, StringComparer.Ordinal))
        {
            return;
        }
        var ready = current.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        if (ready is not null && ready.Status != "Unknown")
        {
            return;
        }
        await storage.UpdateAsync(null, DefaultServiceCidrName, UpdateTarget.Status, (obj, _) =>
        {
            var cidr = (V1ServiceCIDR)obj;
            cidr.Status ??= new V1ServiceCIDRStatus();
            var conditions = cidr.Status.Conditions?.Where(c => c.Type != "Ready").ToList() ?? [];
            conditions.Add(new V1Condition
            {
                Type = "Ready",
                Status = "True",
                Reason = "",
                Message = "Kubernetes default Service CIDR is ready",
                LastTransitionTime = WholeSeconds((time ?? TimeProvider.System).GetUtcNow().UtcDateTime),
            });
            cidr.Status.Conditions = conditions;
            return cidr;
        }, write, ct).ConfigureAwait(false);
    }

    private const string ServiceCidrController = "kubernetes-service-cidr-controller";

    private static DateTime WholeSeconds(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

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

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "The kubernetes Service (clusterIP {Ip}) cannot be created: {Reason}")]
        public static partial void KubernetesServiceFailed(ILogger logger, string ip, string reason);
    }
}
