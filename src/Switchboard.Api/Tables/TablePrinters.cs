using System.Collections.Frozen;

namespace Switchboard.Api.Tables;

/// <summary>
/// The printer for each served resource, with upstream v1.33's columns; anything else gets upstream's
/// default Name/"Created At" table.
/// </summary>
public static class TablePrinters
{
    private static readonly ITablePrinter Default = new DefaultPrinter();

    private static readonly FrozenDictionary<(string Group, string Plural), ITablePrinter> Printers =
        new Dictionary<(string, string), ITablePrinter>
        {
            [("", "namespaces")] = new NamespacePrinter(),
            [("", "nodes")] = new NodePrinter(),
            [("", "pods")] = new PodPrinter(),
            [("", "services")] = new ServicePrinter(),
            [("", "endpoints")] = new EndpointsPrinter(),
            [("", "configmaps")] = new ConfigMapPrinter(),
            [("", "secrets")] = new SecretPrinter(),
            [("", "serviceaccounts")] = new ServiceAccountPrinter(),
            [("", "events")] = new EventPrinter(),
            [("apps", "deployments")] = new DeploymentPrinter(),
            [("apps", "replicasets")] = new ReplicaSetPrinter(),
            [("coordination.k8s.io", "leases")] = new LeasePrinter(),
            [("discovery.k8s.io", "endpointslices")] = new EndpointSlicePrinter(),
            [("networking.k8s.io", "ingresses")] = new IngressPrinter(),
            [("networking.k8s.io", "ingressclasses")] = new IngressClassPrinter(),
            [("networking.k8s.io", "networkpolicies")] = new NetworkPolicyPrinter(),
            [("networking.k8s.io", "servicecidrs")] = new ServiceCidrPrinter(),
            [("networking.k8s.io", "ipaddresses")] = new IpAddressPrinter(),
        }.ToFrozenDictionary();

    /// <summary>The printer for a resource (group "" is core); the default printer for unknown ones.</summary>
    public static ITablePrinter Get(string group, string plural) =>
        Printers.TryGetValue((group, plural), out var printer) ? printer : Default;

    /// <summary>Upstream's Name/"Created At" printer for kinds without their own.</summary>
    public static ITablePrinter DefaultPrinter => Default;
}
