using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Switchboard.Node.Tests.KubeletApi;

/// <summary>The real kubectl → in-process API server → proxy → in-process kubelet API → host processes and log files.</summary>
public sealed class KubectlTests(KubeletFixture f) : IClassFixture<KubeletFixture>
{
    [Fact]
    public async Task Exec_NonZeroExit_KubectlExitsWithItsCodeAndStreamsStaySeparate()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlAsync(null, "exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal("out\n", r.Stdout);
        Assert.Contains("err\n", r.Stderr);
        Assert.Contains("command terminated with exit code 3", r.Stderr);
        Assert.DoesNotContain("err", r.Stdout);
    }

    [Fact]
    public async Task Exec_Success_ExitZeroWithContainerEnvironmentAndWorkingDirectory()
    {
        var marker = "sbt-marker-" + Guid.NewGuid().ToString("N")[..6];
        var pod = await f.CreatePodAsync(["main"], env: new Dictionary<string, string> { ["SBT_MARKER"] = marker });
        var r = await f.KubectlAsync(null, "exec", pod, "--", "sh", "-c", "echo $SBT_MARKER $HOSTNAME; pwd; env | grep -c ^SBT_ ; echo ${HOME:-nohome}");
        Assert.True(r.ExitCode == 0, r.ToString());
        // Who answered: the container's own environment (not the test process's) and its working directory.
        Assert.Equal($"{marker} {pod}\n{f.Dir}\n1\nnohome\n", r.Stdout);
    }

