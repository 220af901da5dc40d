using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Switchboard.E2E.Nodes;

/// <summary>
/// A real `switchboard up` process (needs root) on a given data dir. Disposal stops it with SIGTERM and then, as
/// a safety net for failed tests, kills the agents recorded in run/owned.json and deletes every sb-&lt;id&gt;-*
/// namespace, so nothing is left on the machine whatever the test did.
/// </summary>
internal sealed partial class UpProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Match> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private UpProcess(Process process, string dataDir)
    {
        _process = process;
        DataDir = dataDir;
    }

    public string DataDir { get; }

    public int Pid => _process.Id;

    public string Output => string.Join('\n', _output);

    public string ClusterId => File.ReadAllText(Path.Combine(DataDir, "cluster-id")).Trim();

    [GeneratedRegex(@"^ready: (?<nodes>\d+) nodes, api (?<url>https://127\.0\.0\.1:\d+), export KUBECONFIG=(?<kubeconfig>/\S+)$")]
    private static partial Regex ReadyLine();

    public static UpProcess Start(string dataDir, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "switchboard.dll"), "up", "--data-dir", dataDir, "--api-port", "0" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = psi };
        var up = new UpProcess(process, dataDir);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            up._output.Enqueue("out: " + e.Data);
            if (ReadyLine().Match(e.Data) is { Success: true } m)
            {
                up._ready.TrySetResult(m);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                up._output.Enqueue("err: " + e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return up;
    }

    /// <summary>Waits for the ready line (10× the 5 s target, so a hang fails instead of blocking the run).</summary>
    public async Task<(int Nodes, string Kubeconfig)> WaitReadyAsync()
    {
        var exited = _process.WaitForExitAsync();
        var done = await Task.WhenAny(_ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(90)));
        if (done != _ready.Task)
        {
            throw new InvalidOperationException($"up did not print the ready line ({(done == exited ? "exited " + _process.ExitCode : "timeout")}):\n{Output}");
        }
        var m = await _ready.Task;
        return (int.Parse(m.Groups["nodes"].Value), m.Groups["kubeconfig"].Value);
    }

    /// <summary>Waits for the process to end by itself (a refused start).</summary>
    public async Task<int> WaitExitAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(limit.Token);
        // Let the asynchronous readers deliver the last lines.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await kill.WaitForExitAsync();
        }
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(limit.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL of `up` alone: its agents survive, as after a crash.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    /// <summary>Pids of the agents the run recorded.</summary>
    public IReadOnlyList<int> RecordedPids()
    {
        var path = Path.Combine(DataDir, "run", "owned.json");
        if (!File.Exists(path))
        {
            return [];
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return [.. doc.RootElement.GetProperty("processes").EnumerateArray().Select(p => p.GetProperty("pid").GetInt32())];
    }

    public static async Task<string> RunAsync(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(limit.Token);
        return await stdout + await stderr;
    }

    public static async Task<IReadOnlyList<string>> NamespacesAsync(string clusterId) =>
        [.. (await RunAsync("ip", "netns", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith("sb-" + clusterId + "-", StringComparison.Ordinal))];

    public static bool IsAlive(int pid) => Directory.Exists("/proc/" + pid);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await TerminateAsync();
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
        // Only a run that came up owns the data dir's objects: a refused second `up` must not touch the first one's.
        if (!_ready.Task.IsCompleted || !File.Exists(Path.Combine(DataDir, "cluster-id")))
        {
            return;
        }
        foreach (var pid in RecordedPids())
        {
            if (File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("agent", StringComparison.Ordinal))
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
        }
        foreach (var ns in await NamespacesAsync(ClusterId))
        {
            foreach (var pid in (await RunAsync("ip", "netns", "pids", ns)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await RunAsync("kill", "-KILL", pid.Trim());
            }
            await RunAsync("ip", "netns", "delete", ns);
        }
        // /etc/netns directories of this cluster (after a clean stop `up` removed them itself).
        if (Directory.Exists("/etc/netns"))
        {
            foreach (var dir in Directory.EnumerateDirectories("/etc/netns", $"sb-{ClusterId}-*"))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        // Pod namespace files the runtime bind-mounted under the data dir.
        var root = Path.GetFullPath(DataDir).TrimEnd('/') + "/";
        foreach (var point in File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(p => p.StartsWith(root, StringComparison.Ordinal)).OrderByDescending(p => p.Length))
        {
            await RunAsync("umount", "-l", point);
        }
    }
}
