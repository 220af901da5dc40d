using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E;

/// <summary>
/// The imperative generators (`create namespace|deployment|configmap|service`, `expose`; kubectl sends these
/// bodies as protobuf) and `get all` (the discovery category).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class KubectlImperativeTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    private const string Image = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    [Fact]
    public async Task CreateNamespace_Imperative_CreatedAndActive()
    {
        var name = Unique("e2e-imp-ns");
        var r = (await Kubectl.RunAsync("create", "namespace", name)).ShouldSucceed();
        AssertStdout(r, $"namespace/{name} created");

        var get = (await Kubectl.RunAsync("get", "namespace", name)).ShouldSucceed();
        AssertLineMatches(get, get.Stdout, @"^NAME\s+STATUS\s+AGE$");
        AssertLineMatches(get, get.Stdout, $@"^{name}\s+Active\s+\S+$");
    }

    [Fact]
    public async Task CreateDeployment_Imperative_CreatedWithImageAndSelector()
    {
        var ns = await NewNamespaceAsync("imp-deploy");
        var r = (await Kubectl.RunAsync("create", "deployment", "web", "--image=" + Image, "-n", ns)).ShouldSucceed();
        AssertStdout(r, "deployment.apps/web created");

        Assert.Equal(Image, await JsonPathAsync(ns, "deployment web", "{.spec.template.spec.containers[0].image}"));
        Assert.Equal("web", await JsonPathAsync(ns, "deployment web", "{.spec.selector.matchLabels.app}"));
        Assert.Equal("web", await JsonPathAsync(ns, "deployment web", "{.spec.template.metadata.labels.app}"));
        Assert.Equal("1", await JsonPathAsync(ns, "deployment web", "{.spec.replicas}"));
    }

    [Fact]
    public async Task CreateConfigMap_FromLiterals_CreatedWithData()
    {
        var ns = await NewNamespaceAsync("imp-cm");
        var r = (await Kubectl.RunAsync("create", "configmap", "settings", "--from-literal=greeting=hello", "--from-literal=lang=en", "-n", ns)).ShouldSucceed();
        AssertStdout(r, "configmap/settings created");

        Assert.Equal("hello", await JsonPathAsync(ns, "configmap settings", "{.data.greeting}"));
        Assert.Equal("en", await JsonPathAsync(ns, "configmap settings", "{.data.lang}"));
    }

    [Fact]
    public async Task CreateServiceClusterIp_Imperative_CreatedWithPortsSelectorAndClusterIp()
    {
        var ns = await NewNamespaceAsync("imp-svc");
        var r = (await Kubectl.RunAsync("create", "service", "clusterip", "backend", "--tcp=80:8080", "-n", ns)).ShouldSucceed();
        AssertStdout(r, "service/backend created");

        Assert.Equal("80-8080", await JsonPathAsync(ns, "service backend", "{.spec.ports[0].name}"));
        Assert.Equal("80", await JsonPathAsync(ns, "service backend", "{.spec.ports[0].port}"));
        Assert.Equal("8080", await JsonPathAsync(ns, "service backend", "{.spec.ports[0].targetPort}"));
        Assert.Equal("backend", await JsonPathAsync(ns, "service backend", "{.spec.selector.app}"));
        var ip = await JsonPathAsync(ns, "service backend", "{.spec.clusterIP}");
        Assert.True(InDefaultServiceCidr(ip), $"clusterIP {ip} is not in 10.96.0.0/12");
    }

    [Fact]
    public async Task Expose_Deployment_CreatesServiceSelectingItsPods()
    {
        var ns = await NewNamespaceAsync("expose");
        await CreateAsync(DeploymentYaml("web", ns));

        var r = (await Kubectl.RunAsync("expose", "deployment", "web", "--port=80", "--target-port=8080", "-n", ns)).ShouldSucceed();
        AssertStdout(r, "service/web exposed");

        Assert.Equal("web", await JsonPathAsync(ns, "service web", "{.spec.selector.app}"));
        Assert.Equal("80", await JsonPathAsync(ns, "service web", "{.spec.ports[0].port}"));
        Assert.Equal("8080", await JsonPathAsync(ns, "service web", "{.spec.ports[0].targetPort}"));
        Assert.Equal("TCP", await JsonPathAsync(ns, "service web", "{.spec.ports[0].protocol}"));
        var ip = await JsonPathAsync(ns, "service web", "{.spec.clusterIP}");
        Assert.True(InDefaultServiceCidr(ip), $"clusterIP {ip} is not in 10.96.0.0/12");
    }

    [Fact]
    public async Task GetAll_ServiceAndDeployment_BothListed()
    {
        var ns = await NewNamespaceAsync("getall");
        await CreateAsync(ServiceYaml("web", ns));
        await CreateAsync(DeploymentYaml("web", ns));

        var r = (await Kubectl.RunAsync("get", "all", "-n", ns)).ShouldSucceed();
        AssertLineMatches(r, r.Stdout, @"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$");
        AssertLineMatches(r, r.Stdout, @"^service/web\s+ClusterIP\s+10\.\S+\s+<none>\s+80/TCP\s+\S+$");
        AssertLineMatches(r, r.Stdout, @"^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$");
        AssertLineMatches(r, r.Stdout, @"^deployment\.apps/web\s+\d+/1\s+\d+\s+\d+\s+\S+$");

        var names = (await Kubectl.RunAsync("get", "all", "-n", ns, "-o", "name")).ShouldSucceed();
        Assert.Contains("service/web", names.Lines);
        Assert.Contains("deployment.apps/web", names.Lines);
    }
}