    [Fact]
    public async Task Exec_StdinPiped_ReachesCommandAndEofEndsIt()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlAsync("hello\nworld\n", "exec", "-i", pod, "--", "sh", "-c", "tr a-z A-Z; echo eof-seen");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("HELLO\nWORLD\neof-seen\n", r.Stdout);
    }

    [Fact]
    public async Task Exec_Tty_CommandGetsControllingTerminalWithClientSize()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlInTerminalAsync($"stty cols 123 rows 45; kubectl exec -it {pod} -- sh -c 'tty; stty size; ps -o tty= -p $$'");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tty = Assert.Single(lines, l => l.StartsWith("/dev/pts/", StringComparison.Ordinal));
        Assert.Contains("45 123", lines);
        // The terminal is the shell's controlling terminal (ps reports it), not just its stdin.
        Assert.Contains(tty["/dev/".Length..], lines);
    }

    [Fact]
    public async Task Exec_TtyResizedWhileRunning_CommandSeesNewSize()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var ready = Path.Combine(f.Dir, pod + ".ready");
        // The command (a host process here) marks when it has printed its first size; only then is the client's
        // terminal resized, and the command's WINCH trap prints what its terminal now says.
        var remote = $"trap 'stty size; exit 0' WINCH; stty size; touch {ready}; while :; do sleep 0.1; done";
        var r = await f.KubectlInTerminalAsync(
            $"stty cols 100 rows 20; (while [ ! -e {ready} ]; do sleep 0.05; done; stty cols 50 rows 10 < /dev/tty) & kubectl exec -it {pod} -- sh -c \"{remote}\"");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["20 100", "10 50"], lines);
    }

    [Fact]
    public async Task Exec_InteractiveShell_TypedLinesRunRemotely()
    {
        var pod = await f.CreatePodAsync(["main"]);
        // Typed into the terminal kubectl reads; only the remote shell turns $((6*7)) into 42.
        var r = await f.KubectlInTerminalAsync($"kubectl exec -it {pod} -- sh", "echo sbt-$((6*7))\nexit 3\n");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains("sbt-42", r.Stdout);
    }

    [Fact]
    public async Task Exec_TtyExitCode_Propagates()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlInTerminalAsync($"kubectl exec -it {pod} -- sh -c 'exit 7'");
        Assert.True(r.ExitCode == 7, r.ToString());
    }

    [Fact]
    public async Task Exec_CSharpClient_V4ChannelProtocol_ExitCodeAndStreams()
    {
        // KubernetesClient speaks v4.channel.k8s.io (no close signal): our other client, and the one tests use.
        var pod = await f.CreatePodAsync(["main"]);
        string stdout = "", stderr = "";
        var code = await f.Api.Client.NamespacedPodExecAsync(pod, "default", "main", ["sh", "-c", "echo out; echo err >&2; exit 4"], false,
            async (stdin, output, error) =>
            {
                var o = new StreamReader(output).ReadToEndAsync();
                var e = new StreamReader(error).ReadToEndAsync();
                stdout = await o;
                stderr = await e;
            }, CancellationToken.None);
        Assert.Equal(4, code);
        Assert.Equal("out\n", stdout);
        Assert.Equal("err\n", stderr);
        var ok = await f.Api.Client.NamespacedPodExecAsync(pod, "default", "main", ["true"], false, (_, _, _) => Task.CompletedTask, CancellationToken.None);
        Assert.Equal(0, ok);
    }

    [Fact]
    public async Task Exec_OverSpdy_ExitCodeStreamsAndStdin()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlSpdyAsync("spdy in\n", "exec", "-i", pod, "--", "sh", "-c", "cat; echo out; echo err >&2; exit 5");
        Assert.True(r.ExitCode == 5, r.ToString());
        Assert.Equal("spdy in\nout\n", r.Stdout);
        Assert.Contains("err\n", r.Stderr);
        Assert.Contains("command terminated with exit code 5", r.Stderr);
        var ok = await f.KubectlSpdyAsync(null, "exec", pod, "--", "true");
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public async Task Exec_TtyOverSpdy_TerminalAndSize()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlInTerminalAsync($"stty cols 77 rows 33; KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl exec -it {pod} -- sh -c 'tty; stty size; exit 6'");
        Assert.True(r.ExitCode == 6, r.ToString());
        var lines = r.Stdout.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("/dev/pts/", StringComparison.Ordinal));
        Assert.Contains("33 77", lines);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exec_MegabytesEachWay_ArriveIntact(bool spdy)
    {
        var pod = await f.CreatePodAsync(["main"]);
        var input = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3_000_000));
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(input)));
        string[] args = ["exec", "-i", pod, "--", "sh", "-c", "sha256sum | cut -d' ' -f1; head -c 4000000 /dev/zero | tr '\\0' x"];
        var r = spdy ? await f.KubectlSpdyAsync(input, args) : await f.KubectlAsync(input, args);
        Assert.True(r.ExitCode == 0, r.ToString()[..Math.Min(2000, r.ToString().Length)]);
        var newline = r.Stdout.IndexOf('\n', StringComparison.Ordinal);
        Assert.Equal(expected, r.Stdout[..newline]);
        var rest = r.Stdout[(newline + 1)..];
        Assert.Equal(4_000_000, rest.Length);
        Assert.True(rest.All(c => c == 'x'));
    }

    [Fact]
    public async Task Exec_WrongContainer_UpstreamMessage()
    {
        var pod = await f.CreatePodAsync(["main", "side"]);
        var r = await f.KubectlAsync(null, "exec", pod, "-c", "nope", "--", "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"container nope is not valid for pod {pod}", r.Stderr);
    }

    [Fact]
    public async Task Exec_SecondContainer_RunsThere()
    {
        var pod = await f.CreatePodAsync(["main", "side"]);
        f.Locator.Set(f.Locator.Find("default", pod, "side")! with { Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["WHO"] = "side" } });
        var r = await f.KubectlAsync(null, "exec", pod, "-c", "side", "--", "sh", "-c", "echo $WHO");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("side\n", r.Stdout);
    }

    [Fact]
    public async Task Exec_UnboundPod_NoHostAssigned()
    {
        var pod = await f.CreatePodAsync(["main"], bound: false);
        var r = await f.KubectlAsync(null, "exec", pod, "--", "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"pod {pod} does not have a host assigned", r.Stderr);
    }

    [Fact]
    public async Task Exec_MissingProgram_ErrorNamesIt()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlAsync(null, "exec", pod, "--", "sbt-no-such-program");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("sbt-no-such-program", r.Stderr);
        Assert.Contains("executable file not found", r.Stderr);
    }

    [Fact]
    public async Task Exec_ThroughInjectedDialer()
    {
        var before = f.Dials;
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlAsync(null, "exec", pod, "--", "true");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(f.Dials > before);
    }

    [Fact]
    public async Task Logs_AllTailLimitTimestamps()
    {
        var pod = await f.CreatePodAsync(["main"]);
        await File.WriteAllTextAsync(f.LogPath(pod, "main"), "one\ntwo\nthree\n");
        var all = await f.KubectlAsync(null, "logs", pod);
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal("one\ntwo\nthree\n", all.Stdout);

        var tail = await f.KubectlAsync(null, "logs", pod, "--tail=2");
        Assert.Equal("two\nthree\n", tail.Stdout);

        var limit = await f.KubectlAsync(null, "logs", pod, "--limit-bytes=5");
        Assert.Equal("one\nt", limit.Stdout);

        var ts = await f.KubectlAsync(null, "logs", pod, "--timestamps", "-c", "main");
        var lines = ts.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l => Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three)$"), l));
    }

    [Fact]
    public async Task Logs_Previous_ServesLastRunOrUpstreamError()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var missing = await f.KubectlAsync(null, "logs", pod, "--previous");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains($"previous terminated container \"main\" in pod \"{pod}\" not found", missing.Stderr);

        var previous = f.LogPath(pod, "main", 0);
        await File.WriteAllTextAsync(previous, "crashed run\n");
        var current = f.LogPath(pod, "main", 1);
        await File.WriteAllTextAsync(current, "current run\n");
        f.Locator.Set(f.Locator.Find("default", pod, "main")! with { PreviousLog = previous, CurrentLog = current });
        Assert.Equal("crashed run\n", (await f.KubectlAsync(null, "logs", pod, "-p")).Stdout);
        Assert.Equal("current run\n", (await f.KubectlAsync(null, "logs", pod)).Stdout);
    }

    [Fact]
    public async Task Logs_Follow_StreamsAppendsUntilContainerStops()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var path = f.LogPath(pod, "main");
        await File.WriteAllTextAsync(path, "before\n");
        var follow = f.KubectlAsync(null, "logs", "-f", pod);
        // kubectl keeps following until the container stops; everything written meanwhile arrives.
        for (var i = 0; i < 5; i++)
        {
            await Task.Delay(100);
            await File.AppendAllTextAsync(path, $"during {i}\n");
        }
        Assert.False(follow.IsCompleted);
        await File.AppendAllTextAsync(path, "last\n");
        f.Locator.Set(f.Locator.Find("default", pod, "main")! with { Running = false });
        var r = await follow.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("before\nduring 0\nduring 1\nduring 2\nduring 3\nduring 4\nlast\n", r.Stdout);
    }

    [Fact]
    public async Task Logs_WrongContainer_UpstreamMessage()
    {
        var pod = await f.CreatePodAsync(["main"]);
        var r = await f.KubectlAsync(null, "logs", pod, "-c", "nope");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"container nope is not valid for pod {pod}", r.Stderr);
    }

    [Fact]
    public async Task Logs_UnboundPod_Empty()
    {
        var pod = await f.CreatePodAsync(["main"], bound: false);
        var r = await f.KubectlAsync(null, "logs", pod);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Attach_StreamsNewOutputUntilContainerStops(bool spdy)
    {
        var pod = await f.CreatePodAsync(["main"]);
        var path = f.LogPath(pod, "main");
        await File.WriteAllTextAsync(path, "old output\n");
        var attach = spdy ? f.KubectlSpdyAsync(null, "attach", pod) : f.KubectlAsync(null, "attach", pod);
        await KubeletFixture.WaitUntilOpenAsync(path, attach);
        await File.AppendAllTextAsync(path, "new output\n");
        f.Locator.Set(f.Locator.Find("default", pod, "main")! with { Running = false });
        var r = await attach.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("new output", r.Stdout);
        Assert.DoesNotContain("old output", r.Stdout);
    }

    [Fact]
    public async Task KubeletApi_OnlyTheApiServersCertificate()
    {
        var url = new Uri($"https://127.0.0.1:{f.Kubelet.Port}/healthz");
        using (var anonymous = Client(null))
        {
            var r = await anonymous.GetAsync(url);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal("Unauthorized", await r.Content.ReadAsStringAsync());
        }
        using var foreignCa = TestCertificates.Ca("sbt-foreign");
        using (var foreign = Client(TestCertificates.Leaf(foreignCa, "O=system:masters, CN=kube-apiserver-kubelet-client")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await foreign.GetAsync(url)).StatusCode);
        }
        using (var admin = Client(f.Api.Host.Pki.KubeletClientCertificate))
        {
            var r = await admin.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("ok", await r.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task KubeletApi_LogsWithoutCertificate_Refused()
    {
        var pod = await f.CreatePodAsync(["main"]);
        await File.WriteAllTextAsync(f.LogPath(pod, "main"), "secret\n");
        using var anonymous = Client(null);
        var r = await anonymous.GetAsync(new Uri($"https://127.0.0.1:{f.Kubelet.Port}/containerLogs/default/{pod}/main"));
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.DoesNotContain("secret", await r.Content.ReadAsStringAsync());
        using var admin = Client(f.Api.Host.Pki.KubeletClientCertificate);
        Assert.Equal("secret\n", await admin.GetStringAsync(new Uri($"https://127.0.0.1:{f.Kubelet.Port}/containerLogs/default/{pod}/main")));
    }

    private static HttpClient Client(X509Certificate2? cert)
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, _, _, _) => true,
            ClientCertificateOptions = ClientCertificateOption.Manual,
        };
        if (cert is not null)
        {
            handler.ClientCertificates.Add(cert);
        }
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }
}

