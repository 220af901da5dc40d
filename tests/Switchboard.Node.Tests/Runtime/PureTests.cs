using System.Text.Json.Nodes;
using k8s.Models;
using Switchboard.Node.Runtime;
using Switchboard.Node.Runtime.Cni;

namespace Switchboard.Node.Tests.Runtime;

public sealed class PodNamesTests
{
    [Fact]
    public void Netns_AnyUid_StableAtMost15CharsWithPrefix()
    {
        var a = PodNames.Netns("sb-abc123", "7f1c2d4e-0000-4000-8000-000000000001");
        Assert.Equal(a, PodNames.Netns("sb-abc123", "7f1c2d4e-0000-4000-8000-000000000001"));
        Assert.NotEqual(a, PodNames.Netns("sb-abc123", "7f1c2d4e-0000-4000-8000-000000000002"));
        Assert.StartsWith("sb-abc123-p", a, StringComparison.Ordinal);
        Assert.Equal(15, a.Length);
    }

    [Fact]
    public void ParsePodDir_RoundTripsAndRejectsOthers()
    {
        var dir = Path.GetFileName(PodNames.PodDir("/x/pods", "kube-system", "coredns-1", "u-1"));
        Assert.Equal(("kube-system", "coredns-1", "u-1"), PodNames.ParsePodDir(dir));
        Assert.Null(PodNames.ParsePodDir("state.json"));
    }

    [Theory]
    [InlineData("sb-abc123", true)]
    [InlineData("sb-abc1234", false)]
    [InlineData("SB-x", false)]
    [InlineData("", false)]
    public void ValidatePrefix_ChecksLengthAndCharacters(string prefix, bool ok) => Assert.Equal(ok, RuntimeOptions.ValidatePrefix(prefix) is null);

    [Fact]
    public void DefaultNetnsPrefix_IsSbPlusSixHex() => Assert.Matches("^sb-[0-9a-f]{6}$", RuntimeOptions.DefaultNetnsPrefix("node-1"));
}

public sealed class SandboxFilesTests
{
    private const string Host = "nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n";

