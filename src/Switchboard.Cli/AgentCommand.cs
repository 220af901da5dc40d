using System.CommandLine;
using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using Switchboard.Cli.Logging;
using Switchboard.Node.Agent;

namespace Switchboard.Cli;

/// <summary>`switchboard agent`: one node (ARCHITECTURE.md §1). This slice registers the Node and renews its Lease.</summary>
internal static class AgentCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Kubeconfig to reach the API server; without it, the in-cluster config" };
        var nodeName = new Option<string>("--node-name") { Description = "Node name", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var nodeIp = new Option<string?>("--node-ip") { Description = "Node IPs, comma-separated (one per family)" };
        var zone = new Option<string?>("--zone") { Description = "topology.kubernetes.io/zone label" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Node state directory (logs, CNI state, pods)" };
        var clusterDns = new Option<string?>("--cluster-dns") { Description = "Cluster DNS Service IP (for Pods; not used yet)" };
        var clusterDomain = new Option<string>("--cluster-domain") { Description = "Cluster DNS domain (not used yet)", DefaultValueFactory = _ => "cluster.local" };
        var podCidr = new Option<string?>("--pod-cidr") { Description = "Pod CIDR override where there is no node IPAM (not used yet)" };
        var cniBinDir = new Option<string>("--cni-bin-dir") { Description = "CNI plugin directory (not used yet)", DefaultValueFactory = _ => "/usr/lib/cni" };
        var metrics = new Option<string>("--metrics-bind-address") { Description = "Proxy metrics address (not served yet)", DefaultValueFactory = _ => ":10249" };
        var healthz = new Option<string>("--healthz-bind-address") { Description = "Proxy healthz address (not served yet)", DefaultValueFactory = _ => ":10256" };
        var kubeletPort = new Option<int>("--kubelet-port") { Description = "Kubelet API port, published in the Node's daemonEndpoints", DefaultValueFactory = _ => 10250 };
        var cmd = new Command("agent", "Run one node: registers a Node and renews its Lease (Pods and the service proxy come later).")
        {
            kubeconfig, nodeName, nodeIp, zone, dataDir, clusterDns, clusterDomain, podCidr, cniBinDir, metrics, healthz, kubeletPort,
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
                stop.Cancel();
            });
            var agent = new NodeAgent(client, options, TimeProvider.System, loggers.CreateLogger<NodeAgent>());
            await agent.RunAsync(stop.Token).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }
}
