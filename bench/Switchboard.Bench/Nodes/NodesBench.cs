using System.Globalization;

namespace Switchboard.Bench.Nodes;

/// <summary>
/// The nodes and Pods issue's (5) benchmarks against real `switchboard up` clusters (root; see Nodes/README.md):
/// `nodes startup [--runs N] [--nodes 3] [--base DIR]` start-up time to the ready line, per phase, A/B interleaved;
/// `nodes pods [--pods 100] [--nodes 1]` 100 Pods created at once: Ready latency per Pod, CNI ADD time, agnhost CPU
/// time and RSS, the agent's RSS; `nodes iperf [--pairs 7]` Pod-to-Pod TCP throughput across nodes against the same
/// path built by hand and a single veth pair. `--bin DIR` is the build under test
/// (default src/Switchboard.Cli/bin/Release/net10.0); `--out FILE` also writes the report there.
/// </summary>
internal static class NodesBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: nodes startup|pods|iperf [--bin DIR] [--base DIR] [--runs N] [--nodes N] [--pods N] [--pairs N] [--out FILE]");
            return 2;
        }
        var bin = Path.GetFullPath(Option(args, "--bin") ?? "src/Switchboard.Cli/bin/Release/net10.0");
        if (!File.Exists(Path.Combine(bin, "switchboard")))
        {
            Console.Error.WriteLine($"bench: {bin}/switchboard is missing; run `dotnet build src/Switchboard.Cli -c Release` first");
            return 1;
        }
        var outFile = Option(args, "--out");
        using var file = outFile is null ? null : new StreamWriter(outFile, append: true);
        using var report = new TeeWriter(Console.Out, file);
        await report.WriteLineAsync($"# {DateTime.UtcNow:O} nodes {string.Join(' ', args)}; loadavg {File.ReadAllText("/proc/loadavg").Trim()}; {Environment.ProcessorCount} cpus");
        return args[0] switch
        {
            "startup" => await StartupBench.RunAsync(bin, Option(args, "--base") is { } b ? Path.GetFullPath(b) : null, Int(args, "--runs", 5), Int(args, "--nodes", 3), Options(args, "--variant"), report),
            "pods" => await PodsBench.RunAsync(bin, Int(args, "--pods", 100), Int(args, "--nodes", 1), Options(args, "--env"), report),
            "iperf" => await ThroughputBench.RunAsync(bin, Int(args, "--pairs", 7), report),
            _ => 2,
        };
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static List<string> Options(string[] args, string name) => [.. args.Select((a, i) => (a, i)).Where(x => x.a == name && x.i + 1 < args.Length).Select(x => args[x.i + 1])];

    private static int Int(string[] args, string name, int fallback) => Option(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>Writes to the console and, when given, to the results file.</summary>
    private sealed class TeeWriter(TextWriter console, TextWriter? file) : TextWriter
    {
        public override System.Text.Encoding Encoding => console.Encoding;

        public override void Write(char value)
        {
            console.Write(value);
            file?.Write(value);
        }

        public override void Write(string? value)
        {
            console.Write(value);
            file?.Write(value);
        }

        public override void WriteLine(string? value)
        {
            console.WriteLine(value);
            file?.WriteLine(value);
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }

        public override void Flush()
        {
            console.Flush();
            file?.Flush();
        }

        public override Task FlushAsync()
        {
            Flush();
            return Task.CompletedTask;
        }
    }
}
