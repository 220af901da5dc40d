using Switchboard.E2E.Infrastructure;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Cluster DNS as a Pod sees it (issue 7 "Done when"): names resolve through the Pod's resolv.conf
/// (ClusterFirst: the kube-dns Service IP and the search path), via the kube-dns Service and the coredns
/// Deployment that `up` runs. Every answer is checked against the object's allocated IP.
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed class ClusterDnsTests(UpClusterFixture cluster)
{
    private const string Agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    private Kubectl K => cluster.Kubectl;

    [Fact]
    public async Task PodResolvConf_ServiceNamesHeadlessPodAndExternalName_ResolveThroughKubeDns()
    {
        var ns = await cluster.NamespaceAsync("dns");
        var other = await cluster.NamespaceAsync("dnsother");
        var manifest = $$"""
            apiVersion: v1
            kind: Service
            metadata: { name: my-svc, namespace: {{ns}} }
            spec: { selector: { app: none }, ports: [{ port: 80 }] }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: far-svc, namespace: {{other}} }
            spec: { selector: { app: none }, ports: [{ port: 80 }] }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: headless, namespace: {{ns}} }
            spec: { clusterIP: None, selector: { app: member }, ports: [{ port: 8080 }] }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: alias, namespace: {{ns}} }
            spec: { type: ExternalName, externalName: my-svc.{{ns}}.svc.cluster.local }
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: member, namespace: {{ns}}, labels: { app: member } }
            spec:
              hostname: web-0
              subdomain: headless
              containers: [{ name: c, image: "{{Agnhost}}", args: ["netexec", "--http-port=8080"] }]
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: client, namespace: {{ns}} }
            spec:
              containers: [{ name: c, image: "{{Agnhost}}", args: ["pause"] }]
            """;
        (await K.RunAsync(["apply", "-f", "-"], stdin: manifest)).ShouldSucceed();
        (await K.RunAsync(["wait", "-n", ns, "pod/member", "pod/client", "--for=condition=Ready", "--timeout=90s"], stdin: null, timeout: TimeSpan.FromSeconds(120))).ShouldSucceed();
        var myIp = (await K.RunAsync("get", "svc", "my-svc", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
        var farIp = (await K.RunAsync("get", "svc", "far-svc", "-n", other, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
        var memberIp = (await K.RunAsync("get", "pod", "member", "-n", ns, "-o", "jsonpath={.status.podIP}")).ShouldSucceed().Out;

        var resolv = (await K.RunAsync("exec", "-n", ns, "client", "--", "cat", "/etc/resolv.conf")).ShouldSucceed().Stdout;
        Assert.Contains("nameserver 10.96.0.10", resolv);
        Assert.Contains($"search {ns}.svc.cluster.local svc.cluster.local cluster.local", resolv);
        Assert.Contains("ndots:5", resolv);

        Assert.Equal(myIp, await ResolveAsync(ns, "my-svc"));
        Assert.Equal(farIp, await ResolveAsync(ns, "far-svc." + other));
        // The headless endpoint appears once the EndpointSlice lists the ready Pod: poll briefly.
        await EventuallyAsync(async () => await ResolveAsync(ns, "web-0.headless") == memberIp, "web-0.headless → the member Pod");
        Assert.Equal(memberIp, await ResolveAsync(ns, "headless"));
        Assert.Equal(myIp, await ResolveAsync(ns, "alias"));

        // A Service created now resolves within the poll window (the latency figure belongs to the benchmark).
        (await K.RunAsync("create", "service", "clusterip", "late-svc", "-n", ns, "--tcp=80:8080")).ShouldSucceed();
        var lateIp = (await K.RunAsync("get", "svc", "late-svc", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).ShouldSucceed().Out;
        await EventuallyAsync(async () => await ResolveAsync(ns, "late-svc") == lateIp, "late-svc");
    }

    private async Task<string?> ResolveAsync(string ns, string name)
    {
        var r = await K.RunAsync("exec", "-n", ns, "client", "--", "getent", "ahostsv4", name);
        return r.ExitCode == 0 && r.Lines.Count > 0 ? r.Lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0] : null;
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(250);
        }
    }
}
