namespace Switchboard.Agnhost.Tests.Process;

/// <summary>A started server process and the ports it listens on.</summary>
internal sealed record RunningServer(AgnhostProcess Process, int Port, int UdpPort) : IAsyncDisposable
{
    public string Url(string pathAndQuery) => "http://127.0.0.1:" + Port + pathAndQuery;

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}

internal static class Servers
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Starts netexec on free ports, retrying with new ports if a port was taken meanwhile.</summary>
    public static async Task<RunningServer> NetexecAsync(bool ownHostname = false, params string[] extra)
    {
        for (var attempt = 0; ; attempt++)
        {
            var http = FreePort.Tcp();
            var udp = FreePort.Udp();
            var args = new List<string> { "netexec", "--http-port=" + http, "--udp-port=" + udp };
            args.AddRange(extra);
            var p = AgnhostProcess.Start(args, ownHostname: ownHostname);
            if (await p.WaitForTcpAsync(http, StartTimeout))
            {
                return new RunningServer(p, http, udp);
            }

            var err = p.Stderr;
            await p.DisposeAsync();
            if (attempt >= 4)
            {
                throw new InvalidOperationException("netexec did not start: " + err);
            }
        }
    }

    public static async Task<RunningServer> ServeHostnameAsync(bool ownHostname, params string[] extra)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort.Tcp();
            var args = new List<string> { "serve-hostname", "--port=" + port };
            args.AddRange(extra);
            var p = AgnhostProcess.Start(args, ownHostname: ownHostname);
            try
            {
                await p.WaitForOutputAsync("Serving on port", StartTimeout);
                return new RunningServer(p, port, port);
            }
            catch (TimeoutException) when (attempt < 4)
            {
                await p.DisposeAsync();
            }
        }
    }
}
