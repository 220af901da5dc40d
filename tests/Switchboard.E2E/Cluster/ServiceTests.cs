using System.Text.Json;
using Switchboard.E2E.Infrastructure;
using Xunit.Sdk;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Services on a real 3-node `up` cluster with real traffic through the agents' nftables proxies: ClusterIP
/// (both families, no SNAT for Pod clients), NodePort, LoadBalancer from the host, session affinity, REJECT for
/// no endpoints, internalTrafficPolicy Local, externalTrafficPolicy Local (source kept, healthCheckNodePort
/// 200/503) and UDP. Every check names who answered (/hostname) or whom the backend saw (/clientip).
/// The proxy programs rules asynchronously, so the first answer is awaited (bounded) before asserting.
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed class ServiceTests(UpClusterFixture cluster)
{
    private const string Agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(90);

    private Kubectl K => cluster.Kubectl;

    private sealed record PodInfo(string Name, string Node, string Ipv4, string Ipv6);

    private sealed record ServiceInfo(IReadOnlyList<string> ClusterIps, int NodePort, int HealthCheckNodePort, IReadOnlyList<string> Ingress)
    {
        public string Ipv4 => ClusterIps.Single(i => !i.Contains(':'));

        public string Ipv6 => ClusterIps.Single(i => i.Contains(':'));
    }

    [Fact]
    public async Task ClusterIp_FromAPod_SpreadsOverServicePodsWithoutSnat_InBothFamilies()
    {
        var ns = await cluster.NamespaceAsync("svc-cip");
        await ApplyAsync(ns, Deployment("web", 3) + "---\n" + ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              ipFamilyPolicy: PreferDualStack
              selector: { app: web }
              ports: [{ name: http, port: 80, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");
        Assert.Equal(2, svc.ClusterIps.Count);

        await UntilAnswerAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", backends);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", 30);
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));
        Assert.True(answers.Distinct().Count() > 1, $"30 requests to {svc.Ipv4} all answered by {answers[0]}");

        var seen = await CurlManyAsync(ns, client.Name, $"http://{svc.Ipv4}:80/clientip", 10);
        Assert.All(seen, s => Assert.Equal(client.Ipv4, HostOf(s)));

        await UntilAnswerAsync(ns, client.Name, $"http://[{svc.Ipv6}]:80/hostname", backends);
        var answers6 = await CurlManyAsync(ns, client.Name, $"http://[{svc.Ipv6}]:80/hostname", 30);
        Assert.All(answers6, a => Assert.Contains(a, backends.Select(b => b.Name)));
        Assert.True(answers6.Distinct().Count() > 1, $"30 requests to [{svc.Ipv6}] all answered by {answers6[0]}");
        var seen6 = await CurlManyAsync(ns, client.Name, $"http://[{svc.Ipv6}]:80/clientip", 10);
        Assert.All(seen6, s => Assert.Equal("[" + client.Ipv6 + "]", HostOf(s)));
    }

    [Fact]
    public async Task NodePort_FromAPodOnAnotherNode_ToNode1InternalIp_AnswersFromAServicePod()
    {
        var ns = await cluster.NamespaceAsync("svc-np");
        await ApplyAsync(ns, Deployment("web", 3) + "---\n" + ClientPod("client", node: "node2") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              type: NodePort
              selector: { app: web }
              ports: [{ port: 80, targetPort: http }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");
        Assert.InRange(svc.NodePort, 30000, 32767);
        var node1 = await NodeIpAsync("node1");

        await UntilAnswerAsync(ns, client.Name, $"http://{node1}:{svc.NodePort}/hostname", backends);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{node1}:{svc.NodePort}/hostname", 10);
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));
    }

    [Fact]
    public async Task LoadBalancer_FromTheHost_OnTheLbHostAddressAndServicePort_AnswersFromAServicePod()
    {
        var ns = await cluster.NamespaceAsync("svc-lb");
        var port = Random.Shared.Next(20000, 30000);
        await ApplyAsync(ns, Deployment("web", 2) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              type: LoadBalancer
              selector: { app: web }
              ports: [{ port: {{port}}, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var svc = await UntilServiceAsync(ns, "web", s => s.Ingress.Count > 0, "a LoadBalancer ingress IP");
        Assert.Contains(svc.Ingress, ip => ip.StartsWith("172.18.255.", StringComparison.Ordinal));

        // The README tour's path: the host's loopback address that `up` publishes LoadBalancer Services on.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var url = $"http://{cluster.LbHost}:{port}/hostname";
        var deadline = DateTime.UtcNow + Converge;
        string? last = null;
        while (true)
        {
            try
            {
                last = await http.GetStringAsync(url);
                if (backends.Any(b => b.Name == last))
                {
                    break;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"GET {url} never answered from a backend ({string.Join(", ", backends.Select(b => b.Name))}); last: {last}");
            }
            await Task.Delay(500);
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.Contains(await http.GetStringAsync(url), backends.Select(b => b.Name));
        }
    }

    [Fact]
    public async Task LoadBalancer_IngressIpFromAPod_AnswersFromAServicePod()
    {
        var ns = await cluster.NamespaceAsync("svc-lbpod");
        var port = Random.Shared.Next(20000, 30000);
        await ApplyAsync(ns, Deployment("web", 2) + "---\n" + ClientPod("client", node: "node3") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              type: LoadBalancer
              selector: { app: web }
              ports: [{ port: {{port}}, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await UntilServiceAsync(ns, "web", s => s.Ingress.Any(i => !i.Contains(':')), "an IPv4 LoadBalancer ingress IP");
        var lbIp = svc.Ingress.First(i => !i.Contains(':'));

        await UntilAnswerAsync(ns, client.Name, $"http://{lbIp}:{port}/hostname", backends);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{lbIp}:{port}/hostname", 10);
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));
    }

    [Fact]
    public async Task ExternalIp_FromAPodAndFromANodeNamespace_AnswersFromAServicePod()
    {
        var ns = await cluster.NamespaceAsync("svc-extip");
        // An address no interface holds: nodes DNAT it in prerouting/output, as kube-proxy does for spec.externalIPs.
        var externalIp = $"172.18.254.{Random.Shared.Next(2, 250)}";
        await ApplyAsync(ns, Deployment("web", 2) + "---\n" + ClientPod("client", node: "node3") + "---\n" + HostClientPod("hostclient", "node2") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              externalIPs: ["{{externalIp}}"]
              ports: [{ port: 8123, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        await ReadyPodsAsync(ns, "hostclient");

        await UntilAnswerAsync(ns, client.Name, $"http://{externalIp}:8123/hostname", backends);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{externalIp}:8123/hostname", 6);
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));

        await UntilAnswerAsync(ns, "hostclient", $"http://{externalIp}:8123/hostname", backends);
        var fromNode = await CurlManyAsync(ns, "hostclient", $"http://{externalIp}:8123/hostname", 6);
        Assert.All(fromNode, a => Assert.Contains(a, backends.Select(b => b.Name)));
    }

    [Fact]
    public async Task LoadBalancerSourceRanges_PodOutsideTheRangesIsDropped_InsideIsServed_NodePortUnaffected()
    {
        var ns = await cluster.NamespaceAsync("svc-lbsr");
        var port = Random.Shared.Next(20000, 30000);
        await ApplyAsync(ns, Deployment("web", 2) + "---\n" + ClientPod("client", node: "node1") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: closed }
            spec:
              type: LoadBalancer
              loadBalancerSourceRanges: ["192.0.2.0/24"]
              selector: { app: web }
              ports: [{ port: {{port}}, targetPort: 8080 }]
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: open }
            spec:
              type: LoadBalancer
              loadBalancerSourceRanges: ["192.0.2.0/24", "10.244.0.0/16"]
              selector: { app: web }
              ports: [{ port: {{port + 1}}, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var closed = await UntilServiceAsync(ns, "closed", s => s.Ingress.Any(i => !i.Contains(':')), "an IPv4 ingress IP for closed");
        var open = await UntilServiceAsync(ns, "open", s => s.Ingress.Any(i => !i.Contains(':')), "an IPv4 ingress IP for open");
        var closedIp = closed.Ingress.First(i => !i.Contains(':'));
        var openIp = open.Ingress.First(i => !i.Contains(':'));

        // Both Services are programmed in the same sync once the open one answers.
        await UntilAnswerAsync(ns, client.Name, $"http://{openIp}:{port + 1}/hostname", backends);
        await UntilAnswerAsync(ns, client.Name, $"http://{closed.Ipv4}:{port}/hostname", backends);
        var node1 = await NodeIpAsync("node1");
        await UntilAnswerAsync(ns, client.Name, $"http://{node1}:{closed.NodePort}/hostname", backends);

        // The firewall drops (no answer at all: curl exit 28), it does not reject.
        var r = await ExecAsync(ns, client.Name, $"for i in 1 2 3; do curl -sS --max-time 2 http://{closedIp}:{port}/hostname; e=$?; echo; echo \"exit=$e\"; done");
        Assert.Equal(3, r.Lines.Count(l => l == "exit=28"));
        Assert.DoesNotContain(r.Lines, l => backends.Any(b => b.Name == l));
    }

    [Fact]
    public async Task ServiceProxyNameLabel_ServiceForAnotherProxy_IsNotProgrammed()
    {
        var ns = await cluster.NamespaceAsync("svc-pxname");
        await ApplyAsync(ns, Deployment("web", 2) + "---\n" + ClientPod("client", node: "node2") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: ours }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: theirs
              labels: { service.kubernetes.io/service-proxy-name: some-other-proxy }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var ours = await ServiceAsync(ns, "ours");
        var theirs = await ServiceAsync(ns, "theirs");

        await UntilAnswerAsync(ns, client.Name, $"http://{ours.Ipv4}:80/hostname", backends);
        // Its EndpointSlices exist (the controller does not care about the label); only the proxy skips it.
        await UntilSliceAsync(ns, "theirs", "{.items[*].endpoints[*].conditions.ready}", v => v.Split(' ').Count(x => x == "true") == 2);
        var r = await ExecAsync(ns, client.Name, $"for i in 1 2 3; do curl -sS --max-time 2 http://{theirs.Ipv4}:80/hostname; e=$?; echo; echo \"exit=$e\"; done");
        Assert.DoesNotContain(r.Lines, l => backends.Any(b => b.Name == l));
        Assert.Equal(3, r.Lines.Count(l => l.StartsWith("exit=", StringComparison.Ordinal) && l != "exit=0"));
    }

    [Fact]
    public async Task Hairpin_TheOnlyBackendCallsItsOwnService_AndAnswersItself()
    {
        var ns = await cluster.NamespaceAsync("svc-hairpin");
        await ApplyAsync(ns, Backend("solo", "node2") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await ReadyPodsAsync(ns, "web");
        var svc = await ServiceAsync(ns, "web");
        await UntilAnswerAsync(ns, "solo", $"http://{svc.Ipv4}:80/hostname", backends);
        var answers = await CurlManyAsync(ns, "solo", $"http://{svc.Ipv4}:80/hostname", 5);
        Assert.All(answers, a => Assert.Equal("solo", a));
    }

    [Fact]
    public async Task SessionAffinityClientIp_TwentyRequestsFromOnePod_AllAnsweredByTheSameBackend()
    {
        var ns = await cluster.NamespaceAsync("svc-aff");
        await ApplyAsync(ns, Deployment("web", 3) + "---\n" + ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              sessionAffinity: ClientIP
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");

        await UntilAnswerAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", backends);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", 20);
        Assert.Contains(answers[0], backends.Select(b => b.Name));
        Assert.All(answers, a => Assert.Equal(answers[0], a));
    }

    [Fact]
    public async Task NoEndpoints_CurlFromAPod_IsRefusedNotTimedOut()
    {
        var ns = await cluster.NamespaceAsync("svc-noep");
        await ApplyAsync(ns, ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: nobody }
            spec:
              selector: { app: nothing-matches-this }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "nobody");

        // Until the proxy has programmed the Service the packet just leaves (a timeout, exit 28); once it has,
        // the REJECT answers at once: curl exit 7, and its verbose line names ECONNREFUSED (curl 7.88's summary
        // says "Couldn't connect to server" for any failed connect, also for "No route to host").
        var script = $"curl -v --max-time 5 http://{svc.Ipv4}:80/hostname; echo \"exit=$?\"";
        var r = await UntilAsync(ns, client.Name, script, r => r.Stdout.Contains("exit=7", StringComparison.Ordinal) || r.Stdout.Contains("exit=0", StringComparison.Ordinal));
        Assert.Contains("exit=7", r.Stdout);
        Assert.Contains($"connect to {svc.Ipv4} port 80 failed: Connection refused", r.Stderr);
    }

    [Fact]
    public async Task InternalTrafficPolicyLocal_ClientsOnNode1AndNode2_OnlyReachTheBackendOnTheirOwnNode()
    {
        var ns = await cluster.NamespaceAsync("svc-itp");
        await ApplyAsync(ns, string.Join("---\n",
            Backend("web-node1", "node1"), Backend("web-node2", "node2"), Backend("web-node3", "node3"),
            ClientPod("client1", "node1"), ClientPod("client2", "node2"), $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              internalTrafficPolicy: Local
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """));
        var backends = await ReadyPodsAsync(ns, "web");
        Assert.Equal(["node1", "node2", "node3"], backends.Select(b => b.Node).Order());
        await ReadyPodsAsync(ns, "client");
        var svc = await ServiceAsync(ns, "web");

        foreach (var (client, expected) in new[] { ("client1", "web-node1"), ("client2", "web-node2") })
        {
            await UntilAnswerAsync(ns, client, $"http://{svc.Ipv4}:80/hostname", backends);
            var answers = await CurlManyAsync(ns, client, $"http://{svc.Ipv4}:80/hostname", 20);
            Assert.All(answers, a => Assert.Equal(expected, a));
        }
    }

    [Fact]
    public async Task InternalTrafficPolicyLocal_ClientOnANodeWithoutALocalBackend_IsDroppedNotRefused()
    {
        var ns = await cluster.NamespaceAsync("svc-itpdrop");
        await ApplyAsync(ns, string.Join("---\n", Backend("web-node1", "node1"), ClientPod("client1", "node1"), ClientPod("client3", "node3"), $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              internalTrafficPolicy: Local
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """));
        var backends = await ReadyPodsAsync(ns, "web");
        await ReadyPodsAsync(ns, "client");
        var svc = await ServiceAsync(ns, "web");
        await UntilAnswerAsync(ns, "client1", $"http://{svc.Ipv4}:80/hostname", backends);

        // The Service has endpoints, none on node3: upstream DROPs (a timeout, curl exit 28), it does not REJECT.
        var r = (await ExecAsync(ns, "client3", $"curl -sS --max-time 3 http://{svc.Ipv4}:80/hostname; echo \"exit=$?\"")).ShouldSucceed();
        Assert.Contains("exit=28", r.Stdout);
        Assert.DoesNotContain("web-node1", r.Stdout);
    }

    [Fact]
    public async Task ExternalTrafficPolicyLocal_NodePortFromAHostNetworkClientOnNode2_KeepsItsSource_ClusterPolicyMasquerades()
    {
        var ns = await cluster.NamespaceAsync("svc-etp");
        await ApplyAsync(ns, string.Join("---\n", Backend("web-node1", "node1"), HostClientPod("hostclient", "node2"), $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: local }
            spec:
              type: NodePort
              externalTrafficPolicy: Local
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: cluster }
            spec:
              type: NodePort
              externalTrafficPolicy: Cluster
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """));
        var backends = await ReadyPodsAsync(ns, "web");
        await ReadyPodsAsync(ns, "hostclient");
        var node1 = await NodeIpAsync("node1");
        var node2 = await NodeIpAsync("node2");
        var local = await ServiceAsync(ns, "local");
        var clusterSvc = await ServiceAsync(ns, "cluster");

        await UntilAnswerAsync(ns, "hostclient", $"http://{node1}:{local.NodePort}/hostname", backends);
        var seenLocal = await CurlManyAsync(ns, "hostclient", $"http://{node1}:{local.NodePort}/clientip", 5);
        Assert.All(seenLocal, s => Assert.Equal(node2, HostOf(s)));

        await UntilAnswerAsync(ns, "hostclient", $"http://{node1}:{clusterSvc.NodePort}/hostname", backends);
        var seenCluster = await CurlManyAsync(ns, "hostclient", $"http://{node1}:{clusterSvc.NodePort}/clientip", 5);
        Assert.All(seenCluster, s => Assert.NotEqual(node2, HostOf(s)));
    }

    [Fact]
    public async Task ExternalTrafficPolicyLocal_LoadBalancerHealthCheckNodePort_200OnTheNodeWithAnEndpoint_503OnTheOther()
    {
        var ns = await cluster.NamespaceAsync("svc-hc");
        var port = Random.Shared.Next(20000, 30000);
        await ApplyAsync(ns, string.Join("---\n", Backend("web-node1", "node1"), HostClientPod("hostclient", "node2"), $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              type: LoadBalancer
              externalTrafficPolicy: Local
              selector: { app: web }
              ports: [{ port: {{port}}, targetPort: 8080 }]
            """));
        await ReadyPodsAsync(ns, "web");
        await ReadyPodsAsync(ns, "hostclient");
        var svc = await ServiceAsync(ns, "web");
        Assert.InRange(svc.HealthCheckNodePort, 30000, 32767);
        var node1 = await NodeIpAsync("node1");
        var node2 = await NodeIpAsync("node2");

        var with = await HealthCheckAsync(ns, node1, svc.HealthCheckNodePort, "200");
        Assert.Equal(1, LocalEndpoints(with.Body));
        using (var doc = JsonDocument.Parse(with.Body))
        {
            Assert.Equal(ns, doc.RootElement.GetProperty("service").GetProperty("namespace").GetString());
            Assert.Equal("web", doc.RootElement.GetProperty("service").GetProperty("name").GetString());
        }
        var without = await HealthCheckAsync(ns, node2, svc.HealthCheckNodePort, "503");
        Assert.Equal(0, LocalEndpoints(without.Body));
    }

    [Fact]
    public async Task Udp_ClusterIpPort_AnswersTheHostnameCommandFromServicePods()
    {
        var ns = await cluster.NamespaceAsync("svc-udp");
        await ApplyAsync(ns, Deployment("web", 3) + "---\n" + ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ name: udp, protocol: UDP, port: 8081, targetPort: 8081 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");

        // No nc on this machine: the client's own netexec sends the datagram (upstream e2e's /dial), each try
        // from a fresh socket. It reads one datagram back.
        var dial = $"http://127.0.0.1:8080/dial?request=hostname&protocol=udp&host={svc.Ipv4}&port=8081&tries=1";
        await UntilAsync(ns, client.Name, $"curl -s --max-time 10 '{dial}'", r => backends.Any(b => DialResponses(r.Out).Contains(b.Name)));
        var answers = new List<string>();
        var lines = (await ExecAsync(ns, client.Name, $"for i in $(seq 10); do curl -s --max-time 10 '{dial}'; echo; done", TimeSpan.FromSeconds(150))).ShouldSucceed().Lines;
        Assert.Equal(10, lines.Count);
        foreach (var line in lines)
        {
            var responses = DialResponses(line);
            Assert.True(responses.Count == 1, $"UDP dial to {svc.Ipv4}:8081: {line}");
            answers.Add(responses[0]);
        }
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));
        Assert.True(answers.Distinct().Count() > 1, $"10 UDP dials to {svc.Ipv4}:8081 all answered by {answers[0]}");
    }

    [Fact]
    public async Task TrafficDistributionPreferClose_ClientInZoneA_OnlyReachesTheBackendInItsZone()
    {
        var ns = await cluster.NamespaceAsync("svc-topo");
        await ApplyAsync(ns, string.Join("---\n",
            Backend("web-node1", "node1"), Backend("web-node2", "node2"), Backend("web-node3", "node3"),
            ClientPod("client1", "node1"), $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              trafficDistribution: PreferClose
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """));
        var backends = await ReadyPodsAsync(ns, "web");
        await ReadyPodsAsync(ns, "client");
        var zone = (await K.RunAsync("get", "node", "node1", "-o", "jsonpath={.metadata.labels.topology\\.kubernetes\\.io/zone}")).ShouldSucceed().Out;
        Assert.Equal("a", zone);
        var svc = await ServiceAsync(ns, "web");

        // The EndpointSlice controller sets zone hints for PreferClose; the proxy then keeps traffic in the zone.
        var hints = await UntilSliceAsync(ns, "web", "{.items[*].endpoints[*].hints.forZones[*].name}", o => o.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 3);
        Assert.Equal(["a", "b", "c"], hints.Split(' ').Order());
        await UntilAsync(ns, "client1", $"for i in $(seq 10); do curl -s --max-time 3 http://{svc.Ipv4}:80/hostname; echo; done",
            r => r.Lines.Count == 10 && r.Lines.All(l => l == "web-node1"));
        var answers = await CurlManyAsync(ns, "client1", $"http://{svc.Ipv4}:80/hostname", 20);
        Assert.All(answers, a => Assert.Equal("web-node1", a));
    }

    [Fact]
    public async Task TerminatingEndpoint_OnlyBackendDeleted_KeepsServingThroughTheServiceWhileItDrains()
    {
        var ns = await cluster.NamespaceAsync("svc-term");
        await ApplyAsync(ns, ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: old, labels: { app: web } }
            spec:
              terminationGracePeriodSeconds: 120
              containers:
              - name: netexec
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080", "--udp-port=8081", "--delay-shutdown=90"]
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await ReadyPodsAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");
        await UntilAnswerAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", backends);

        (await K.RunAsync("delete", "pod", "old", "-n", ns, "--wait=false")).ShouldSucceed();
        // ready=false, serving=true, terminating=true: with no ready endpoint left the proxy falls back to it.
        await UntilSliceAsync(ns, "web", "{.items[*].endpoints[*].conditions.terminating}", o => o == "true");
        var conditions = (await K.RunAsync("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].conditions}")).ShouldSucceed().Out;
        Assert.Contains("\"serving\":true", conditions);
        Assert.Contains("\"ready\":false", conditions);
        var answers = await CurlManyAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", 10);
        Assert.All(answers, a => Assert.Equal("old", a));
        await ForceDeleteAsync(ns, "old");
    }

    [Fact]
    public async Task ScaleDown_MidStream_EveryRequestIsAnswered_AndNewRequestsGoOnlyToTheRemainingPod()
    {
        var ns = await cluster.NamespaceAsync("svc-scale");
        await ApplyAsync(ns, ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: web }
            spec:
              replicas: 3
              selector: { matchLabels: { app: web } }
              template:
                metadata: { labels: { app: web } }
                spec:
                  terminationGracePeriodSeconds: 60
                  containers:
                  - name: netexec
                    image: {{Agnhost}}
                    args: ["netexec", "--http-port=8080", "--udp-port=-1", "--delay-shutdown=20"]
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await RolloutAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");
        await UntilAnswerAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", backends);

        // ~12 s of requests, one connection each; the scale-down lands in the middle of them.
        var stream = ExecAsync(ns, client.Name,
            $"for i in $(seq 120); do r=$(curl -sS --max-time 3 http://{svc.Ipv4}:80/hostname 2>&1); echo \"$i $r\"; sleep 0.1; done",
            TimeSpan.FromSeconds(120));
        await Task.Delay(TimeSpan.FromSeconds(3));
        (await K.RunAsync("scale", "deployment", "web", "-n", ns, "--replicas=1")).ShouldSucceed();
        await UntilSliceAsync(ns, "web", "{.items[*].endpoints[*].conditions.terminating}", o => o.Split(' ').Count(t => t == "true") == 2);
        var remaining = (await K.RunAsync("get", "pods", "-n", ns, "-l", "app=web", "-o",
            "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{\"\\n\"}{end}")).ShouldSucceed().Out
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var survivor = Assert.Single(backends.Select(b => b.Name).Except(remaining));

        var result = (await stream).ShouldSucceed();
        var answers = result.Lines.Select(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..]).ToList();
        Assert.Equal(120, answers.Count);
        Assert.All(answers, a => Assert.Contains(a, backends.Select(b => b.Name)));
        // After the terminating endpoints left the ready set, new connections only reach the survivor.
        var tail = await CurlManyAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", 15);
        Assert.All(tail, a => Assert.Equal(survivor, a));
        foreach (var gone in remaining)
        {
            await ForceDeleteAsync(ns, gone);
        }
    }

    [Fact]
    public async Task ReplacedBackend_EstablishedConnectionKeepsItsTerminatingBackend_NewConnectionsGoToTheReadyOne()
    {
        var ns = await cluster.NamespaceAsync("svc-drain");
        var backend = (string name) => $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: {{name}}, labels: { app: web } }
            spec:
              terminationGracePeriodSeconds: 120
              containers:
              - name: netexec
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080", "--udp-port=8081", "--delay-shutdown=90"]

            """;
        await ApplyAsync(ns, backend("old") + "---\n" + ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ port: 80, targetPort: 8080 }]
            """);
        var backends = await ReadyPodsAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");
        await UntilAnswerAsync(ns, client.Name, $"http://{svc.Ipv4}:80/hostname", backends);

        // One keep-alive connection asking every 0.5 s for 25 s, while "new" comes up and "old" is deleted.
        var stream = "/usr/bin/python3 -c \"import http.client, time; c = http.client.HTTPConnection('" + svc.Ipv4 + "', 80, timeout=5)\n" +
            "for i in range(50):\n  c.request('GET', '/hostname'); print(c.getresponse().read().decode(), flush=True); time.sleep(0.5)\"";
        var streaming = ExecAsync(ns, client.Name, stream, TimeSpan.FromSeconds(120));
        await Task.Delay(TimeSpan.FromSeconds(3));
        await ApplyAsync(ns, backend("new"));
        (await K.RunAsync(["wait", "-n", ns, "pod/new", "--for=condition=Ready", "--timeout=60s"], stdin: null, timeout: TimeSpan.FromSeconds(90))).ShouldSucceed();
        (await K.RunAsync("delete", "pod", "old", "-n", ns, "--wait=false")).ShouldSucceed();
        await UntilSliceAsync(ns, "web", "{.items[*].endpoints[*].conditions.terminating}", o => o.Contains("true", StringComparison.Ordinal));

        // New connections: only the ready endpoint once the proxy has the change.
        await UntilAsync(ns, client.Name, $"for i in $(seq 10); do curl -s --max-time 3 http://{svc.Ipv4}:80/hostname; echo; done",
            r => r.Lines.Count == 10 && r.Lines.All(l => l == "new"));

        var lines = (await streaming).ShouldSucceed().Lines;
        Assert.Equal(50, lines.Count);
        Assert.All(lines, l => Assert.Equal("old", l));
        await ForceDeleteAsync(ns, "old");
    }

    [Fact]
    public async Task LoadBalancerExternalTrafficPolicyLocal_FromTheHost_EveryRequestAnswered_SourceNotMasqueraded()
    {
        var ns = await cluster.NamespaceAsync("svc-lblocal");
        var port = Random.Shared.Next(20000, 30000);
        await ApplyAsync(ns, Backend("web-node2", "node2") + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              type: LoadBalancer
              externalTrafficPolicy: Local
              selector: { app: web }
              ports: [{ port: {{port}}, targetPort: 8080 }]
            """);
        await ReadyPodsAsync(ns, "web");
        await UntilServiceAsync(ns, "web", s => s.Ingress.Count > 0, "a LoadBalancer ingress IP");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var url = $"http://{cluster.LbHost}:{port}";
        var deadline = DateTime.UtcNow + Converge;
        string? last = null;
        while (last != "web-node2")
        {
            try
            {
                last = await http.GetStringAsync(url + "/hostname");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            if (last != "web-node2" && DateTime.UtcNow > deadline)
            {
                throw new XunitException($"GET {url}/hostname never answered from web-node2; last: {last}");
            }
            await Task.Delay(500);
        }

        // The ECMP route only uses nodes whose healthCheckNodePort says they have a local endpoint, so no request
        // lands on a node that would drop it; and the backend sees the publisher's underlay address (the
        // underlay gateway 172.18.0.1), not a node's masquerade address.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("web-node2", await http.GetStringAsync(url + "/hostname"));
            Assert.Equal("172.18.0.1", HostOf(await http.GetStringAsync(url + "/clientip")));
        }
    }

    [Fact]
    public async Task Udp_EndpointReplaced_ClientWithAFixedSourcePortReachesTheNewBackend()
    {
        var ns = await cluster.NamespaceAsync("svc-udpct");
        var backend = (string name) => $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: {{name}}, labels: { app: web } }
            spec:
              containers:
              - name: netexec
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080", "--udp-port=8081"]

            """;
        await ApplyAsync(ns, backend("udp-a") + "---\n" + ClientPod("client", node: null) + "---\n" + $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: web }
            spec:
              selector: { app: web }
              ports: [{ name: udp, protocol: UDP, port: 8081, targetPort: 8081 }]
            """);
        await ReadyPodsAsync(ns, "web");
        var client = (await ReadyPodsAsync(ns, "client")).Single();
        var svc = await ServiceAsync(ns, "web");

        // The same source port every time, so every datagram belongs to one conntrack entry.
        var send = "/usr/bin/python3 -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); " +
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('', 40123)); s.settimeout(2); " +
            $"s.sendto(b'hostname', ('{svc.Ipv4}', 8081)); print(s.recv(512).decode())\"";
        await UntilAsync(ns, client.Name, send, r => r.Out == "udp-a");

        (await K.RunAsync("delete", "pod", "udp-a", "-n", ns, "--grace-period=0", "--force")).ShouldSucceed();
        await ApplyAsync(ns, backend("udp-b"));
        await ReadyPodsAsync(ns, "web");
        await UntilAsync(ns, client.Name, send, r => r.Out == "udp-b");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("udp-b", (await ExecAsync(ns, client.Name, send)).ShouldSucceed().Out);
        }
    }

    // ---- manifests ----

    private static string Deployment(string name, int replicas) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: {{name}} }
        spec:
          replicas: {{replicas}}
          selector: { matchLabels: { app: {{name}} } }
          template:
            metadata: { labels: { app: {{name}} } }
            spec:
              containers:
              - name: netexec
                image: {{Agnhost}}
                args: ["netexec", "--http-port=8080", "--udp-port=8081"]
                ports: [{ name: http, containerPort: 8080 }]

        """;

    /// <summary>A backend Pod labelled app=web pinned to <paramref name="node"/>; its hostname is its name.</summary>
    private static string Backend(string name, string node) => $$"""
        apiVersion: v1
        kind: Pod
        metadata: { name: {{name}}, labels: { app: web } }
        spec:
          nodeName: {{node}}
          containers:
          - name: netexec
            image: {{Agnhost}}
            args: ["netexec", "--http-port=8080", "--udp-port=8081"]

        """;

    /// <summary>A client Pod (label role=client) running netexec so it can also dial UDP via /dial.</summary>
    private static string ClientPod(string name, string? node) => $$"""
        apiVersion: v1
        kind: Pod
        metadata: { name: {{name}}, labels: { role: client } }
        spec:
          {{(node is null ? "" : "nodeName: " + node)}}
          containers:
          - name: c
            image: {{Agnhost}}
            args: ["netexec", "--http-port=8080", "--udp-port=-1"]

        """;

    /// <summary>A hostNetwork client in <paramref name="node"/>'s namespace (it binds nothing).</summary>
    private static string HostClientPod(string name, string node) => $$"""
        apiVersion: v1
        kind: Pod
        metadata: { name: {{name}}, labels: { role: hostclient } }
        spec:
          nodeName: {{node}}
          hostNetwork: true
          containers:
          - name: c
            image: {{Agnhost}}
            args: ["pause"]

        """;

    // ---- helpers ----

    private async Task ApplyAsync(string ns, string manifest) =>
        (await K.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: manifest)).ShouldSucceed();

    private async Task<List<PodInfo>> RolloutAsync(string ns, string deployment)
    {
        (await K.RunAsync(["rollout", "status", "deployment/" + deployment, "-n", ns, "--timeout", "120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
        return await PodsAsync(ns, "app=" + deployment);
    }

    /// <summary>Waits for the Pods named by label (app=<paramref name="label"/> or role=<paramref name="label"/>).</summary>
    private async Task<List<PodInfo>> ReadyPodsAsync(string ns, string label)
    {
        var selector = label is "web" ? "app=web" : "role=" + label;
        (await K.RunAsync(["wait", "-n", ns, "pod", "-l", selector, "--for=condition=Ready", "--timeout=120s"], stdin: null, timeout: TimeSpan.FromSeconds(150))).ShouldSucceed();
        return await PodsAsync(ns, selector);
    }

    private async Task<List<PodInfo>> PodsAsync(string ns, string selector)
    {
        using var doc = JsonDocument.Parse((await K.RunAsync("get", "pods", "-n", ns, "-l", selector, "-o", "json")).ShouldSucceed().Stdout);
        return [.. doc.RootElement.GetProperty("items").EnumerateArray().Select(p =>
        {
            var ips = p.GetProperty("status").GetProperty("podIPs").EnumerateArray().Select(i => i.GetProperty("ip").GetString()!).ToList();
            return new PodInfo(p.GetProperty("metadata").GetProperty("name").GetString()!, p.GetProperty("spec").GetProperty("nodeName").GetString()!,
                ips.FirstOrDefault(i => !i.Contains(':')) ?? "", ips.FirstOrDefault(i => i.Contains(':')) ?? "");
        })];
    }

    private async Task<ServiceInfo> ServiceAsync(string ns, string name)
    {
        using var doc = JsonDocument.Parse((await K.RunAsync("get", "service", name, "-n", ns, "-o", "json")).ShouldSucceed().Stdout);
        var spec = doc.RootElement.GetProperty("spec");
        var port = spec.GetProperty("ports")[0];
        var ingress = doc.RootElement.TryGetProperty("status", out var status) && status.TryGetProperty("loadBalancer", out var lb) && lb.TryGetProperty("ingress", out var ing)
            ? ing.EnumerateArray().Where(i => i.TryGetProperty("ip", out _)).Select(i => i.GetProperty("ip").GetString()!).ToList()
            : [];
        return new ServiceInfo(
            [.. spec.GetProperty("clusterIPs").EnumerateArray().Select(i => i.GetString()!)],
            port.TryGetProperty("nodePort", out var np) ? np.GetInt32() : 0,
            spec.TryGetProperty("healthCheckNodePort", out var hc) ? hc.GetInt32() : 0,
            ingress);
    }

    private async Task<ServiceInfo> UntilServiceAsync(string ns, string name, Func<ServiceInfo, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Converge;
        while (true)
        {
            var svc = await ServiceAsync(ns, name);
            if (done(svc))
            {
                return svc;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"service {ns}/{name} never got {what}: {svc}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>Polls a jsonpath over the Service's EndpointSlices until <paramref name="done"/> holds.</summary>
    private async Task<string> UntilSliceAsync(string ns, string service, string jsonpath, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow + Converge;
        while (true)
        {
            var o = (await K.RunAsync("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=" + service, "-o", "jsonpath=" + jsonpath)).ShouldSucceed().Out;
            if (done(o))
            {
                return o;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"EndpointSlices of {ns}/{service} never matched; {jsonpath} = '{o}'");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>Ends a draining Pod (--delay-shutdown) now, so it does not outlive its test.</summary>
    private async Task ForceDeleteAsync(string ns, string pod) =>
        (await K.RunAsync("delete", "pod", pod, "-n", ns, "--grace-period=0", "--force", "--ignore-not-found")).ShouldSucceed();

    private async Task<string> NodeIpAsync(string node)
    {
        var addresses = (await K.RunAsync("get", "node", node, "-o", "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}")).ShouldSucceed().Out;
        return addresses.Split(' ').First(a => !a.Contains(':'));
    }

    private Task<KubectlResult> ExecAsync(string ns, string pod, string script, TimeSpan? timeout = null) =>
        K.RunAsync(["exec", "-n", ns, pod, "--", "sh", "-c", script], stdin: null, timeout: timeout ?? TimeSpan.FromSeconds(90));

    /// <summary>Runs <paramref name="script"/> in the Pod until <paramref name="done"/> holds (bounded by <see cref="Converge"/>).</summary>
    private async Task<KubectlResult> UntilAsync(string ns, string pod, string script, Func<KubectlResult, bool> done)
    {
        var deadline = DateTime.UtcNow + Converge;
        while (true)
        {
            var r = await ExecAsync(ns, pod, script);
            if (done(r))
            {
                return r;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"not converged within {Converge.TotalSeconds} s; last attempt:\n{r}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>Waits until the Service (once programmed) answers <paramref name="url"/> with a backend's hostname.</summary>
    private Task UntilAnswerAsync(string ns, string pod, string url, IReadOnlyList<PodInfo> backends) =>
        UntilAsync(ns, pod, $"curl -sS --max-time 3 '{url}'", r => backends.Any(b => b.Name == r.Out));

    /// <summary><paramref name="count"/> GETs of <paramref name="url"/> from the Pod, each on a new connection; one answer each.</summary>
    private async Task<List<string>> CurlManyAsync(string ns, string pod, string url, int count)
    {
        var r = (await ExecAsync(ns, pod, $"for i in $(seq {count}); do echo \"$(curl -sS --max-time 5 '{url}')\"; done")).ShouldSucceed();
        var lines = r.Stdout.Split('\n')[..count].Select(l => l.Trim()).ToList();
        Assert.True(lines.All(l => l.Length > 0), $"some of {count} requests to {url} got no answer:\n{r}");
        return lines;
    }

    /// <summary>Curls a healthCheckNodePort from the hostNetwork client until it answers <paramref name="code"/>.</summary>
    private async Task<(string Code, string Body)> HealthCheckAsync(string ns, string nodeIp, int port, string code)
    {
        var r = await UntilAsync(ns, "hostclient", $"curl -s --max-time 3 -w '\\n%{{http_code}}' http://{nodeIp}:{port}/",
            r => r.Lines.Count > 0 && r.Lines[^1] == code);
        var body = r.Stdout[..r.Stdout.LastIndexOf('\n')];
        return (code, body);
    }

    private static int LocalEndpoints(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("localEndpoints").GetInt32();
    }

    private static List<string> DialResponses(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.TryGetProperty("responses", out var r) && r.ValueKind == JsonValueKind.Array
                ? [.. r.EnumerateArray().Select(e => e.GetString()!)]
                : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>"1.2.3.4:5" → "1.2.3.4", "[fd00::1]:5" → "[fd00::1]".</summary>
    private static string HostOf(string ipPort) => ipPort[..ipPort.LastIndexOf(':')];
}
