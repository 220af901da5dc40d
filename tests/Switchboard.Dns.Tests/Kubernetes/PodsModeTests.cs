using k8s;
using k8s.Models;
using Switchboard.Dns.Kubernetes;
using Switchboard.Dns.Tests.Fixtures;
using static Switchboard.Dns.Tests.Fixtures.Objects;

namespace Switchboard.Dns.Tests.Kubernetes;

/// <summary>S16: &lt;a-b-c-d&gt;.&lt;ns&gt;.pod per `--pods` (CoreDNS handler_pod_{disabled,insecure,verified}_test).</summary>
[Collection(ClusterCollection.Name)]
public sealed class PodsModeTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Dig_PodsDisabled_Nxdomain()
    {
        await using var dns = await fixture.StartServerAsync(PodsMode.Disabled);
        var r = await Dig.QueryAsync(dns.EndPoints[0].Port, "10-244-9-9.pods.pod.cluster.local", "A");
        Assert.Equal("NXDOMAIN", r.Status);
    }

    [Fact]
    public async Task Dig_PodsVerified_AnswersOnlyIpsOfPodsInThatNamespace()
    {
        var ns = "podv";
        await fixture.Client.CoreV1.CreateNamespaceAsync(Namespace(ns));
        var pod = await fixture.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web-0", NamespaceProperty = ns },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
        }, ns);
        pod.Status = new V1PodStatus { Phase = "Running", PodIP = "10.244.7.7", PodIPs = [new V1PodIP { Ip = "10.244.7.7" }] };
        await fixture.Client.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Metadata.Name, ns);

        await using var dns = await fixture.StartServerAsync(PodsMode.Verified);
        var port = dns.EndPoints[0].Port;
        var hit = await Dig.QueryAsync(port, "10-244-7-7.podv.pod.cluster.local", "A");
        Assert.Equal("10.244.7.7", Assert.Single(hit.Answer).Data);
        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(port, "10-244-7-8.podv.pod.cluster.local", "A")).Status);
        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(port, "10-244-7-7.pods.pod.cluster.local", "A")).Status);
        var nodata = await Dig.QueryAsync(port, "10-244-7-7.podv.pod.cluster.local", "AAAA");
        Assert.Equal("NOERROR", nodata.Status);
        Assert.Empty(nodata.Answer);
    }
}
