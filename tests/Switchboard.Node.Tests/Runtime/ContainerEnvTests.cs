using System.Text;
using k8s.Models;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.Tests.Runtime;

public sealed class ContainerEnvTests
{
    private static readonly NodeResources Node = new(4, 8L * 1024 * 1024 * 1024, 0);

    private static V1Service Service(string ns, string name, string ip, params V1ServicePort[] ports) =>
        new() { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns }, Spec = new V1ServiceSpec { ClusterIP = ip, Ports = ports } };

    private static V1Pod Pod(bool? serviceLinks = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web-0", NamespaceProperty = "shop", Uid = "u-1", Labels = new Dictionary<string, string> { ["app"] = "web" } },
        Spec = new V1PodSpec { NodeName = "n1", ServiceAccountName = "default", EnableServiceLinks = serviceLinks, Containers = [] },
    };

    private static FakeDependencies Deps()
    {
        var deps = new FakeDependencies();
        deps.Services.Add(Service("default", "kubernetes", "10.96.0.1", new V1ServicePort { Name = "https", Port = 443, Protocol = "TCP" }));
        deps.Services.Add(Service("shop", "redis-primary", "10.96.0.20", new V1ServicePort { Port = 6379, Protocol = "TCP" }));
        deps.Services.Add(Service("shop", "v6", "fd00:10:96::5", new V1ServicePort { Name = "http", Port = 80 }));
        deps.Services.Add(Service("shop", "headless", "None", new V1ServicePort { Port = 80 }));
        deps.ConfigMaps["shop/cfg"] = new V1ConfigMap { Data = new Dictionary<string, string> { ["mode"] = "fast", ["1bad"] = "x" } };
        deps.Secrets["shop/s"] = new V1Secret { Data = new Dictionary<string, byte[]> { ["password"] = Encoding.UTF8.GetBytes("hunter2") } };
        return deps;
    }

    [Fact]
    public async Task Build_ServiceLinks_DockerLinkVariablesAndKubernetesService()
    {
        var env = await ContainerEnv.BuildAsync(Pod(), new V1Container { Name = "c" }, ["10.244.1.5"], ["172.18.0.11"], Deps(), Node, CancellationToken.None);
        Assert.Equal("10.96.0.1", env["KUBERNETES_SERVICE_HOST"]);
        Assert.Equal("443", env["KUBERNETES_SERVICE_PORT"]);
        Assert.Equal("443", env["KUBERNETES_SERVICE_PORT_HTTPS"]);
        Assert.Equal("tcp://10.96.0.1:443", env["KUBERNETES_PORT"]);
        Assert.Equal("tcp://10.96.0.1:443", env["KUBERNETES_PORT_443_TCP"]);
        Assert.Equal("tcp", env["KUBERNETES_PORT_443_TCP_PROTO"]);
        Assert.Equal("443", env["KUBERNETES_PORT_443_TCP_PORT"]);
        Assert.Equal("10.96.0.1", env["KUBERNETES_PORT_443_TCP_ADDR"]);
        Assert.Equal("10.96.0.20", env["REDIS_PRIMARY_SERVICE_HOST"]);
        Assert.Equal("tcp://10.96.0.20:6379", env["REDIS_PRIMARY_PORT"]);
        Assert.Equal("tcp://[fd00:10:96::5]:80", env["V6_PORT"]);
        Assert.Equal("80", env["V6_SERVICE_PORT_HTTP"]);
        Assert.DoesNotContain("HEADLESS_SERVICE_HOST", env.Keys);
        Assert.Equal("web-0", env["HOSTNAME"]);
        Assert.Equal(ContainerEnv.DefaultPath, env["PATH"]);
    }

    [Fact]
    public async Task Build_ServiceLinksDisabled_OnlyKubernetesService()
    {
        var env = await ContainerEnv.BuildAsync(Pod(serviceLinks: false), new V1Container { Name = "c" }, [], [], Deps(), Node, CancellationToken.None);
        Assert.Equal("10.96.0.1", env["KUBERNETES_SERVICE_HOST"]);
        Assert.DoesNotContain("REDIS_PRIMARY_SERVICE_HOST", env.Keys);
    }

    [Fact]
    public async Task Build_DownwardApiRefsEnvFromAndExpansion()
    {
        var c = new V1Container
        {
            Name = "c",
            EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "cfg" }, Prefix = "CFG_" }],
            Env =
            [
                new V1EnvVar { Name = "POD", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                new V1EnvVar { Name = "APP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels['app']" } } },
                new V1EnvVar { Name = "IPS", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIPs" } } },
                new V1EnvVar { Name = "HOST_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.hostIP" } } },
                new V1EnvVar { Name = "NODE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "spec.nodeName" } } },
                new V1EnvVar { Name = "PW", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "s", Key = "password" } } },
                new V1EnvVar { Name = "CPU", ValueFrom = new V1EnvVarSource { ResourceFieldRef = new V1ResourceFieldSelector { Resource = "limits.cpu", Divisor = new ResourceQuantity("1m") } } },
                new V1EnvVar { Name = "GREETING", Value = "$(POD) in $(CFG_mode) $(UNKNOWN) $$(POD)" },
            ],
        };
        var env = await ContainerEnv.BuildAsync(Pod(), c, ["10.244.1.5", "fd00::5"], ["172.18.0.11"], Deps(), Node, CancellationToken.None);
        Assert.Equal("web-0", env["POD"]);
        Assert.Equal("web", env["APP"]);
        Assert.Equal("10.244.1.5,fd00::5", env["IPS"]);
        Assert.Equal("172.18.0.11", env["HOST_IP"]);
        Assert.Equal("n1", env["NODE"]);
        Assert.Equal("hunter2", env["PW"]);
        Assert.Equal("4000", env["CPU"]);
        Assert.Equal("fast", env["CFG_mode"]);
        Assert.Equal("x", env["CFG_1bad"]);
        Assert.Equal("web-0 in fast $(UNKNOWN) $(POD)", env["GREETING"]);
    }

    [Fact]
    public async Task Build_MissingConfigMapKey_ContainerConfigError()
    {
        var c = new V1Container { Name = "c", Env = [new V1EnvVar { Name = "X", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "cfg", Key = "nope" } } }] };
        var e = await Assert.ThrowsAsync<ContainerConfigException>(() => ContainerEnv.BuildAsync(Pod(), c, [], [], Deps(), Node, CancellationToken.None));
        Assert.Equal("couldn't find key nope in ConfigMap shop/cfg", e.Message);
    }

    [Fact]
    public async Task Build_OptionalMissingSecret_Skipped()
    {
        var c = new V1Container { Name = "c", Env = [new V1EnvVar { Name = "X", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "gone", Key = "k", Optional = true } } }] };
        var env = await ContainerEnv.BuildAsync(Pod(), c, [], [], Deps(), Node, CancellationToken.None);
        Assert.DoesNotContain("X", env.Keys);
    }

    [Fact]
    public async Task Build_MissingEnvFromConfigMap_ContainerConfigError()
    {
        var c = new V1Container { Name = "c", EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "gone" } }] };
        var e = await Assert.ThrowsAsync<ContainerConfigException>(() => ContainerEnv.BuildAsync(Pod(), c, [], [], Deps(), Node, CancellationToken.None));
        Assert.Equal("configmap \"gone\" not found", e.Message);
    }
}
