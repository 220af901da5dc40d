using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Switchboard.E2E.Infrastructure;

/// <summary>
/// One real `switchboard server` process (the built switchboard.dll next to the test assembly) with a temp
/// data dir and `--api-port 0`. Ready once its stdout prints the `ready:` line (ARCHITECTURE.md §1), which
/// gives the API URL and the kubeconfig. Disposal kills the process tree and deletes the temp dir, also when
/// start-up failed.
/// </summary>
public sealed partial class SwitchboardServerFixture : IAsyncLifetime
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Match> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;

    public SwitchboardServerFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "switchboard-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        DataDir = Path.Combine(Root, "data");
        Directory.CreateDirectory(Root);
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    /// <summary>The temp dir holding the data dir, kubectl cache dirs and test files; deleted on dispose.</summary>
    public string Root { get; }

    public string DataDir { get; }

    public Uri ApiUrl { get; private set; } = null!;

    public string KubeconfigPath { get; private set; } = null!;

    /// <summary>The server's stdout and stderr so far, for failure messages.</summary>
    public string ServerOutput => string.Join('\n', _output);

    [GeneratedRegex(@"^ready: api (?<url>https://127\.0\.0\.1:(?<port>\d+)), export KUBECONFIG=(?<kubeconfig>/\S+)$")]
    private static partial Regex ReadyLine();

    public async Task InitializeAsync()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "switchboard.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing; the E2E project must reference Switchboard.Cli so the build copies it.");
        }
        var psi = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        foreach (var a in new[] { dll, "server", "--data-dir", DataDir, "--api-port", "0" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("KUBECONFIG");

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            _output.Enqueue("[stdout] " + e.Data);
            var m = ReadyLine().Match(e.Data);
            if (m.Success)
            {
                _ready.TrySetResult(m);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _output.Enqueue("[stderr] " + e.Data);
            }
        };
        process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("switchboard server exited before it was ready."));
        _process = process;
        try
        {
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var match = await _ready.Task.WaitAsync(ReadyTimeout);
            ApiUrl = new Uri(match.Groups["url"].Value);
            KubeconfigPath = match.Groups["kubeconfig"].Value;
            if (!File.Exists(KubeconfigPath))
            {
                throw new InvalidOperationException($"the ready line names {KubeconfigPath}, which does not exist.");
            }
        }
        catch (Exception e)
        {
            var output = ServerOutput;
            await DisposeAsync();
            throw new InvalidOperationException($"switchboard server did not become ready within {ReadyTimeout.TotalSeconds} s: {e.Message}\n{output}", e);
        }
    }

    /// <summary>A kubectl for one test class, with its own (initially cold) discovery cache dir.</summary>
    public Kubectl Kubectl(string cacheName, ITestOutputHelper? log = null) =>
        new(KubeconfigPath, Path.Combine(Root, "cache", cacheName), log);

    /// <summary>A new, empty, unique discovery cache dir.</summary>
    public string NewCacheDir() => Path.Combine(Root, "cache", "fresh-" + Guid.NewGuid().ToString("N"));

    /// <summary>Writes a file under the temp root (manifests, editor scripts) and returns its path.</summary>
    public string WriteFile(string name, string content)
    {
        var dir = Path.Combine(Root, "files", Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public async Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        if (_process is not null)
        {
            Infrastructure.Kubectl.KillTree(_process);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                // Kill was sent; nothing more we can do.
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
            _process.Dispose();
            _process = null;
        }
        DeleteRoot();
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        // The test host is going away without disposing the fixture (crash, Ctrl-C): leave nothing behind.
        if (_process is not null)
        {
            Infrastructure.Kubectl.KillTree(_process);
        }
        DeleteRoot();
    }

    private void DeleteRoot()
    {
        for (var attempt = 0; attempt < 5 && Directory.Exists(Root); attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                Thread.Sleep(200);
            }
            catch (UnauthorizedAccessException)
            {
                Thread.Sleep(200);
            }
        }
    }

    private static string DotnetHost()
    {
        // Set by the dotnet CLI for everything it runs (dotnet test); fall back to the muxer on PATH.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