/// <summary>kubectl port-forward: WebSocket "SPDY/3.1+portforward.k8s.io" through the API server to the kubelet.</summary>
public sealed class PortForwardTests(KubeletFixture f) : IClassFixture<KubeletFixture>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PortForward_Kubectl_ReachesThePodsPortAndSeesItsAnswer(bool webSockets)
    {
        var token = "sbt-echo-" + Guid.NewGuid().ToString("N")[..6];
        using var echo = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var targetPort = ((IPEndPoint)echo.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await echo.AcceptTcpClientAsync(stop.Token);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var s = client.GetStream();
                        var reader = new StreamReader(s);
                        var line = await reader.ReadLineAsync(stop.Token);
                        var reply = System.Text.Encoding.ASCII.GetBytes($"{token} {line}\n");
                        await s.WriteAsync(reply, stop.Token);
                    }
                });
            }
        });

        var pod = await f.CreatePodAsync(["main"]);
        await f.SetRunningAsync(pod);
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/kubectl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Off: kubectl's fallback, a plain SPDY/3.1 upgrade through the API server's tunnel.
        psi.Environment["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = webSockets ? "true" : "false";
        foreach (var a in (string[])["--kubeconfig", f.Api.Host.KubeconfigPath, "--cache-dir", Path.Combine(f.Dir, "cache"), "port-forward", "--address", "127.0.0.1", pod, ":" + targetPort])
        {
            psi.ArgumentList.Add(a);
        }
        using var kubectl = System.Diagnostics.Process.Start(psi)!;
        try
        {
            var stderr = kubectl.StandardError.ReadToEndAsync(stop.Token);
            string? first = null;
            try
            {
                first = await kubectl.StandardOutput.ReadLineAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                kubectl.Kill(entireProcessTree: true);
                Assert.Fail($"no Forwarding line; kubectl said: {await kubectl.StandardError.ReadToEndAsync()}\nkubelet said: {f.Logs}");
            }
            if (first is null)
            {
                kubectl.Kill(entireProcessTree: true);
                Assert.Fail($"kubectl port-forward printed nothing (exited {kubectl.HasExited}): {await stderr.WaitAsync(TimeSpan.FromSeconds(5))}\nkubelet said: {f.Logs}");
            }
            var m = Regex.Match(first!, @"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)");
            Assert.True(m.Success, first);
            Assert.Equal(targetPort.ToString(), m.Groups[2].Value);
            var localPort = int.Parse(m.Groups[1].Value);
            for (var i = 0; i < 3; i++)
            {
                using var conn = new System.Net.Sockets.TcpClient();
                try
                {
                    await conn.ConnectAsync(IPAddress.Loopback, localPort, stop.Token);
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    kubectl.Kill(entireProcessTree: true);
                    Assert.Fail($"connection {i}: {e.Message}; kubectl said: {await stderr}\nkubelet said: {f.Logs}");
                }
                var s = conn.GetStream();
                await s.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"hello {i}\n"), stop.Token);
                string? answer;
                try
                {
                    answer = await new StreamReader(s).ReadLineAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    kubectl.Kill(entireProcessTree: true);
                    Assert.Fail($"no answer on connection {i}; kubectl said: {await stderr}\nkubelet said: {f.Logs}");
                    throw;
                }
                Assert.Equal($"{token} hello {i}", answer);
            }
        }
        finally
        {
            kubectl.Kill(entireProcessTree: true);
            await stop.CancelAsync();
            echo.Stop();
        }
    }

    [Fact]
    public async Task PortForward_ClosedPort_KubectlReportsTheKubeletsError()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var pod = await f.CreatePodAsync(["main"]);
        await f.SetRunningAsync(pod);
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--kubeconfig", f.Api.Host.KubeconfigPath, "--cache-dir", Path.Combine(f.Dir, "cache"), "port-forward", "--address", "127.0.0.1", pod, ":" + deadPort])
        {
            psi.ArgumentList.Add(a);
        }
        using var kubectl = System.Diagnostics.Process.Start(psi)!;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var first = await kubectl.StandardOutput.ReadLineAsync(stop.Token);
            var localPort = int.Parse(Regex.Match(first!, @"127\.0\.0\.1:(\d+)").Groups[1].Value);
            using var conn = new System.Net.Sockets.TcpClient();
            await conn.ConnectAsync(IPAddress.Loopback, localPort, stop.Token);
            var s = conn.GetStream();
            await s.WriteAsync("x\n"u8.ToArray(), stop.Token);
            // The forwarded connection is closed without an answer; kubectl prints the kubelet's error.
            var buffer = new byte[16];
            try
            {
                Assert.Equal(0, await s.ReadAsync(buffer, stop.Token));
            }
            catch (IOException)
            {
            }
            kubectl.Kill(entireProcessTree: true);
            var stderr = await kubectl.StandardError.ReadToEndAsync(stop.Token);
            Assert.True(stderr.Contains($"error forwarding port {deadPort} to pod {pod}", StringComparison.Ordinal), stderr);
        }
        finally
        {
            if (!kubectl.HasExited)
            {
                kubectl.Kill(entireProcessTree: true);
            }
        }
    }
}