    private static V1Pod Pod(Action<V1PodSpec>? edit = null)
    {
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "web-0", NamespaceProperty = "shop" }, Spec = new V1PodSpec { Containers = [] } };
        edit?.Invoke(pod.Spec);
        return pod;
    }

    [Fact]
    public void ResolvConf_ClusterFirst_ClusterDnsSearchesAndNdots()
    {
        var text = SandboxFiles.ResolvConf(Pod(), ["10.96.0.10"], "cluster.local", Host);
        Assert.Equal("search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n", text);
    }

    [Fact]
    public void ResolvConf_ClusterFirstOnHostNetwork_IsTheNodes()
    {
        var text = SandboxFiles.ResolvConf(Pod(s => s.HostNetwork = true), ["10.96.0.10"], "cluster.local", Host);
        Assert.Equal("search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n", text);
    }

    [Fact]
    public void ResolvConf_ClusterFirstWithHostNet_UsesClusterDns()
    {
        var text = SandboxFiles.ResolvConf(Pod(s => { s.HostNetwork = true; s.DnsPolicy = "ClusterFirstWithHostNet"; }), ["10.96.0.10"], "cluster.local", Host);
        Assert.Contains("nameserver 10.96.0.10\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolvConf_ClusterFirstWithoutClusterDns_FallsBackToDefault() =>
        Assert.Contains("nameserver 192.0.2.53", SandboxFiles.ResolvConf(Pod(), [], "cluster.local", Host), StringComparison.Ordinal);

    [Fact]
    public void ResolvConf_NoneWithDnsConfig_OnlyThePodsSettings()
    {
        var pod = Pod(s =>
        {
            s.DnsPolicy = "None";
            s.DnsConfig = new V1PodDNSConfig { Nameservers = ["1.2.3.4"], Searches = ["ns1.svc.cluster-domain.example"], Options = [new V1PodDNSConfigOption { Name = "ndots", Value = "2" }, new V1PodDNSConfigOption { Name = "edns0" }] };
        });
        Assert.Equal("search ns1.svc.cluster-domain.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n", SandboxFiles.ResolvConf(pod, ["10.96.0.10"], "cluster.local", Host));
    }

    [Fact]
    public void ResolvConf_DnsConfigOption_ReplacesInheritedOne()
    {
        var pod = Pod(s => s.DnsConfig = new V1PodDNSConfig { Options = [new V1PodDNSConfigOption { Name = "ndots", Value = "1" }] });
        Assert.EndsWith("options ndots:1\n", SandboxFiles.ResolvConf(pod, ["10.96.0.10"], "cluster.local", Host), StringComparison.Ordinal);
    }

    [Fact]
    public void Hosts_WithSubdomainAndAliases_AsKubelet()
    {
        var pod = Pod(s =>
        {
            s.Hostname = "db";
            s.Subdomain = "backend";
            s.HostAliases = [new V1HostAlias { Ip = "10.1.2.3", Hostnames = ["foo.local", "bar.local"] }];
        });
        var hosts = SandboxFiles.Hosts(pod, ["10.244.1.5", "fd00::5"], "cluster.local");
        Assert.StartsWith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", hosts, StringComparison.Ordinal);
        Assert.Contains("10.244.1.5\tdb.backend.shop.svc.cluster.local\tdb\nfd00::5\tdb.backend.shop.svc.cluster.local\tdb\n", hosts, StringComparison.Ordinal);
        Assert.EndsWith("\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n", hosts, StringComparison.Ordinal);
    }

    [Fact]
    public void Hosts_WithoutSubdomain_PodNameOnly() =>
        Assert.Contains("10.244.1.5\tweb-0\n", SandboxFiles.Hosts(Pod(), ["10.244.1.5"], "cluster.local"), StringComparison.Ordinal);
}

public sealed class CniTests
{
    [Fact]
    public void Build_DualStack_LoopbackPtpHostLocalPortmap()
    {
        var conf = CniConfig.Build(["fd00:10:244:1::/64", "10.244.1.0/24"], "/d/cni");
        Assert.Equal("1.0.0", conf["cniVersion"]!.GetValue<string>());
        var plugins = conf["plugins"]!.AsArray();
        Assert.Equal(["loopback", "ptp", "portmap"], plugins.Select(p => p!["type"]!.GetValue<string>()));
        var ipam = plugins[1]!["ipam"]!;
        Assert.False(plugins[1]!["ipMasq"]!.GetValue<bool>());
        Assert.Equal("/d/cni", ipam["dataDir"]!.GetValue<string>());
        Assert.Equal("10.244.1.0/24", ipam["ranges"]![0]![0]!["subnet"]!.GetValue<string>());
        Assert.Equal("fd00:10:244:1::/64", ipam["ranges"]![1]![0]!["subnet"]!.GetValue<string>());
        Assert.Equal(["0.0.0.0/0", "::/0"], ipam["routes"]!.AsArray().Select(r => r!["dst"]!.GetValue<string>()));
        Assert.True(plugins[2]!["capabilities"]!["portMappings"]!.GetValue<bool>());
    }

    [Fact]
    public void Build_BadCidr_Throws() => Assert.Throws<ArgumentException>(() => CniConfig.Build(["nope/24"], "/d"));

    private sealed class ScriptedExec : ICniExec
    {
        public List<(string Plugin, Dictionary<string, string> Env, JsonObject Config)> Calls { get; } = [];

        public Func<string, string, (int, string)> Reply { get; set; } = (plugin, _) => (0, plugin.EndsWith("ptp", StringComparison.Ordinal)
            ? "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"fd00::7/64\"},{\"address\":\"10.244.1.7/24\"}]}"
            : "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"127.0.0.1/8\"}]}");

        public Task<(int ExitCode, string Stdout, string Stderr)> ExecAsync(string plugin, IReadOnlyDictionary<string, string> env, string stdin, CancellationToken ct)
        {
            var config = JsonNode.Parse(stdin)!.AsObject();
            Calls.Add((plugin, new Dictionary<string, string>(env), config));
            var (code, stdout) = Reply(plugin, env["CNI_COMMAND"]);
            if (code == 0 && env["CNI_COMMAND"] == "ADD" && plugin.EndsWith("portmap", StringComparison.Ordinal))
            {
                // portmap passes its prevResult through.
                stdout = config["prevResult"]!.ToJsonString();
            }
            return Task.FromResult((code, stdout, ""));
        }
    }

    private static readonly CniPod Pod = new("uid-1", "/run/netns/sb-x-p1", "default", "web", "uid-1") { PortMappings = [new PortMapping(8080, 80, "TCP", "")] };

    [Fact]
    public async Task Add_ChainsPrevResultAndEnvAndRuntimeConfig_ReturnsIpv4First()
    {
        var exec = new ScriptedExec();
        var cni = new CniInvoker(CniConfig.Build(["10.244.1.0/24"], "/d"), "/usr/lib/cni", exec);
        var result = await cni.AddAsync(Pod, CancellationToken.None);
        Assert.Equal(["10.244.1.7", "fd00::7"], result.PodIps);
        Assert.Equal(["/usr/lib/cni/loopback", "/usr/lib/cni/ptp", "/usr/lib/cni/portmap"], exec.Calls.Select(c => c.Plugin));
        var (_, env, config) = exec.Calls[1];
        Assert.Equal("ADD", env["CNI_COMMAND"]);
        Assert.Equal("uid-1", env["CNI_CONTAINERID"]);
        Assert.Equal("/run/netns/sb-x-p1", env["CNI_NETNS"]);
        Assert.Equal("eth0", env["CNI_IFNAME"]);
        Assert.Equal("/usr/lib/cni", env["CNI_PATH"]);
        Assert.Contains("K8S_POD_NAME=web", env["CNI_ARGS"], StringComparison.Ordinal);
        Assert.Equal("switchboard", config["name"]!.GetValue<string>());
        Assert.Equal("1.0.0", config["cniVersion"]!.GetValue<string>());
        Assert.Equal("127.0.0.1/8", config["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Null(config["runtimeConfig"]);
        Assert.Null(exec.Calls[0].Config["prevResult"]);
        var portmap = exec.Calls[2].Config;
        Assert.Equal(8080, portmap["runtimeConfig"]!["portMappings"]![0]!["hostPort"]!.GetValue<int>());
        Assert.Equal("tcp", portmap["runtimeConfig"]!["portMappings"]![0]!["protocol"]!.GetValue<string>());
    }

    [Fact]
    public async Task Add_PluginError_ThrowsWithItsMessage()
    {
        var exec = new ScriptedExec { Reply = (p, _) => p.EndsWith("ptp", StringComparison.Ordinal) ? (1, "{\"code\":11,\"msg\":\"failed to allocate\",\"details\":\"range full\"}") : (0, "{\"ips\":[]}") };
        var cni = new CniInvoker(CniConfig.Build(["10.244.1.0/24"], "/d"), "/b", exec);
        var e = await Assert.ThrowsAsync<CniException>(() => cni.AddAsync(Pod, CancellationToken.None));
        Assert.Contains("failed to allocate (range full) [code 11]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Del_ReverseOrderWithCachedResult_ContinuesAfterFailure()
    {
        var exec = new ScriptedExec { Reply = (p, _) => p.EndsWith("portmap", StringComparison.Ordinal) ? (1, "not json") : (0, "") };
        var cni = new CniInvoker(CniConfig.Build(["10.244.1.0/24"], "/d"), "/b", exec);
        await Assert.ThrowsAsync<CniException>(() => cni.DelAsync(Pod, "{\"ips\":[{\"address\":\"10.244.1.7/24\"}]}", CancellationToken.None));
        Assert.Equal(["/b/portmap", "/b/ptp", "/b/loopback"], exec.Calls.Select(c => c.Plugin));
        Assert.All(exec.Calls, c => Assert.Equal("DEL", c.Env["CNI_COMMAND"]));
        Assert.Equal("10.244.1.7/24", exec.Calls[1].Config["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
    }

    [Fact]
    public async Task Check_InOrderWithCachedResult()
    {
        var exec = new ScriptedExec();
        var cni = new CniInvoker(CniConfig.Build(["10.244.1.0/24"], "/d"), "/b", exec);
        await cni.CheckAsync(Pod, "{\"ips\":[]}", CancellationToken.None);
        Assert.Equal(["/b/loopback", "/b/ptp", "/b/portmap"], exec.Calls.Select(c => c.Plugin));
        Assert.All(exec.Calls, c => Assert.NotNull(c.Config["prevResult"]));
    }

    [Fact]
    public void ParseIps_SkipsLoopbackAndOrdersFamilies() =>
        Assert.Equal(["10.0.0.2", "fd00::2"], CniInvoker.ParseIps("{\"ips\":[{\"address\":\"::1/128\"},{\"address\":\"fd00::2/64\"},{\"address\":\"10.0.0.2/24\"}]}"));
}

public sealed class ContainerCommandTests
{
    private const string Agnhost = "/opt/sb/switchboard-agnhost";
    private const string AgnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    [Theory]
    [InlineData(AgnhostImage, null, null, "/opt/sb/switchboard-agnhost pause")]
    [InlineData(AgnhostImage, null, "netexec --http-port=8080", "/opt/sb/switchboard-agnhost netexec --http-port=8080")]
    [InlineData(AgnhostImage, "/agnhost serve-hostname", "--port 9376", "/opt/sb/switchboard-agnhost serve-hostname --port 9376")]
    [InlineData(AgnhostImage, "agnhost", "porter", "/opt/sb/switchboard-agnhost porter")]
    [InlineData(AgnhostImage, "sh -c", "echo", "sh -c echo")]
    [InlineData("registry.k8s.io/pause:3.10", null, null, "/opt/sb/switchboard-agnhost pause")]
    [InlineData("busybox", "sleep", "100", "sleep 100")]
    [InlineData("busybox:1.36", "/agnhost connect", null, "/opt/sb/switchboard-agnhost connect")]
    public void Resolve_KubernetesCommandRules(string image, string? command, string? args, string expected)
    {
        var c = new V1Container { Name = "c", Image = image, Command = command?.Split(' '), Args = args?.Split(' ') };
        var r = ContainerCommand.Resolve(c, Agnhost);
        Assert.True(r.CanRun);
        Assert.Equal(expected, string.Join(' ', r.Argv));
    }

    [Fact]
    public void Resolve_WithEnv_ExpandsVariableReferencesInCommandAndArgs_AndDollarDollarEscapes()
    {
        var c = new V1Container
        {
            Name = "c",
            Image = "busybox",
            Command = ["sh", "-c", "echo $(GREETING) $$$$ $$(GREETING) $(MISSING)"],
            Args = ["$(POD_NAME)"],
        };
        var r = ContainerCommand.Resolve(c, Agnhost, new Dictionary<string, string> { ["GREETING"] = "hi", ["POD_NAME"] = "web-0" });
        Assert.Equal(["sh", "-c", "echo hi $$ $(GREETING) $(MISSING)", "web-0"], r.Argv);
        // Without the environment (only deciding whether the container can run) nothing is expanded.
        Assert.Equal("echo $(GREETING) $$$$ $$(GREETING) $(MISSING)", ContainerCommand.Resolve(c, Agnhost).Argv[2]);
    }

    [Fact]
    public void Resolve_ImageWithoutCommand_WaitsWithReasonAndWhatCanRun()
    {
        var r = ContainerCommand.Resolve(new V1Container { Name = "c", Image = "nginx:1.27", Args = ["-g"] }, Agnhost);
        Assert.False(r.CanRun);
        Assert.Equal("ImageNotSupported", r.WaitingReason);
        Assert.Contains("nginx:1.27", r.WaitingMessage, StringComparison.Ordinal);
        Assert.Contains("registry.k8s.io/pause", r.WaitingMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("registry.k8s.io/e2e-test-images/agnhost", true)]
    [InlineData("registry.k8s.io/e2e-test-images/agnhost@sha256:abc", true)]
    [InlineData("registry.k8s.io/e2e-test-images/agnhostx:1", false)]
    [InlineData("docker.io/agnhost:1", false)]
    public void IsAgnhost_MatchesTheRepositoryOnly(string image, bool expected) => Assert.Equal(expected, ContainerCommand.IsAgnhost(image));
}
