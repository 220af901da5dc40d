using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Switchboard.E2E.Infrastructure;

/// <summary>What one kubectl invocation did: the command line, its exit code and both output streams.</summary>
public sealed record KubectlResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Fails the test with the whole invocation unless kubectl exited 0.</summary>
    public KubectlResult ShouldSucceed()
    {
        if (ExitCode != 0)
        {
            throw new XunitException("kubectl failed, expected exit 0.\n" + this);
        }
        return this;
    }

    /// <summary>Fails the test with the whole invocation unless kubectl exited with <paramref name="expected"/>.</summary>
    public KubectlResult ShouldExit(int expected)
    {
        if (ExitCode != expected)
        {
            throw new XunitException($"kubectl exited {ExitCode}, expected {expected}.\n" + this);
        }
        return this;
    }

    /// <summary>Stdout without the trailing newline (the value of `-o jsonpath=...`, `-o name` and friends).</summary>
    public string Out => Stdout.TrimEnd('\n', '\r');

    /// <summary>Stdout split into lines, without empty lines.</summary>
    public IReadOnlyList<string> Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() =>
        $"$ {CommandLine}\nexit: {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the real kubectl against one kubeconfig with a private discovery cache dir. Each call has a timeout
/// (60 s by default) so a hung kubectl fails the test instead of hanging the run; the process tree is killed
/// on timeout.
/// </summary>
public sealed class Kubectl
{
    public const string DefaultExecutable = "/usr/bin/kubectl";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper? _log;

    public Kubectl(string kubeconfig, string cacheDir, ITestOutputHelper? log = null, string executable = DefaultExecutable)
    {
        Kubeconfig = kubeconfig;
        CacheDir = cacheDir;
        Executable = executable;
        _log = log;
    }

    public string Kubeconfig { get; }

    public string CacheDir { get; }

    public string Executable { get; }

    /// <summary>The same kubectl with another discovery cache dir (a cold cache when the dir is new).</summary>
    public Kubectl WithCacheDir(string cacheDir) => new(Kubeconfig, cacheDir, _log, Executable);

    public Task<KubectlResult> RunAsync(params string[] args) => RunAsync(args, stdin: null);

    /// <summary>Runs kubectl to completion with <paramref name="args"/>, optional stdin and extra environment.</summary>
    public async Task<KubectlResult> RunAsync(
        IEnumerable<string> args,
        string? stdin,
        IReadOnlyDictionary<string, string>? env = null,
        TimeSpan? timeout = null)
    {
        using var process = CreateProcess(args, env, out var commandLine);
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
            }
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // kubectl exited before reading its stdin; its exit code and stderr say why.
        }

        var limit = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None);
            var partial = new KubectlResult(commandLine, -1, await stdout, await stderr);
            Log(partial);
            throw new XunitException($"kubectl did not finish within {limit.TotalSeconds} s (killed).\n{partial}");
        }

        var result = new KubectlResult(commandLine, process.ExitCode, await stdout, await stderr);
        Log(result);
        return result;
    }

    /// <summary>Starts kubectl in the background (e.g. `get -w`); stop it with <see cref="KubectlProcess.StopAsync"/>.</summary>
    public KubectlProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var process = CreateProcess(args, env, out var commandLine);
        var background = new KubectlProcess(process, commandLine, Log);
        background.Begin();
        return background;
    }

    private Process CreateProcess(IEnumerable<string> args, IReadOnlyDictionary<string, string>? env, out string commandLine)
    {
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add("--kubeconfig=" + Kubeconfig);
        psi.ArgumentList.Add("--cache-dir=" + CacheDir);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        // Only the explicit --kubeconfig counts; a KUBECONFIG from the developer's shell must not leak in.
        psi.Environment.Remove("KUBECONFIG");
        psi.Environment.Remove("KUBECTL_EXTERNAL_DIFF");
        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                psi.Environment[k] = v;
            }
        }
        commandLine = "kubectl " + string.Join(' ', psi.ArgumentList.Skip(2).Select(Quote));
        return new Process { StartInfo = psi };
    }

    private void Log(KubectlResult result)
    {
        try
        {
            _log?.WriteLine(result.ToString());
        }
        catch (InvalidOperationException)
        {
            // The test has already finished (a background watch stopped late); nothing to log to.
        }
    }

    internal static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_=./:,@%+".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}

/// <summary>A kubectl running in the background whose stdout lines are collected as they arrive.</summary>
public sealed class KubectlProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _commandLine;
    private readonly Action<KubectlResult> _log;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _changed = new(0);
    private KubectlResult? _result;

    internal KubectlProcess(Process process, string commandLine, Action<KubectlResult> log)
    {
        _process = process;
        _commandLine = commandLine;
        _log = log;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The stdout lines seen so far.</summary>
    public IReadOnlyList<string> StdoutLines => [.. _stdout];

    internal void Begin()
    {
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _stdoutClosed.TrySetResult();
            }
            else
            {
                _stdout.Enqueue(e.Data);
            }
            _changed.Release();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _stderrClosed.TrySetResult();
                return;
            }
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// Waits until some stdout line satisfies <paramref name="predicate"/> and returns it. The timeout only
    /// keeps a broken server from hanging the run; it fails the test with everything seen so far.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Kubectl.DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var hit = _stdout.FirstOrDefault(predicate);
            if (hit is not null)
            {
                return hit;
            }
            if (_stdoutClosed.Task.IsCompleted)
            {
                throw new XunitException($"kubectl ended before printing {what}.\n{await StopAsync()}");
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new XunitException($"kubectl did not print {what} within {limit.TotalSeconds} s.\n{await StopAsync()}");
            }
            await _changed.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Waits for kubectl to exit by itself (bounded by a timeout that fails the test).</summary>
    public async Task<KubectlResult> WaitForExitAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? Kubectl.DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new XunitException($"kubectl did not exit within {limit.TotalSeconds} s.\n{await StopAsync()}");
        }
        return await CollectAsync();
    }

    /// <summary>Kills kubectl (if still running) and returns what it printed.</summary>
    public async Task<KubectlResult> StopAsync()
    {
        Kubectl.KillTree(_process);
        await _process.WaitForExitAsync(CancellationToken.None);
        return await CollectAsync();
    }

    private async Task<KubectlResult> CollectAsync()
    {
        if (_result is not null)
        {
            return _result;
        }
        // After exit the pipes drain quickly; bound the wait in case a grandchild kept them open.
        await Task.WhenAny(Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task), Task.Delay(TimeSpan.FromSeconds(10)));
        string stderr;
        lock (_stderr)
        {
            stderr = _stderr.ToString();
        }
        var stdout = string.Join('\n', _stdout) + (_stdout.IsEmpty ? "" : "\n");
        _result = new KubectlResult(_commandLine, _process.ExitCode, stdout, stderr);
        _log(_result);
        return _result;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited || _result is null)
        {
            await StopAsync();
        }
        _process.Dispose();
        _changed.Dispose();
    }
}
