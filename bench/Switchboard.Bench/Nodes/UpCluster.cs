using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchboard.Bench.Nodes;

/// <summary>
/// A real `switchboard up` process from a given build directory, on a fresh temp data dir (`sbt-` + hex), with
/// --api-port 0 and its own --lb-host-address. Records when the process was started and when its ready line
/// arrived (the start-up time the issue's target is about). Disposal sends SIGTERM, waits, and then removes and
/// reports whatever the cluster left (namespaces, /etc/netns entries, processes running from the data dir).
/// </summary>
internal sealed partial class UpCluster : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _stderr = [];
    private bool _failed;

    private readonly string _binDir;

    private UpCluster(Process process, string binDir, string dataDir, DateTime startedUtc, long startedTicks)
    {
        _binDir = binDir;
        _process = process;
        DataDir = dataDir;
        StartedUtc = startedUtc;
        StartedTicks = startedTicks;
    }

    public string DataDir { get; }

    /// <summary>Wall-clock time just before the process was started (log timestamps are compared with it).</summary>
    public DateTime StartedUtc { get; }

    public long StartedTicks { get; }

    public TimeSpan ReadyAfter { get; private set; }

    public string Kubeconfig { get; private set; } = "";

    public int Pid => _process.Id;

    public string ClusterId => File.ReadAllText(Path.Combine(DataDir, "cluster-id")).Trim();

    [GeneratedRegex(@"^ready: (?<nodes>\d+) nodes, api (?<url>https://127\.0\.0\.1:\d+), export KUBECONFIG=(?<kubeconfig>/\S+)$")]
    private static partial Regex ReadyLine();

    public static UpCluster Start(string binDir, int nodes, int lbOctet, IReadOnlyList<string>? environment = null, params string[] extra)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3)));
        var psi = new ProcessStartInfo(Path.Combine(binDir, "switchboard"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in (string[])["up", "--data-dir", dataDir, "--api-port", "0", "--nodes", nodes.ToString(CultureInfo.InvariantCulture),
            "--lb-host-address", $"127.{lbOctet}.0.1", .. extra])
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var kv in environment ?? [])
        {
            psi.Environment[kv[..kv.IndexOf('=', StringComparison.Ordinal)]] = kv[(kv.IndexOf('=', StringComparison.Ordinal) + 1)..];
        }
        var startedUtc = DateTime.UtcNow;
        var startedTicks = Stopwatch.GetTimestamp();
        var process = new Process { StartInfo = psi };
        var up = new UpCluster(process, binDir, dataDir, startedUtc, startedTicks);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null && ReadyLine().Match(e.Data) is { Success: true } m && !up._ready.Task.IsCompleted)
            {
                up.ReadyAfter = Stopwatch.GetElapsedTime(startedTicks);
                up.Kubeconfig = m.Groups["kubeconfig"].Value;
                up._ready.TrySetResult(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (up._stderr)
                {
                    up._stderr.Add(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return up;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var done = await Task.WhenAny(_ready.Task, exited, Task.Delay(timeout));
        if (done != _ready.Task)
        {
            string err;
            lock (_stderr)
            {
                err = string.Join('\n', _stderr);
            }
            _failed = true;
            throw new InvalidOperationException($"up (data dir {DataDir}, kept) was not ready ({(done == exited ? "exited" : "timeout")}); stderr:\n{err}");
        }
    }

    /// <summary>VmRSS and VmHWM (KiB) and utime+stime (s) of a process, from /proc.</summary>
    public static (long RssKib, long HwmKib, double CpuSeconds)? ProcStats(int pid) => ProcStatsDetailed(pid) is { } s ? (s.RssKib, s.HwmKib, s.CpuSeconds) : null;

    /// <summary>As <see cref="ProcStats"/>, plus RssAnon (heap, stacks) and RssFile (mapped code and images) in KiB.</summary>
    public static (long RssKib, long HwmKib, double CpuSeconds, long AnonKib, long FileKib)? ProcStatsDetailed(int pid)
    {
        try
        {
            long rss = 0, hwm = 0, anon = 0, fileBacked = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    hwm = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anon = long.Parse(line[8..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                {
                    fileBacked = long.Parse(line[8..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command (which may hold spaces) start after the last ')'; utime and stime are fields 14, 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (rss, hwm, ticks / 100.0, anon, fileBacked);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>CPU seconds (user + system) used so far by `up` and every process started from its data dir (agents, Pods).</summary>
    public (double Total, double Up) ClusterCpuSeconds()
    {
        var up = ProcStats(_process.Id)?.CpuSeconds ?? 0;
        var total = up;
        foreach (var pid in Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)))
        {
            try
            {
                if (File.ReadAllText($"/proc/{pid}/cmdline").Contains(DataDir, StringComparison.Ordinal) && ProcStats(int.Parse(pid!, CultureInfo.InvariantCulture)) is { } s)
                {
                    total += s.CpuSeconds;
                }
            }
            catch (IOException)
            {
            }
        }
        return (total, up);
    }

    /// <summary>The agent processes of this cluster: node name → pid (from run/owned.json's "agent nodeN" entries).</summary>
    public Dictionary<string, int> AgentPids()
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pid in Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)))
        {
            try
            {
                var cmd = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                var i = Array.IndexOf(cmd, "agent");
                var nodeAt = Array.IndexOf(cmd, "--node-name");
                if (i > 0 && nodeAt > 0 && cmd.Any(a => a.StartsWith(DataDir + "/", StringComparison.Ordinal)))
                {
                    result[cmd[nodeAt + 1]] = int.Parse(pid!, CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        string id;
        try
        {
            id = ClusterId;
        }
        catch (IOException)
        {
            id = "";
        }
        if (!_process.HasExited)
        {
            await Run("kill", "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture));
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"bench: up {_process.Id} did not stop within 30 s; killing it");
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        var exitCode = _process.ExitCode;
        _process.Dispose();
        var left = new List<string>();
        if (id.Length > 0)
        {
            var prefix = "sb-" + id + "-";
            foreach (var ns in Directory.Exists("/run/netns") ? Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).Where(n => n!.StartsWith(prefix, StringComparison.Ordinal)) : [])
            {
                left.Add("netns " + ns);
                await Run("ip", "netns", "delete", ns!);
            }
            foreach (var dir in Directory.Exists("/etc/netns") ? Directory.EnumerateDirectories("/etc/netns").Where(d => Path.GetFileName(d).StartsWith(prefix, StringComparison.Ordinal)) : [])
            {
                left.Add("dir " + dir);
                Directory.Delete(dir, recursive: true);
            }
        }
        foreach (var pid in Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)))
        {
            try
            {
                var cmd = File.ReadAllText($"/proc/{pid}/cmdline");
                // Also Pods running this build's binary (cluster DNS) whose namespace is already gone: the bench runs one
                // cluster at a time, so after the stop nothing may run from the build directory under test.
                if ((cmd.Contains(DataDir, StringComparison.Ordinal) || cmd.StartsWith(_binDir + "/", StringComparison.Ordinal)) && int.Parse(pid!, CultureInfo.InvariantCulture) != Environment.ProcessId)
                {
                    left.Add("process " + pid);
                    await RunQuiet("kill", "-KILL", pid!);
                }
            }
            catch (IOException)
            {
            }
        }
        if (left.Count > 0)
        {
            string[] tail;
            lock (_stderr)
            {
                tail = [.. _stderr.TakeLast(20)];
            }
            Console.Error.WriteLine($"bench: LEFTOVERS of {DataDir} (up exited {exitCode}; removed now): {string.Join(", ", left)}\nup stderr tail:\n{string.Join('\n', tail)}");
            // Mounts the runtime made under the data dir go too, so the dir can be removed; the dir itself is kept.
            foreach (var point in File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(DataDir + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList())
            {
                await RunQuiet("umount", "-l", point);
            }
            _failed = true;
        }
        // The data dir holds the logs the results quote: kept when asked, else removed (mounts were undone by up).
        if (!_failed && Environment.GetEnvironmentVariable("SB_BENCH_KEEP") != "1")
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"bench: cannot remove {DataDir}: {e.Message}");
            }
        }
    }

    internal static async Task<string> Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({p.ExitCode}): {await error}");
        }
        return await output;
    }

    private static async Task RunQuiet(string program, params string[] args)
    {
        try
        {
            await Run(program, args);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
