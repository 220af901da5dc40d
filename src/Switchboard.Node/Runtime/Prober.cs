using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using k8s.Models;

namespace Switchboard.Node.Runtime;

/// <summary>
/// Probes as kubelet runs them: httpGet and tcpSocket dial the Pod IP from the node's network namespace; exec runs
/// the command in the Pod's view through the sandbox prefix with the container's environment.
/// </summary>
internal sealed class Prober(string? nodeNetns, TimeProvider time) : IProber
{
    public async Task<ProbeOutcome> ProbeAsync(ProbeTarget target, V1Probe probe, CancellationToken ct)
    {
        try
        {
            if (probe.Exec is { } exec)
            {
                var (code, output) = await ExecAsync(target, exec.Command ?? [], ct).ConfigureAwait(false);
                return code == 0 ? new ProbeOutcome(true) : new ProbeOutcome(false, $"command exited with {code}: {output.Trim()}");
            }
            if (probe.HttpGet is { } http)
            {
                return await HttpGetAsync(target, http, ct).ConfigureAwait(false);
            }
            if (probe.TcpSocket is { } tcp)
            {
                var host = tcp.Host ?? target.PodIp ?? throw new IOException("the Pod has no IP");
                using var socket = await ConnectAsync(host, ResolvePort(target.Container, tcp.Port), ct).ConfigureAwait(false);
                return new ProbeOutcome(true);
            }
            return new ProbeOutcome(false, "probe type not supported (grpc)");
        }
        catch (Exception e) when (e is IOException or SocketException or HttpRequestException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new ProbeOutcome(false, e.Message);
        }
    }

    public async Task<string?> RunHandlerAsync(ProbeTarget target, V1LifecycleHandler handler, CancellationToken ct)
    {
        try
        {
            if (handler.Sleep is { } sleep)
            {
                await Task.Delay(TimeSpan.FromSeconds(sleep.Seconds), time, ct).ConfigureAwait(false);
                return null;
            }
            if (handler.Exec is { } exec)
            {
                var (code, output) = await ExecAsync(target, exec.Command ?? [], ct).ConfigureAwait(false);
                return code == 0 ? null : $"command '{string.Join(' ', exec.Command ?? [])}' exited with {code}: {output.Trim()}";
            }
            if (handler.HttpGet is { } http)
            {
                var outcome = await HttpGetAsync(target, http, ct).ConfigureAwait(false);
                return outcome.Success ? null : outcome.Message;
            }
            return "handler type not supported";
        }
        catch (OperationCanceledException)
        {
            return "handler did not finish within the grace period";
        }
        catch (Exception e) when (e is IOException or SocketException or HttpRequestException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return e.Message;
        }
    }

    private async Task<ProbeOutcome> HttpGetAsync(ProbeTarget target, V1HTTPGetAction http, CancellationToken ct)
    {
        var host = string.IsNullOrEmpty(http.Host) ? target.PodIp ?? throw new IOException("the Pod has no IP") : http.Host;
        var port = ResolvePort(target.Container, http.Port);
        var scheme = string.Equals(http.Scheme, "HTTPS", StringComparison.OrdinalIgnoreCase) ? "https" : "http";
        var hostPart = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        var path = string.IsNullOrEmpty(http.Path) ? "/" : http.Path.StartsWith('/') ? http.Path : "/" + http.Path;
        using var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectCallback = async (ctx, token) => new NetworkStream(await ConnectAsync(ctx.DnsEndPoint.Host, ctx.DnsEndPoint.Port, token).ConfigureAwait(false), ownsSocket: true),
        };
        // As kubelet: probes do not verify the serving certificate.
#pragma warning disable CA5359 // kubelet's HTTPS probes skip verification by design (the Pod's certificate names no IP).
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
#pragma warning restore CA5359
        using var client = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{scheme}://{hostPart}:{port}{path}");
        request.Headers.UserAgent.ParseAdd("kube-probe/1.33");
        foreach (var h in http.HttpHeaders ?? [])
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        }
        using var response = await client.SendAsync(request, ct).ConfigureAwait(false);
        var code = (int)response.StatusCode;
        return code is >= 200 and < 400 ? new ProbeOutcome(true) : new ProbeOutcome(false, $"HTTP probe failed with statuscode: {code}");
    }

    private async Task<Socket> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var address = IPAddress.TryParse(host, out var ip) ? ip : (await Dns.GetHostAddressesAsync(host, ct).ConfigureAwait(false))[0];
        var socket = NetnsSockets.Create(nodeNetns, address.AddressFamily);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port), ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<(int Code, string Output)> ExecAsync(ProbeTarget target, IList<string> command, CancellationToken ct)
    {
        if (command.Count == 0)
        {
            throw new InvalidOperationException("exec probe without a command");
        }
        var argv = target.ExecPrefix.Concat(command).ToList();
        var psi = new ProcessStartInfo(argv[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Clear();
        foreach (var (k, v) in target.Environment)
        {
            psi.Environment[k] = v;
        }
        psi.Environment.TryAdd("PATH", ContainerEnv.DefaultPath);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + argv[0]);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    internal static int ResolvePort(V1Container container, IntOrString port)
    {
        var value = port.Value;
        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }
        return container.Ports?.FirstOrDefault(p => p.Name == value)?.ContainerPort
            ?? throw new InvalidOperationException($"port {value} is not a named port of container {container.Name}");
    }
}
