using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Switchboard.ApiServer.Tests.Functional;
using Switchboard.ApiServer.Tests.Security;

namespace Switchboard.ApiServer.Tests.Protobuf;

/// <summary>
/// The real kubectl's imperative generators, which POST protobuf and never fall back to JSON, against a real server;
/// each object is read back with <c>kubectl get -o json</c>.
/// </summary>
public sealed class KubectlProtobufTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>, IDisposable
{
    private readonly string _cacheDir = Path.Combine(Path.GetTempPath(), "sb-kubectl-cache-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_cacheDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [Fact]
    public async Task CreateNamespace_Protobuf_Stored()
    {
        var ns = ApiServerFixture.UniqueName("pb-ns");

        await KubectlOk("create", "namespace", ns);

        var json = await Get("", "namespace", ns);
        Assert.Equal(ns, (string?)json["metadata"]!["name"]);
        Assert.NotNull(json["metadata"]!["uid"]);
    }

    [Fact]
    public async Task CreateConfigMapAndSecret_Protobuf_DataStored()
    {
        var ns = await NewNamespaceAsync();

        await KubectlOk("create", "configmap", "c", "--from-literal=a=b", "--from-literal=greeting=hello world", "-n", ns);
        await KubectlOk("create", "secret", "generic", "s", "--from-literal=k=v", "-n", ns);

        var cm = await Get(ns, "configmap", "c");
        Assert.Equal("b", (string?)cm["data"]!["a"]);
        Assert.Equal("hello world", (string?)cm["data"]!["greeting"]);
        var secret = await Get(ns, "secret", "s");
        Assert.Equal("dg==", (string?)secret["data"]!["k"]);
    }

    [Fact]
    public async Task CreateServices_ClusterIpNodePortLoadBalancer_PortsAndSelectorStored()
    {
        var ns = await NewNamespaceAsync();

        await KubectlOk("create", "service", "clusterip", "s", "--tcp=80:8080", "-n", ns);
        await KubectlOk("create", "service", "nodeport", "np", "--tcp=81:8081", "-n", ns);
        await KubectlOk("create", "service", "loadbalancer", "lb", "--tcp=443:8443", "-n", ns);

        var svc = await Get(ns, "service", "s");
        var port = svc["spec"]!["ports"]![0]!;
        Assert.Equal(80, (int)port["port"]!);
        Assert.Equal(8080, (int)port["targetPort"]!);
        Assert.Equal("TCP", (string?)port["protocol"]);
        Assert.Equal("80-8080", (string?)port["name"]);
        Assert.Equal("s", (string?)svc["spec"]!["selector"]!["app"]);
        Assert.Equal("s", (string?)svc["metadata"]!["labels"]!["app"]);
        Assert.Equal("ClusterIP", (string?)svc["spec"]!["type"]);
        Assert.False(string.IsNullOrEmpty((string?)svc["spec"]!["clusterIP"]));

        var np = await Get(ns, "service", "np");
        Assert.Equal("NodePort", (string?)np["spec"]!["type"]);
        Assert.Equal(81, (int)np["spec"]!["ports"]![0]!["port"]!);
        Assert.Equal(8081, (int)np["spec"]!["ports"]![0]!["targetPort"]!);

        var lb = await Get(ns, "service", "lb");
        Assert.Equal("LoadBalancer", (string?)lb["spec"]!["type"]);
        Assert.Equal(443, (int)lb["spec"]!["ports"]![0]!["port"]!);
        Assert.Equal(8443, (int)lb["spec"]!["ports"]![0]!["targetPort"]!);
    }

    [Fact]
    public async Task CreateServiceAccount_Protobuf_Stored()
    {
        var ns = await NewNamespaceAsync();

        await KubectlOk("create", "serviceaccount", "sa", "-n", ns);

        Assert.Equal("sa", (string?)(await Get(ns, "serviceaccount", "sa"))["metadata"]!["name"]);
    }

    [Fact]
    public async Task CreateDeploymentThenExpose_Protobuf_TemplateAndServiceStored()
    {
        var ns = await NewNamespaceAsync();

        await KubectlOk("create", "deployment", "d", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--port=8080", "--replicas=2", "-n", ns);
        await KubectlOk("expose", "deployment", "d", "--port=80", "--target-port=8080", "-n", ns);

        var deployment = await Get(ns, "deployment", "d");
        var spec = deployment["spec"]!;
        Assert.Equal(2, (int)spec["replicas"]!);
        Assert.Equal("d", (string?)deployment["metadata"]!["labels"]!["app"]);
        Assert.Equal("d", (string?)spec["selector"]!["matchLabels"]!["app"]);
        Assert.Equal("d", (string?)spec["template"]!["metadata"]!["labels"]!["app"]);
        var container = spec["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("agnhost", (string?)container["name"]);
        Assert.Equal("registry.k8s.io/e2e-test-images/agnhost:2.53", (string?)container["image"]);
        Assert.Equal(8080, (int)container["ports"]![0]!["containerPort"]!);

        var svc = await Get(ns, "service", "d");
        Assert.Equal("d", (string?)svc["spec"]!["selector"]!["app"]);
        Assert.Equal(80, (int)svc["spec"]!["ports"]![0]!["port"]!);
        Assert.Equal(8080, (int)svc["spec"]!["ports"]![0]!["targetPort"]!);
    }

    [Fact]
    public async Task RunPod_Protobuf_Stored()
    {
        var ns = await NewNamespaceAsync();

        await KubectlOk("run", "p", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--port=8080", "--env=MODE=test", "-n", ns, "--", "netexec");

        var pod = await Get(ns, "pod", "p");
        Assert.Equal("p", (string?)pod["metadata"]!["labels"]!["run"]);
        var container = pod["spec"]!["containers"]![0]!;
        Assert.Equal(8080, (int)container["ports"]![0]!["containerPort"]!);
        Assert.Equal("test", (string?)container["env"]![0]!["value"]);
        Assert.Equal("netexec", (string?)container["args"]![0]);
    }

    [Fact]
    public async Task CreateIngress_KindWithoutProtobufSchema_FailsWith415Message()
    {
        var ns = await NewNamespaceAsync();

        var (code, _, stderr) = await Kubectl("create", "ingress", "ing", "--rule=example.com/=svc:80", "-n", ns);

        Assert.NotEqual(0, code);
        Assert.Contains("the body of the request was in an unknown format", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("configmaps", "6b387300ff", 400)]
    [InlineData("configmaps", "6b3873000f", 400)]
    [InlineData("configmaps", "7b7d", 400)]
    [InlineData("endpoints", "6b387300", 415)]
    public async Task Post_GarbageOrUnsupportedKind_StatusCode(string resource, string hex, int expected)
    {
        var ns = await NewNamespaceAsync();
        using var content = new ByteArrayContent(Convert.FromHexString(hex));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/vnd.kubernetes.protobuf");

        using var response = await fixture.Server.Http.PostAsync($"/api/v1/namespaces/{ns}/{resource}", content);

        Assert.Equal(expected, (int)response.StatusCode);
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Status", (string?)status["kind"]);
        Assert.Equal(expected == 400 ? "BadRequest" : "UnsupportedMediaType", (string?)status["reason"]);
    }

    private async Task<string> NewNamespaceAsync()
    {
        var ns = ApiServerFixture.UniqueName("pb");
        await fixture.Server.Http.CreateNamespaceAsync(ns);
        return ns;
    }

    /// <summary>Global flags go first so that they never land after a <c>--</c>.</summary>
    private Task<(int ExitCode, string Stdout, string Stderr)> Kubectl(params string[] args) =>
        Security.Kubectl.RunAsync(["--kubeconfig", fixture.Server.Host.KubeconfigPath, "--cache-dir", _cacheDir, .. args]);

    private async Task<string> KubectlOk(params string[] args)
    {
        var (code, stdout, stderr) = await Kubectl(args);
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)}: exit {code}\n{stdout}\n{stderr}");
        return stdout;
    }

    private async Task<JsonNode> Get(string ns, string resource, string name) =>
        JsonNode.Parse(await KubectlOk(ns.Length == 0 ? ["get", resource, name, "-o", "json"] : ["get", resource, name, "-n", ns, "-o", "json"]))!;
}
