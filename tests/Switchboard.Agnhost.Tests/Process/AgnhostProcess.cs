using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Agnhost.Tests.Process;

/// <summary>
/// A real switchboard-agnhost process. The binary is the one built next to this test assembly, or the file named
/// by SWITCHBOARD_AGNHOST (e.g. the Native AOT publish output). Optionally runs in its own UTS namespace with a
/// unique hostname so a test can tell which instance answered.
/// </summary>
internal sealed class AgnhostProcess : IAsyncDisposable
{
    private readonly System.Diagnostics.Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();

    private AgnhostProcess(System.Diagnostics.Process process, string? hostname)
    {
        this.process = process;
        Hostname = hostname;
    }

    /// <summary>The hostname this instance runs under when started with a UTS namespace; null otherwise.</summary>
    public string? Hostname { get; }

    public int Pid => process.Id;

    public string Stdout
    {
        get
        {
            lock (stdout)
            {
                return stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }
    }

    public bool HasExited => process.HasExited;

    public static AgnhostProcess Start(IEnumerable<string> args, IDictionary<string, string>? env = null, bool ownHostname = false)
    {
        var (file, prefix) = Binary();
        string? hostname = null;
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (ownHostname)
        {
            hostname = "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
            info.FileName = "unshare";
            foreach (var a in new[] { "--uts", "--", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"", hostname, file })
            {
                info.ArgumentList.Add(a);
            }
        }
        else
        {
            info.FileName = file;
        }

        foreach (var a in prefix)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                info.Environment[k] = v;
            }
        }

        var p = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException("could not start agnhost");
        var result = new AgnhostProcess(p, hostname);
        p.OutputDataReceived += (_, e) => Append(result.stdout, e.Data);
        p.ErrorDataReceived += (_, e) => Append(result.stderr, e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return result;
    }

    /// <summary>Runs to completion (connect, bad flags) and returns the exit code.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        await using var p = Start(args);
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (code, p.Stdout, p.Stderr);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return process.ExitCode;
    }

    public async Task SignalAsync(string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text) && !Stderr.Contains(text))
        {
            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                throw new TimeoutException($"no \"{text}\" in output; stdout: {Stdout} stderr: {Stderr}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Waits until the TCP port accepts connections (or the process dies, e.g. the port was taken).</summary>
    public async Task<bool> WaitForTcpAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                return false;
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(20);
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sb)
        {
            sb.Append(line).Append('\n');
        }
    }

    private static (string File, string[] Prefix) Binary()
    {
        var overridden = Environment.GetEnvironmentVariable("SWITCHBOARD_AGNHOST");
        if (!string.IsNullOrEmpty(overridden))
        {
            return (overridden, []);
        }

        var dir = AppContext.BaseDirectory;
        var apphost = Path.Combine(dir, "switchboard-agnhost");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }

        return ("dotnet", [Path.Combine(dir, "switchboard-agnhost.dll")]);
    }
}

/// <summary>Free loopback ports: bind port 0, note it, release it (callers retry if someone else took it).</summary>
internal static class FreePort
{
    public static int Tcp()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public static int Udp()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
