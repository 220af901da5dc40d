using System.CommandLine;
using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.Cli.Logging;
using Switchboard.Node.Agent;
using Switchboard.Node.KubeletApi;
using Switchboard.Node.Routing;
using Switchboard.Node.Runtime;
using Switchboard.Node.Topology;
using Switchboard.Netfilter;
using Switchboard.Netfilter.Conntrack;
using Switchboard.Proxy.Hosting;
using Switchboard.Proxy.Model;

namespace Switchboard.Cli;

/// <summary>`switchboard agent`: one node (ARCHITECTURE.md §1): the Node and its Lease, and the Pod runtime.</summary>
internal static class AgentCommand
{
    /// <summary>kube-proxy's bind-address form: "[host]:port", an empty host meaning every address.</summary>
    internal static bool TryBindAddress(string text, out System.Net.IPEndPoint? endpoint)
    {
        endpoint = null;
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return false;
        }
        var host = text[..colon].Trim('[', ']');
        if (host.Length == 0)
        {
            endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Any, port);
            return true;
        }
        if (!System.Net.IPAddress.TryParse(host, out var address))
        {
            return false;
        }
        endpoint = new System.Net.IPEndPoint(address, port);
        return true;
    }

    public static Command Create()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Kubeconfig to reach the API server; without it, the in-cluster config" };
        var nodeName = new Option<string>("--node-name") { Description = "Node name", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var nodeIp = new Option<string?>("--node-ip") { Description = "Node IPs, comma-separated (one per family)" };
        var zone = new Option<string?>("--zone") { Description = "topology.kubernetes.io/zone label" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Node state directory (logs, CNI state, pods)" };
        var clusterDns = new Option<string?>("--cluster-dns") { Description = "Cluster DNS Service IPs for Pods' resolv.conf, comma-separated" };
        var clusterDomain = new Option<string>("--cluster-domain") { Description = "Cluster DNS domain", DefaultValueFactory = _ => "cluster.local" };
        var podCidr = new Option<string?>("--pod-cidr") { Description = "Pod CIDRs (comma-separated, one per family) where there is no node IPAM" };
        var cniBinDir = new Option<string>("--cni-bin-dir") { Description = "CNI plugin directory", DefaultValueFactory = _ => "/usr/lib/cni" };
        var netnsPrefix = new Option<string?>("--netns-prefix") { Description = "Prefix of Pod network namespaces (<prefix>-p<hash>); default sb- + 6 hex of the node name" };
        var agnhostPath = new Option<string?>("--agnhost-path") { Description = "The switchboard-agnhost executable (default: next to switchboard, else on PATH)" };
        var metrics = new Option<string>("--metrics-bind-address") { Description = "Proxy metrics address ([host]:port; empty host = all addresses of the node)", DefaultValueFactory = _ => ":10249" };
        var healthz = new Option<string>("--healthz-bind-address") { Description = "Proxy /healthz address ([host]:port; empty host = all addresses of the node)", DefaultValueFactory = _ => ":10256" };
        var clusterCidr = new Option<string>("--cluster-cidr") { Description = "Pod CIDRs of the cluster (both families): the proxy's local-traffic detection", DefaultValueFactory = _ => "10.244.0.0/16,fd00:10:244::/56" };
        var kubeletPort = new Option<int>("--kubelet-port") { Description = "Kubelet API port, published in the Node's daemonEndpoints", DefaultValueFactory = _ => 10250 };
        var cmd = new Command("agent", "Run one node: registers a Node, renews its Lease and runs its Pods (the service proxy comes later).")
        {
            kubeconfig, nodeName, nodeIp, zone, dataDir, clusterDns, clusterDomain, podCidr, cniBinDir, metrics, healthz, kubeletPort, netnsPrefix, agnhostPath, clusterCidr,
        };
        cmd.SetAction(async (r, ct) =>
        {
            var ips = (r.GetValue(nodeIp) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var ip in ips)
            {
                if (!System.Net.IPAddress.TryParse(ip, out _))
                {
                    await Console.Error.WriteLineAsync($"switchboard agent: --node-ip {ip} is not an IP address").ConfigureAwait(false);
                    return CliApp.UsageError;
                }
            }
            var dnsIps = (r.GetValue(clusterDns) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var ip in dnsIps)
            {
                if (!System.Net.IPAddress.TryParse(ip, out _))
                {
                    await Console.Error.WriteLineAsync($"switchboard agent: --cluster-dns {ip} is not an IP address").ConfigureAwait(false);
                    return CliApp.UsageError;
                }
            }
            var cidrs = (r.GetValue(podCidr) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var cidr in cidrs)
            {
                var slash = cidr.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0 || !System.Net.IPAddress.TryParse(cidr[..slash], out _) || !int.TryParse(cidr[(slash + 1)..], out _))
                {
                    await Console.Error.WriteLineAsync($"switchboard agent: --pod-cidr {cidr} is not a CIDR").ConfigureAwait(false);
                    return CliApp.UsageError;
                }
            }
            var clusterCidrs = new List<System.Net.IPNetwork>();
            foreach (var cidr in r.GetValue(clusterCidr)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!System.Net.IPNetwork.TryParse(cidr, out var network))
                {
                    await Console.Error.WriteLineAsync($"switchboard agent: --cluster-cidr {cidr} is not a CIDR").ConfigureAwait(false);
                    return CliApp.UsageError;
                }
                clusterCidrs.Add(network);
            }
            if (!TryBindAddress(r.GetValue(metrics)!, out var metricsEndpoint) || !TryBindAddress(r.GetValue(healthz)!, out var healthzEndpoint))
            {
                await Console.Error.WriteLineAsync($"switchboard agent: --metrics-bind-address and --healthz-bind-address take [host]:port, e.g. :10249 or 0.0.0.0:10256").ConfigureAwait(false);
                return CliApp.UsageError;
            }
            var prefix = r.GetValue(netnsPrefix) ?? RuntimeOptions.DefaultNetnsPrefix(r.GetValue(nodeName)!);
            if (RuntimeOptions.ValidatePrefix(prefix) is { } prefixError)
            {
                await Console.Error.WriteLineAsync($"switchboard agent: --netns-prefix {prefix} {prefixError}").ConfigureAwait(false);
                return CliApp.UsageError;
            }
            var options = new AgentOptions { NodeName = r.GetValue(nodeName)!, NodeIps = ips, Zone = r.GetValue(zone), KubeletPort = r.GetValue(kubeletPort) };
            var dir = r.GetValue(dataDir);
            using var loggers = LoggerFactory.Create(b =>
            {
                b.SetMinimumLevel(LogLevel.Information);
                if (dir is not null)
                {
                    Directory.CreateDirectory(dir);
                    b.AddProvider(new FileLoggerProvider(Path.Combine(dir, "agent.log")));
                }
                b.AddProvider(new StderrLoggerProvider(LogLevel.Warning));
            });
            var path = r.GetValue(kubeconfig);
            var config = path is null ? KubernetesClientConfiguration.InClusterConfig() : KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
            using var client = new Kubernetes(config);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                // The handler runs on its own thread: a late SIGTERM can race the disposal of stop.
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            });
            var agent = new NodeAgent(client, options, TimeProvider.System, loggers.CreateLogger<NodeAgent>());
            var runtimeOptions = new RuntimeOptions
            {
                NodeName = options.NodeName,
                DataDir = dir ?? Path.Combine("/var/lib/switchboard", options.NodeName),
                NetnsPrefix = prefix,
                ExclusivePrefix = r.GetValue(netnsPrefix) is null,
                CniBinDir = r.GetValue(cniBinDir)!,
                ClusterDns = dnsIps,
                ClusterDomain = r.GetValue(clusterDomain)!,
                NodeIps = ips,
                PodCidrOverride = cidrs,
                AgnhostPath = r.GetValue(agnhostPath),
                CaPem = config.SslCaCerts is { Count: > 0 } cas ? string.Concat(cas.Select(c => c.ExportCertificatePem() + "\n")) : null,
            };
            // The kubelet API (another slice) serves exec/logs through host.Runtime, the IContainerLocator.
            using var host = new PodRuntimeHost(client, runtimeOptions, TimeProvider.System, loggers);
            // Routes to every other Node's Pod CIDRs via its InternalIP (host-gw).
            using var routes = new PodCidrRouteController(client, new ProcessCommandRunner(), null, options.NodeName, loggers, TimeProvider.System);
            // The kubelet API accepts client certificates of the cluster CA only (the API server's kubelet client).
            Directory.CreateDirectory(runtimeOptions.DataDir);
            var caFile = Path.Combine(runtimeOptions.DataDir, "ca.crt");
            if (runtimeOptions.CaPem is null)
            {
                await Console.Error.WriteLineAsync("switchboard agent: the kubeconfig has no certificate-authority data; the kubelet API needs the cluster CA").ConfigureAwait(false);
                return 1;
            }
            await File.WriteAllTextAsync(caFile, runtimeOptions.CaPem, CancellationToken.None).ConfigureAwait(false);
            var kubeletAddresses = ips.Length > 0 ? ips.Select(System.Net.IPAddress.Parse).ToList() : [System.Net.IPAddress.Any];
            var kubelet = await KubeletServer.StartAsync(
                new KubeletServerOptions { NodeName = options.NodeName, Addresses = kubeletAddresses, Port = options.KubeletPort, ClientCaFile = caFile },
                host.Runtime, loggers, TimeProvider.System, stop.Token).ConfigureAwait(false);
            // The service proxy: kube-proxy's nftables mode in this node's namespace, one table per family the node has.
            var families = ips.Select(System.Net.IPAddress.Parse).Select(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IpFamily.IPv6 : IpFamily.IPv4).Distinct().ToList();
            if (families.Count == 0)
            {
                families.Add(IpFamily.IPv4);
            }
            var proxy = new ProxyServer(client, new ProxyServerOptions
            {
                NodeName = options.NodeName,
                NodeIps = [.. ips.Select(System.Net.IPAddress.Parse)],
                ClusterCidrs = clusterCidrs,
                HealthzBindAddress = healthzEndpoint,
                MetricsBindAddress = metricsEndpoint,
            }, families.ToDictionary(f => f, INftables (_) => new NftablesRunner()), new ConntrackTool(), TimeProvider.System, loggers);
            await using (proxy.ConfigureAwait(false))
            await using (kubelet.ConfigureAwait(false))
            {
                await Task.WhenAll(agent.RunAsync(stop.Token), host.RunAsync(stop.Token), routes.RunAsync(stop.Token), proxy.RunAsync(stop.Token)).ConfigureAwait(false);
            }
            return 0;
        });
        return cmd;
    }
}
