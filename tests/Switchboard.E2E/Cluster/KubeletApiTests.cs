using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.E2E.Infrastructure;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// The kubelet API through the API server on a real 3-node `up` cluster, driven by the real kubectl: exec with a
/// terminal (kubectl under `script`, so its stdin is a tty: a /dev/pts that is the command's controlling terminal,
/// the client's size and its resize, the exit code through the tty, typed commands), port-forward to a Pod and to
/// a Service (who answered, two connections at once, a megabyte each way), and logs (-f following new lines,
/// --previous after a restart, -c).
/// </summary>
[Collection(UpClusterCollection.Name)]
public sealed partial class KubeletApiTests(UpClusterFixture cluster)
{
    private Kubectl K => cluster.Kubectl;

    [Fact]
    public async Task ExecTty_UnderATerminal_ControllingPtyWithTheClientsSize_HostnameAndExitCode()
    {
        var ns = await cluster.NamespaceAsync("exec-tty");
        try
        {
            await StartBoxAsync(ns);
            var r = await InTerminalAsync($"stty cols 123 rows 45; kubectl exec -it -n {ns} box -- sh -c 'tty; stty size; ps -o tty= -p $$; hostname; exit 7'");
            Assert.True(r.Code == 7, $"exit {r.Code}\n{r.Stdout}\n{r.Stderr}");
            var lines = TerminalLines(r.Stdout);
            var tty = Assert.Single(lines, l => l.StartsWith("/dev/pts/", StringComparison.Ordinal));
            Assert.Contains("45 123", lines);
            // The terminal is the shell's controlling terminal (ps names it), not only its stdin.
            Assert.Contains(tty["/dev/".Length..], lines);
            Assert.Contains("box", lines);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task ExecTty_ResizedWhileRunning_TheCommandSeesTheNewSize()
    {
        var ns = await cluster.NamespaceAsync("exec-winch");
        using var dir = new HostDir();
        try
        {
            await StartBoxAsync(ns);
            var ready = dir.File("printed");
            // The remote shell marks (in a host file the test's shell also sees) when it printed its first size;
            // only then is kubectl's terminal resized, and the remote WINCH trap prints what its pty now says.
            var remote = $"trap 'stty size; exit 0' WINCH; stty size; touch {ready}; while :; do sleep 0.1; done";
            var r = await InTerminalAsync(
                $"stty cols 100 rows 20; (while [ ! -e {ready} ]; do sleep 0.05; done; stty cols 50 rows 10 < /dev/tty) & kubectl exec -it -n {ns} box -- sh -c \"{remote}\"");
            Assert.True(r.Code == 0, $"exit {r.Code}\n{r.Stdout}\n{r.Stderr}");
            Assert.Equal(["20 100", "10 50"], TerminalLines(r.Stdout));
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task ExecInteractive_CommandsTypedIntoTheTerminal_RunInThePod_AndExitPassesThrough()
    {
        var ns = await cluster.NamespaceAsync("exec-it");
        try
        {
            await StartBoxAsync(ns);
            // Only the remote shell turns $((6*7)) into 42 and prints the Pod's hostname.
            var r = await InTerminalAsync($"kubectl exec -it -n {ns} box -- sh", "hostname\necho sbt-$((6*7))\nexit 3\n");
            Assert.True(r.Code == 3, $"exit {r.Code}\n{r.Stdout}\n{r.Stderr}");
            // The terminal echoes the typed lines (locally, then remotely) before the shell's output, which may
            // follow its "# " prompt on the same line.
            var lines = TerminalLines(r.Stdout).Select(l => l.StartsWith("# ", StringComparison.Ordinal) ? l[2..] : l).ToList();
            Assert.Contains("box", lines);
            Assert.Contains("sbt-42", lines);
            Assert.Contains("command terminated with exit code 3", lines);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task PortForward_PodAndService_AnswerFromThePod_TwoConnectionsAtOnce_AMegabyteEachWayIntact()
    {
        var ns = await cluster.NamespaceAsync("pf");
        try
        {
            await StartBoxAsync(ns, """
                ---
                apiVersion: v1
                kind: Service
                metadata: { name: web }
                spec:
                  selector: { app: box }
                  ports: [{ port: 80, targetPort: 8080 }]
                """);

            await using (var forward = K.Start(["port-forward", "-n", ns, "pod/box", ":8080"]))
            {
                var port = await LocalPortAsync(forward, 8080);
                Assert.Equal("box", await HttpAsync(port, "GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n"));

                // Two connections at once: A's request is half sent while B is served, then A completes.
                using var a = new TcpClient();
                await a.ConnectAsync("127.0.0.1", port);
                var sa = a.GetStream();
                await sa.WriteAsync("GET /echo?msg=from-a HTTP/1.1\r\n"u8.ToArray());
                Assert.Equal("from-b", await HttpAsync(port, "GET /echo?msg=from-b HTTP/1.1\r\nHost: x\r\n\r\n"));
                await sa.WriteAsync("Host: x\r\nConnection: close\r\n\r\n"u8.ToArray());
                Assert.Equal("from-a", Body(await new StreamReader(sa).ReadToEndAsync()));

                // A megabyte up (a form body) and the same megabyte back (netexec echoes msg).
                var msg = RandomText(1 << 20);
                var body = "msg=" + msg;
                var echoed = await HttpAsync(port, $"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
                Assert.True(echoed.Length == msg.Length && echoed == msg, $"echo came back with {echoed.Length} bytes, {msg.Length} sent");
            }

            await using (var forward = K.Start(["port-forward", "-n", ns, "svc/web", ":80"]))
            {
                // kubectl resolves the Service to one of its Pods and the Service port to the targetPort.
                var port = await LocalPortAsync(forward, 8080);
                Assert.Equal("box", await HttpAsync(port, "GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n"));
            }
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task LogsFollow_PrintsLinesWrittenAfterItStarted()
    {
        var ns = await cluster.NamespaceAsync("logs-f");
        try
        {
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: ticker }
                spec:
                  containers:
                  - name: c
                    image: {{ClusterSteps.Agnhost}}
                    command: ["sh", "-c", "i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.3; done"]
                """);
            await K.WaitReadyAsync(ns, "ticker");
            var already = await ClusterSteps.UntilAsync(async () =>
            {
                var r = await K.RunAsync("logs", "-n", ns, "ticker");
                return (r.ExitCode == 0 && r.Lines.Count > 0 ? r.Lines : null, r.ToString());
            }, "the first log lines");
            var last = Tick(already[^1]);

            await using var follow = K.Start(["logs", "-f", "-n", ns, "ticker"]);
            // A line the container wrote after the follow started (five ticks later), in order with the rest.
            await follow.WaitForLineAsync(l => l.StartsWith("tick-", StringComparison.Ordinal) && Tick(l) >= last + 5, $"tick-{last + 5}");
            var seen = follow.StdoutLines.Select(Tick).ToList();
            Assert.Equal(Enumerable.Range(seen[0], seen.Count), seen);
            Assert.Equal(0, seen[0]);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    [Fact]
    public async Task LogsPreviousAndContainer_AfterARestart_ShowTheEarlierRunAndOnlyTheNamedContainer()
    {
        var ns = await cluster.NamespaceAsync("logs-prev");
        using var dir = new HostDir();
        var stop = dir.File("stop");
        try
        {
            await K.ApplyAsync(ns, $$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: two }
                spec:
                  containers:
                  - name: a
                    image: {{ClusterSteps.Agnhost}}
                    command: ["sh", "-c", "echo \"boot-a $$$$\"; while [ ! -e {{stop}} ]; do sleep 0.2; done; rm {{stop}}; echo \"bye-a $$$$\"; exit 3"]
                  - name: b
                    image: {{ClusterSteps.Agnhost}}
                    command: ["sh", "-c", "echo only-b; exec sleep 600"]
                """);
            await K.WaitReadyAsync(ns, "two");
            var b = await UntilLogAsync(ns, "two", ["-c", "b"], l => l.Contains("only-b"));
            Assert.Equal(["only-b"], b);
            var first = await UntilLogAsync(ns, "two", ["-c", "a"], l => l.Any(x => x.StartsWith("boot-a ", StringComparison.Ordinal)));
            Assert.DoesNotContain("only-b", first);
            var firstPid = first.Single()["boot-a ".Length..];
            var none = await K.RunAsync("logs", "-n", ns, "two", "-c", "a", "--previous");
            Assert.NotEqual(0, none.ExitCode);
            Assert.Contains("previous terminated container \"a\" in pod \"two\" not found", none.Stderr);

            await File.WriteAllTextAsync(stop, "");
            var pod = await ClusterSteps.UntilAsync(async () =>
            {
                var p = await K.PodAsync(ns, "two");
                var s = p.ContainerStatus("a");
                return (s.Str("restartCount") == "1" && s.At("state", "running").ValueKind == JsonValueKind.Object ? (object)p : null, s.GetRawText());
            }, "container a restarted and running");
            Assert.Equal("3", ((JsonElement)pod).ContainerStatus("a").Str("lastState", "terminated", "exitCode"));

            var previous = (await K.RunAsync("logs", "-n", ns, "two", "-c", "a", "--previous")).ShouldSucceed().Lines;
            Assert.Equal([$"boot-a {firstPid}", $"bye-a {firstPid}"], previous);
            var current = await UntilLogAsync(ns, "two", ["-c", "a"], l => l.Any(x => x.StartsWith("boot-a ", StringComparison.Ordinal)));
            var secondPid = Assert.Single(current)["boot-a ".Length..];
            Assert.NotEqual(firstPid, secondPid);
            // b never restarted: it has no previous log, and its own log is untouched.
            Assert.Contains("previous terminated container \"b\" in pod \"two\" not found", (await K.RunAsync("logs", "-n", ns, "two", "-c", "b", "--previous")).Stderr);
            Assert.Equal(["only-b"], (await K.RunAsync("logs", "-n", ns, "two", "-c", "b")).ShouldSucceed().Lines);
            // --timestamps: upstream's RFC 3339 time with nine fraction digits before each line.
            var stamped = Assert.Single((await K.RunAsync("logs", "-n", ns, "two", "-c", "b", "--timestamps")).ShouldSucceed().Lines);
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z only-b$", stamped);
        }
        finally
        {
            await K.DeleteNamespaceAsync(ns);
        }
    }

    private async Task StartBoxAsync(string ns, string extra = "")
    {
        await K.ApplyAsync(ns, $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: box, labels: { app: box } }
            spec:
              containers:
              - name: netexec
                image: {{ClusterSteps.Agnhost}}
                args: ["netexec", "--http-port=8080"]
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
            """ + "\n" + extra);
        await K.WaitReadyAsync(ns, "box");
    }

    /// <summary>
    /// Runs a shell command line under `script` (a pty as kubectl's stdin/stdout, sized by `stty` in the line),
    /// with "kubectl " expanded to this cluster's kubectl; <paramref name="typed"/> is typed into the terminal.
    /// </summary>
    private Task<(int Code, string Stdout, string Stderr)> InTerminalAsync(string commandLine, string? typed = null) =>
        ClusterSteps.RunHostAsync("/usr/bin/script",
            ["-qec", commandLine.Replace("kubectl ", $"{K.Executable} --kubeconfig={K.Kubeconfig} --cache-dir={K.CacheDir} ", StringComparison.Ordinal), "/dev/null"],
            typed, keepStdinOpen: true);

    private static List<string> TerminalLines(string output) =>
        [.. output.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    [GeneratedRegex(@"^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$")]
    private static partial Regex ForwardingLine();

    private static async Task<int> LocalPortAsync(KubectlProcess forward, int remote)
    {
        var line = await forward.WaitForLineAsync(l => ForwardingLine().IsMatch(l), "its Forwarding line");
        var m = ForwardingLine().Match(line);
        Assert.Equal(remote.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value);
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>One request on a fresh connection to the forwarded local port; returns the body.</summary>
    private static async Task<string> HttpAsync(int port, string request)
    {
        using var client = new TcpClient();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", port, limit.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), limit.Token);
        var reader = new StreamReader(stream, Encoding.ASCII);
        // Read the head, then exactly Content-Length bytes (keep-alive requests do not close).
        var head = new StringBuilder();
        string? line;
        var length = 0;
        while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync(limit.Token)))
        {
            head.AppendLine(line);
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        Assert.StartsWith("HTTP/1.1 200", head.ToString());
        var body = new char[length];
        var read = 0;
        while (read < length)
        {
            var n = await reader.ReadAsync(body.AsMemory(read), limit.Token);
            Assert.True(n > 0, $"connection closed after {read} of {length} body bytes");
            read += n;
        }
        return new string(body);
    }

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    private static string RandomText(int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
        return string.Create(length, bytes, (span, b) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[b[i] % alphabet.Length];
            }
        });
    }

    private static int Tick(string line) => int.Parse(line["tick-".Length..], System.Globalization.CultureInfo.InvariantCulture);

    private async Task<IReadOnlyList<string>> UntilLogAsync(string ns, string pod, string[] args, Func<IReadOnlyList<string>, bool> done) =>
        await ClusterSteps.UntilAsync(async () =>
        {
            var r = await K.RunAsync(["logs", "-n", ns, pod, .. args], stdin: null);
            return (r.ExitCode == 0 && done(r.Lines) ? r.Lines : null, r.ToString());
        }, $"logs {string.Join(' ', args)} of {pod}", TimeSpan.FromSeconds(30));
}
