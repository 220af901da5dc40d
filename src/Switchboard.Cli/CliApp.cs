using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Logging;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;
using Switchboard.Cli.Logging;
using Switchboard.Controllers.Hosting;

namespace Switchboard.Cli;

/// <summary>The `switchboard` command line: a thin composition of the components (ARCHITECTURE.md §1).</summary>
internal static class CliApp
{
    /// <summary>Usage errors exit with 2, as ARCHITECTURE.md §1 requires.</summary>
    public const int UsageError = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var server = ServerCommand();
        var up = UpCommand();
        var dns = DnsCommand();
        var root = new RootCommand("Switchboard: Kubernetes service networking on real Linux networking.") { server, up, dns, AgentCommand.Create() };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync("switchboard: " + error.Message).ConfigureAwait(false);
            }
            var name = parsed.CommandResult.Command == root ? "" : " " + parsed.CommandResult.Command.Name;
            await Console.Error.WriteLineAsync($"Run 'switchboard{name} --help' for usage.").ConfigureAwait(false);
            return UsageError;
        }
        // System.CommandLine ends the process 2 s after Ctrl-C/SIGTERM by default (exit 130/143) even while the
        // action is still cleaning up: `up` was cut off mid-removal with many Pods and left namespaces, /etc/netns
        // directories and containers behind. Every command here stops on its own once the token is cancelled.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = Timeout.InfiniteTimeSpan }).ConfigureAwait(false);
    }

    private sealed class ServerFlags
    {
        public Option<string> DataDir { get; } = new("--data-dir") { Description = "State directory (store, pki, kubeconfig, logs)", DefaultValueFactory = _ => DefaultDataDir() };
        public Option<string> Bind { get; } = new("--bind") { Description = "Listen address (loopback only)", DefaultValueFactory = _ => "127.0.0.1" };
        public Option<int> ApiPort { get; } = new("--api-port") { Description = "API server port; 0 = any free port", DefaultValueFactory = _ => 6443 };
        public Option<string[]> AdvertiseAddress { get; } = new("--advertise-address") { Description = "Address(es) the kubernetes EndpointSlice lists", AllowMultipleArgumentsPerToken = true };
        public Option<string> ServiceRange { get; } = new("--service-cluster-ip-range") { Description = "Service CIDRs, comma-separated", DefaultValueFactory = _ => "10.96.0.0/12,fd00:10:96::/112" };
        public Option<string> NodePortRange { get; } = new("--service-node-port-range") { Description = "NodePort range", DefaultValueFactory = _ => "30000-32767" };
        public Option<string> ClusterCidr { get; } = new("--cluster-cidr") { Description = "Pod CIDRs, comma-separated", DefaultValueFactory = _ => "10.244.0.0/16,fd00:10:244::/56" };
        public Option<string?> LbPool { get; } = new("--lb-pool") { Description = "LoadBalancer IP pool (CIDRs, comma-separated)" };

        public void AddTo(Command c)
        {
            c.Options.Add(DataDir);
            c.Options.Add(Bind);
            c.Options.Add(ApiPort);
            c.Options.Add(AdvertiseAddress);
            c.Options.Add(ServiceRange);
            c.Options.Add(NodePortRange);
            c.Options.Add(ClusterCidr);
            c.Options.Add(LbPool);
        }

        public ApiServerOptions Read(ParseResult r) => new()
        {
            DataDir = Path.GetFullPath(r.GetValue(DataDir)!),
            Bind = r.GetValue(Bind)!,
            Port = r.GetValue(ApiPort),
            AdvertiseAddresses = r.GetValue(AdvertiseAddress) ?? [],
            ServiceClusterIpRange = r.GetValue(ServiceRange)!,
            ServiceNodePortRange = r.GetValue(NodePortRange)!,
            ClusterCidr = r.GetValue(ClusterCidr)!,
            LbPool = r.GetValue(LbPool),
        };
    }

    private static Command ServerCommand()
    {
        var flags = new ServerFlags();
        var cmd = new Command("server", "Run the control plane alone: the Kubernetes-compatible API server, its store and the controllers.");
        flags.AddTo(cmd);
        cmd.SetAction((r, ct) => RunServerAsync(flags.Read(r), readyPrefix: "ready: ", ct));
        return cmd;
    }

    private static Command DnsCommand()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Kubeconfig to reach the API server; without it, the in-cluster config" };
        var listen = new Option<string[]>("--listen") { Description = "Address to serve DNS on, UDP and TCP (repeatable): :PORT, ADDR, ADDR:PORT", DefaultValueFactory = _ => [":53"] };
        var domain = new Option<string>("--cluster-domain") { Description = "Cluster DNS domain", DefaultValueFactory = _ => "cluster.local" };
        var ttl = new Option<int>("--ttl") { Description = "TTL of cluster records, seconds (0-3600)", DefaultValueFactory = _ => 5 };
        var pods = new Option<string>("--pods") { Description = "Pod A records: disabled, insecure or verified", DefaultValueFactory = _ => "disabled" };
        var upstream = new Option<string[]>("--upstream") { Description = "Resolver for other names (repeatable): ADDR[:PORT], a resolv.conf path, or none (default /etc/resolv.conf)" };
        var autopath = new Option<bool>("--autopath") { Description = "Walk a Pod's search path on the server (one query instead of five)" };
        var metrics = new Option<string>("--metrics-bind-address") { Description = "Prometheus /metrics address; empty turns it off", DefaultValueFactory = _ => ":9153" };
        var health = new Option<string>("--health-bind-address") { Description = "/health address; empty turns it off", DefaultValueFactory = _ => ":8080" };
        var ready = new Option<string>("--ready-bind-address") { Description = "/ready address; empty turns it off", DefaultValueFactory = _ => ":8181" };
        pods.AcceptOnlyFromAmong("disabled", "insecure", "verified");
        ttl.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 3600)
            {
                r.AddError("--ttl must be between 0 and 3600");
            }
        });
        foreach (var address in (Option<string>[])[metrics, health, ready])
        {
            address.Validators.Add(r => CheckAddress(r, r.GetValueOrDefault<string>() is { Length: > 0 } v ? [v] : []));
        }
        listen.Validators.Add(r => CheckAddress(r, r.GetValueOrDefault<string[]>() ?? []));
        upstream.Validators.Add(r =>
        {
            foreach (var value in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!Switchboard.Dns.DnsOptions.IsValidUpstream(value))
                {
                    r.AddError($"--upstream {value}: expected ADDR[:PORT], a resolv.conf path or none");
                }
            }
        });
        var cmd = new Command("dns", "Cluster DNS: the Kubernetes DNS specification for the cluster domain, other names forwarded upstream.") { kubeconfig, listen, domain, ttl, pods, upstream, autopath, metrics, health, ready };
        cmd.SetAction(async (r, ct) =>
        {
            var options = new Switchboard.Dns.DnsOptions
            {
                Listen = r.GetValue(listen)!,
                ClusterDomain = r.GetValue(domain)!,
                Ttl = r.GetValue(ttl),
                Pods = Enum.Parse<Switchboard.Dns.Kubernetes.PodsMode>(r.GetValue(pods)!, ignoreCase: true),
                Upstream = r.GetValue(upstream) ?? [],
                AutoPath = r.GetValue(autopath),
                MetricsAddress = r.GetValue(metrics),
                HealthAddress = r.GetValue(health),
                ReadyAddress = r.GetValue(ready),
            };
            using var loggers = LoggerFactory.Create(b =>
            {
                b.SetMinimumLevel(LogLevel.Information);
                b.AddProvider(new StderrLoggerProvider(LogLevel.Warning));
            });
            return await Switchboard.Dns.DnsCommandRunner.RunAsync(options, r.GetValue(kubeconfig), loggers, Console.Out, Console.Error, ct).ConfigureAwait(false);
        });
        return cmd;

        static void CheckAddress(OptionResult r, string[] values)
        {
            foreach (var value in values)
            {
                if (!Switchboard.Dns.DnsOptions.IsValidAddress(value, out var error))
                {
                    r.AddError(error.Replace("--listen", r.Option.Name, StringComparison.Ordinal));
                }
            }
        }
    }

    private static Command UpCommand()
    {
        var flags = new ServerFlags();
        var nodes = new Option<int>("--nodes") { Description = "Number of nodes", DefaultValueFactory = _ => 1 };
        var zones = new Option<string?>("--zones") { Description = "Zones, comma-separated, assigned round robin" };
        var domain = new Option<string>("--cluster-domain") { Description = "Cluster DNS domain", DefaultValueFactory = _ => "cluster.local" };
        var dns = new Option<string>("--cluster-dns") { Description = "Cluster DNS Service IP", DefaultValueFactory = _ => "10.96.0.10" };
        var lbHost = new Option<string>("--lb-host-address") { Description = "Host loopback address LoadBalancer Services are published on", DefaultValueFactory = _ => "127.0.0.1" };
        var upstream = new Option<string?>("--dns-upstream") { Description = "Upstream DNS for names outside the cluster (none by default)" };
        var cmd = new Command("up", "Run a whole cluster on this machine: control plane and nodes (Pods, the service proxy and DNS are not implemented yet).") { nodes, zones, domain, dns, lbHost, upstream };
        flags.AddTo(cmd);
        cmd.SetAction(async (r, ct) =>
        {
            var options = flags.Read(r);
            options.ClusterDomain = r.GetValue(domain)!;
            if (r.GetValue(nodes) < 0)
            {
                await Console.Error.WriteLineAsync("switchboard: --nodes must be 0 or more").ConfigureAwait(false);
                return UsageError;
            }
            var zoneList = (r.GetValue(zones) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // Safety rule: LoadBalancer Services are published on host loopback only.
            if (!System.Net.IPAddress.TryParse(r.GetValue(lbHost), out var lbHostAddress) || lbHostAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !System.Net.IPAddress.IsLoopback(lbHostAddress))
            {
                await Console.Error.WriteLineAsync($"switchboard: --lb-host-address {r.GetValue(lbHost)} must be an IPv4 loopback address (127.0.0.0/8), e.g. 127.0.0.1").ConfigureAwait(false);
                return UsageError;
            }
            if (!System.Net.IPAddress.TryParse(r.GetValue(dns), out var clusterDns))
            {
                await Console.Error.WriteLineAsync($"switchboard: --cluster-dns {r.GetValue(dns)} is not an IP address").ConfigureAwait(false);
                return UsageError;
            }
            var up = new UpOptions
            {
                Nodes = r.GetValue(nodes),
                Zones = zoneList,
                LbHostAddress = lbHostAddress,
                ClusterDns = clusterDns,
                ClusterDomain = r.GetValue(domain)!,
                DnsUpstream = r.GetValue(upstream),
            };
            return await UpRunner.RunAsync(options, up, ct).ConfigureAwait(false);
        });
        return cmd;
    }

    private static async Task<int> RunServerAsync(ApiServerOptions options, string readyPrefix, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.Combine(options.DataDir, "logs"));
        using var loggerFactory = LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Information);
            b.AddFilter("Microsoft", LogLevel.Warning);
            b.AddProvider(new FileLoggerProvider(Path.Combine(options.DataDir, "logs", "server.log")));
            b.AddProvider(new StderrLoggerProvider(LogLevel.Warning));
        });
        await Console.Error.WriteLineAsync($"switchboard: starting the API server (data dir {options.DataDir})").ConfigureAwait(false);
        ApiServerHost host;
        try
        {
            host = await ApiServerHost.StartAsync(options, loggerFactory, TimeProvider.System, ct).ConfigureAwait(false);
        }
        catch (IOException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase) || e.InnerException is System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"switchboard: cannot listen on {options.Bind}:{options.Port}: {e.Message}. Stop whatever uses the port or pass --api-port 0.").ConfigureAwait(false);
            return 1;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync("switchboard: " + e.Message).ConfigureAwait(false);
            return UsageError;
        }
        await using (host.ConfigureAwait(false))
        {
            var controllers = ControllerManager.Start(host.KubeconfigPath, loggerFactory, TimeProvider.System, options.ClusterCidr);
            await using var controllersScope = controllers.ConfigureAwait(false);
            Console.Out.WriteLine($"{readyPrefix}api {host.Url.GetLeftPart(UriPartial.Authority)}, export KUBECONFIG={host.KubeconfigPath}");
            Console.Out.Flush();
            var done = new TaskCompletionSource();
            using var reg = ct.Register(() => done.TrySetResult());
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                done.TrySetResult();
            });
            await done.Task.ConfigureAwait(false);
            await Console.Error.WriteLineAsync("switchboard: stopping").ConfigureAwait(false);
        }
        return 0;
    }

    private static string DefaultDataDir()
    {
        // Under sudo, keep using the invoking user's ~/.switchboard.
        var sudoUser = Environment.GetEnvironmentVariable("SUDO_USER");
        var home = !string.IsNullOrEmpty(sudoUser) && Directory.Exists("/home/" + sudoUser) ? "/home/" + sudoUser : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".switchboard");
    }
}
