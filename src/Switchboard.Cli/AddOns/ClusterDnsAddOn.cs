using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Switchboard.Node.Embedded;
using Switchboard.Node.Linux;

namespace Switchboard.Cli.AddOns;

/// <summary>
/// Cluster DNS as a real cluster runs it (ARCHITECTURE.md §1, issue 7 stage 4): a Deployment `coredns` in
/// kube-system running `switchboard dns` with in-cluster config, behind the `kube-dns` Service at --cluster-dns,
/// labelled k8s-app=kube-dns like kubeadm's CoreDNS. Pods resolve through the Service proxy. `up` applies it after
/// the nodes are ready (objects that exist are kept: a resume never changes the Service's IP) and prints the ready
/// line only once the Deployment is available and a query through the Service IP, sent from a node, is answered.
/// </summary>
internal static class ClusterDnsAddOn
{
    public const string Namespace = "kube-system";
    public const string ServiceName = "kube-dns";
    public const string DeploymentName = "coredns";
    private const string AppLabel = "kube-dns";

    public static async Task ApplyAsync(IKubernetes client, UpOptions up, CancellationToken ct)
    {
        var labels = new Dictionary<string, string> { ["k8s-app"] = AppLabel };
        await CreateIfMissingAsync(() => client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount
        {
            Metadata = new V1ObjectMeta { Name = DeploymentName, NamespaceProperty = Namespace },
        }, Namespace, cancellationToken: ct)).ConfigureAwait(false);
        // Read first: creating a Service whose fixed ClusterIP it already holds fails on the IP (422), not on the name.
        if (!await ExistsAsync(() => client.CoreV1.ReadNamespacedServiceAsync(ServiceName, Namespace, cancellationToken: ct)).ConfigureAwait(false))
        {
            await CreateIfMissingAsync(() => client.CoreV1.CreateNamespacedServiceAsync(new V1Service
            {
                Metadata = new V1ObjectMeta
                {
                    Name = ServiceName,
                    NamespaceProperty = Namespace,
                    Labels = new Dictionary<string, string>(labels) { ["kubernetes.io/cluster-service"] = "true", ["kubernetes.io/name"] = "CoreDNS" },
                },
                Spec = new V1ServiceSpec
                {
                    ClusterIP = up.ClusterDns.ToString(),
                    Selector = labels,
                    Ports =
                    [
                        new V1ServicePort { Name = "dns", Port = 53, Protocol = "UDP", TargetPort = 53 },
                        new V1ServicePort { Name = "dns-tcp", Port = 53, Protocol = "TCP", TargetPort = 53 },
                        new V1ServicePort { Name = "metrics", Port = 9153, Protocol = "TCP", TargetPort = 9153 },
                    ],
                },
            }, Namespace, cancellationToken: ct)).ConfigureAwait(false);
        }

        var deployment = Deployment(up, labels);
        try
        {
            await client.AppsV1.CreateNamespacedDeploymentAsync(deployment, Namespace, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // A resume: the command line (binary path, flags) may have changed since the last run.
            var current = await client.AppsV1.ReadNamespacedDeploymentAsync(DeploymentName, Namespace, cancellationToken: ct).ConfigureAwait(false);
            current.Spec.Template = deployment.Spec.Template;
            await client.AppsV1.ReplaceNamespacedDeploymentAsync(current, DeploymentName, Namespace, cancellationToken: ct).ConfigureAwait(false);
        }
    }

    private static V1Deployment Deployment(UpOptions up, Dictionary<string, string> labels)
    {
        string[] command = [.. EmbeddedCluster.SelfCommand(), "dns", "--listen", ":53", "--cluster-domain", up.ClusterDomain, "--pods", "insecure", "--upstream", up.DnsUpstream ?? "none"];
        return new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = DeploymentName, NamespaceProperty = Namespace, Labels = labels },
            Spec = new V1DeploymentSpec
            {
                Replicas = 2,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Strategy = new V1DeploymentStrategy { Type = "RollingUpdate", RollingUpdate = new V1RollingUpdateDeployment { MaxUnavailable = 1, MaxSurge = "25%" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        ServiceAccountName = DeploymentName,
                        // As CoreDNS: the node's resolver, never itself.
                        DnsPolicy = "Default",
                        PriorityClassName = null,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "coredns",
                                Image = "switchboard.local/switchboard:" + typeof(ClusterDnsAddOn).Assembly.GetName().Version,
                                Command = command,
                                Ports =
                                [
                                    new V1ContainerPort { Name = "dns", ContainerPort = 53, Protocol = "UDP" },
                                    new V1ContainerPort { Name = "dns-tcp", ContainerPort = 53, Protocol = "TCP" },
                                    new V1ContainerPort { Name = "metrics", ContainerPort = 9153, Protocol = "TCP" },
                                ],
                                ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/ready", Port = 8181 }, PeriodSeconds = 1 },
                                LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health", Port = 8080 }, InitialDelaySeconds = 60, TimeoutSeconds = 5, FailureThreshold = 5 },
                            },
                        ],
                    },
                },
            },
        };
    }

    /// <summary>Waits until the Deployment is available and the Service answers a query sent from inside <paramref name="nodeNamespace"/>.</summary>
    public static async Task WaitAvailableAsync(IKubernetes client, UpOptions up, string nodeNamespace, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                var d = await client.AppsV1.ReadNamespacedDeploymentAsync(DeploymentName, Namespace, cancellationToken: ct).ConfigureAwait(false);
                if (d.Status?.AvailableReplicas is > 0)
                {
                    break;
                }
            }
            catch (HttpOperationException)
            {
            }
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        using var sockets = new NetnsSocketFactory(nodeNamespace);
        var name = "kubernetes.default.svc." + up.ClusterDomain;
        while (!await AnswersAsync(sockets, new IPEndPoint(up.ClusterDns, 53), name, ct).ConfigureAwait(false))
        {
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    /// <summary>One A query over UDP; true when the answer is NOERROR with at least one record.</summary>
    internal static async Task<bool> AnswersAsync(NetnsSocketFactory sockets, IPEndPoint server, string name, CancellationToken ct)
    {
        using var socket = await sockets.CreateAsync(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp).ConfigureAwait(false);
        var query = Query(name, (ushort)Random.Shared.Next(1, 65535));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await socket.ConnectAsync(server, timeout.Token).ConfigureAwait(false);
            await socket.SendAsync(query, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[512];
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            return n >= 12 && buffer[0] == query[0] && buffer[1] == query[1] && (buffer[3] & 0x0F) == 0 && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)) > 0;
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return false;
        }
    }

    internal static byte[] Query(string name, ushort id)
    {
        var bytes = new List<byte>(64) { (byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.TrimEnd('.').Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }

    private static async Task<bool> ExistsAsync(Func<Task> read)
    {
        try
        {
            await read().ConfigureAwait(false);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task CreateIfMissingAsync(Func<Task> create)
    {
        try
        {
            await create().ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }
}
