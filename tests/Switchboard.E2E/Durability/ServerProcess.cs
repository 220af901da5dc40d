using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Switchboard.E2E.Durability;

/// <summary>A `switchboard server` process on a given data dir that a test may kill -9 and start again.</summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri url, string kubeconfig)
    {
        _process = process;
        Url = url;
        Kubeconfig = kubeconfig;
    }

    public Uri Url { get; }

    public string Kubeconfig { get; }

    [GeneratedRegex(@"^ready: api (?<url>https://127\.0\.0\.1:\d+), export KUBECONFIG=(?<kubeconfig>/\S+)$")]
    private static partial Regex ReadyLine();

    public static async Task<ServerProcess> StartAsync(string dataDir)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "switchboard.dll"), "server", "--data-dir", dataDir, "--api-port", "0" })
        {
            psi.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = psi };
        var ready = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null && ReadyLine().Match(e.Data) is { Success: true } m)
            {
                ready.TrySetResult(m);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                stderr.Enqueue(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var match = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new ServerProcess(process, new Uri(match.Groups["url"].Value), match.Groups["kubeconfig"].Value);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw new InvalidOperationException("server did not become ready: " + string.Join('\n', stderr));
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or power loss of the process.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillHardAsync();
        }
        _process.Dispose();
    }
}
