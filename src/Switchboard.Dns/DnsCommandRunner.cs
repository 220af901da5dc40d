using System.Net.Sockets;
using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;

namespace Switchboard.Dns;

/// <summary>What `switchboard dns` does once its flags are parsed: connect, serve, print the ready line, stop cleanly.</summary>
public static class DnsCommandRunner
{
    /// <summary>How long a SIGTERM-ed server keeps answering (kubeadm's Corefile: health { lameduck 5s }).</summary>
    public static readonly TimeSpan SigtermLameduck = TimeSpan.FromSeconds(5);

    /// <summary>Runs until <paramref name="cancellationToken"/> (Ctrl-C) or SIGTERM. Exit codes: 0 stopped, 1 could not start, 2 bad flag value.</summary>
    /// <param name="options">Parsed flags.</param>
    /// <param name="kubeconfig">--kubeconfig, or null for the in-cluster config.</param>
    /// <param name="loggers">Where logs go.</param>
    /// <param name="stdout">Receives the `ready: dns ...` line.</param>
    /// <param name="stderr">Receives progress and errors.</param>
    /// <param name="cancellationToken">Ctrl-C.</param>
    public static async Task<int> RunAsync(DnsOptions options, string? kubeconfig, ILoggerFactory loggers, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        KubernetesClientConfiguration config;
        try
        {
            if (kubeconfig is not null)
            {
                config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
            }
            else if (KubernetesClientConfiguration.IsInCluster())
            {
                config = KubernetesClientConfiguration.InClusterConfig();
            }
            else
            {
                await stderr.WriteLineAsync("switchboard dns: no --kubeconfig and not running in a Pod (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig <path>.").ConfigureAwait(false);
                return 1;
            }
        }
        catch (Exception ex) when (ex is IOException or k8s.Exceptions.KubeConfigException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"switchboard dns: cannot load the client configuration: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        using var client = new k8s.Kubernetes(config);
        DnsServer server;
        try
        {
            server = DnsServer.Start(options, client, loggers, TimeProvider.System);
        }
        catch (ArgumentException ex)
        {
            await stderr.WriteLineAsync("switchboard dns: " + ex.Message).ConfigureAwait(false);
            return 2;
        }
        catch (SocketException ex)
        {
            var fix = ex.SocketErrorCode == SocketError.AccessDenied
                ? "ports below 1024 need root (or CAP_NET_BIND_SERVICE); run as root or pick another port, e.g. --listen 127.0.0.1:5353"
                : "stop whatever holds the port or pick another one with --listen";
            await stderr.WriteLineAsync($"switchboard dns: cannot listen on {string.Join(", ", options.Listen)}: {ex.Message}; {fix}.").ConfigureAwait(false);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            var lameduck = TimeSpan.Zero;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var cancelled = cancellationToken.Register(() => done.TrySetResult());
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                lameduck = SigtermLameduck; // a Pod being replaced: keep answering while the Service stops sending us queries
                done.TrySetResult();
            });
            var endpoints = string.Join(",", server.EndPoints.Select(e => e.ToString()));
            await stderr.WriteLineAsync($"switchboard dns: serving {options.ClusterDomain} on {endpoints} (UDP and TCP); upstream {(server.Upstreams.Count == 0 ? "none" : string.Join(",", server.Upstreams))}").ConfigureAwait(false);
            var ready = server.WaitReadyAsync(CancellationToken.None);
            if (await Task.WhenAny(ready, done.Task).ConfigureAwait(false) == ready)
            {
                await stdout.WriteLineAsync($"ready: dns {endpoints}").ConfigureAwait(false);
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            await done.Task.ConfigureAwait(false);
            await stderr.WriteLineAsync("switchboard dns: stopping").ConfigureAwait(false);
            await server.StopAsync(lameduck).ConfigureAwait(false);
        }
        return 0;
    }
}
