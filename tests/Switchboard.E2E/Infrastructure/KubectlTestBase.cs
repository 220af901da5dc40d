using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Switchboard.E2E.Infrastructure;

/// <summary>
/// Shared helpers for the kubectl E2E tests: a kubectl with a cache dir private to the test class, a fresh
/// namespace per test, manifests and output checks that print the whole kubectl invocation on failure.
/// </summary>
public abstract class KubectlTestBase
{
    protected KubectlTestBase(SwitchboardServerFixture server, ITestOutputHelper output)
    {
        Server = server;
        Output = output;
        Kubectl = server.Kubectl(GetType().Name, output);
    }

    protected SwitchboardServerFixture Server { get; }

    protected ITestOutputHelper Output { get; }

    protected Kubectl Kubectl { get; }

    protected static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Creates a uniquely named namespace with `kubectl apply -f` of a Namespace manifest.</summary>
    protected async Task<string> NewNamespaceAsync(string purpose)
    {
        var name = Unique("e2e-" + purpose);
        var r = await Kubectl.RunAsync(["apply", "-f", "-"], $"""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: {name}
            """);
        r.ShouldSucceed();
        AssertStdout(r, $"namespace/{name} created");
        return name;
    }

    /// <summary>A ClusterIP Service selecting app=<paramref name="name"/> with one port 80 → <paramref name="targetPort"/>.</summary>
    protected static string ServiceYaml(string name, string ns, int targetPort = 8080, string extraLabels = "", string extraSpec = "") => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: {ns}
          labels:
            app: {name}{extraLabels}
        spec:
          selector:
            app: {name}
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: {targetPort}{extraSpec}
        """;

    protected static string DeploymentYaml(string name, string ns) => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          namespace: {ns}
          labels:
            app: {name}
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: agnhost
                image: registry.k8s.io/e2e-test-images/agnhost:2.53
                args: ["netexec", "--http-port=8080"]
                ports:
                - containerPort: 8080
        """;

    protected async Task<KubectlResult> CreateAsync(string yaml) => (await Kubectl.RunAsync(["create", "-f", "-"], yaml)).ShouldSucceed();

    /// <summary>`kubectl get &lt;what&gt; -n &lt;ns&gt; -o jsonpath=&lt;path&gt;`, which must succeed; returns stdout.</summary>
    protected async Task<string> JsonPathAsync(string ns, string what, string jsonPath)
    {
        var args = new List<string> { "get" };
        args.AddRange(what.Split(' '));
        args.AddRange(["-n", ns, "-o", "jsonpath=" + jsonPath]);
        var r = (await Kubectl.RunAsync([.. args])).ShouldSucceed();
        return r.Out;
    }

    /// <summary>Asserts stdout is exactly <paramref name="expected"/> (one line, as kubectl prints after a verb).</summary>
    protected static void AssertStdout(KubectlResult r, string expected)
    {
        if (r.Out != expected)
        {
            throw new XunitException($"expected stdout \"{expected}\".\n{r}");
        }
    }

    /// <summary>Asserts some line of <paramref name="text"/> matches <paramref name="pattern"/> (a regex, multiline).</summary>
    protected static Match AssertLineMatches(KubectlResult r, string text, string pattern)
    {
        var m = Regex.Match(text, pattern, RegexOptions.Multiline);
        if (!m.Success)
        {
            throw new XunitException($"expected a line matching /{pattern}/.\n{r}");
        }
        return m;
    }

    protected static void AssertContains(KubectlResult r, string text, string expected)
    {
        if (!text.Contains(expected, StringComparison.Ordinal))
        {
            throw new XunitException($"expected the output to contain \"{expected}\".\n{r}");
        }
    }

    protected static void AssertNotFound(KubectlResult r, string resource, string name)
    {
        r.ShouldExit(1);
        AssertContains(r, r.Stderr, $"Error from server (NotFound): {resource} \"{name}\" not found");
    }

    /// <summary>True when <paramref name="ip"/> is an IPv4 address inside 10.96.0.0/12 (the default service CIDR).</summary>
    protected static bool InDefaultServiceCidr(string ip) =>
        IPAddress.TryParse(ip, out var a) && a.AddressFamily == AddressFamily.InterNetwork
        && a.GetAddressBytes() is [10, var b, _, _] && (b & 0xF0) == 96;

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds. The timeout only keeps a broken server from hanging the
    /// run (no timing assertion); on expiry the test fails with <paramref name="what"/> and the last kubectl result.
    /// </summary>
    protected static async Task EventuallyAsync(Func<Task<(bool Done, KubectlResult Last)>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var (done, last) = await condition();
            if (done)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"timed out after {limit.TotalSeconds} s waiting for {what}; last:\n{last}");
            }
            await Task.Delay(250);
        }
    }
}
