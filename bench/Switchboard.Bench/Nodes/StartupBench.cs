using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchboard.Bench.Nodes;

/// <summary>
/// `up --nodes N` from process start to the ready line, with the time each phase was reached (from the log
/// lines of up.log and each node's agent.log, relative to the process start). With --base, runs of the baseline
/// build and of the build under test alternate (A B B A …) so both see the same machine load.
/// </summary>
internal static partial class StartupBench
{
    // Phase markers: (name, file: "up" or "agent", pattern). For agents the latest node counts (the cluster waits for all).
    private static readonly (string Name, string File, Regex Pattern)[] Markers =
    [
        ("store-opened", "up", StoreOpened()),
        ("api-listening", "up", ApiListening()),
        ("agents-spawned", "up", AgentSpawned()),
        ("agent-kubelet-api", "agent", KubeletListening()),
        ("node-registered", "agent", NodeRegistered()),
        ("pod-cidrs-assigned", "up", PodCidrs()),
        ("agent-runtime", "agent", RuntimeStarted()),
        ("proxy-first-sync", "agent", FirstSync()),
    ];

    /// <param name="variantSpecs">Optional "name=dir[@VAR=value+VAR=value]" entries (environment for `up` and its agents), run in rotation.</param>
    public static async Task<int> RunAsync(string binDir, string? baseDir, int runs, int nodes, IReadOnlyList<string> variantSpecs, TextWriter report)
    {
        var variants = variantSpecs.Count > 0
            ? [.. variantSpecs.Select(v => (v[..v.IndexOf('=', StringComparison.Ordinal)], v[(v.IndexOf('=', StringComparison.Ordinal) + 1)..]))]
            : baseDir is null ? new[] { ("new", binDir) } : [("base", baseDir), ("new", binDir)];
        var results = variants.ToDictionary(v => v.Item1, _ => new List<(double Ready, Dictionary<string, double> Phases)>());
        await report.WriteLineAsync($"# startup: up --nodes {nodes}, {runs} runs per variant, {string.Join(", ", variants.Select(v => v.Item1 + "=" + v.Item2))}");
        for (var i = 0; i < runs; i++)
        {
            // A B, then B A: neither variant always goes first into a warm page cache.
            var order = i % 2 == 0 ? variants : [.. variants.Reverse()];
            if (variants.Length > 2)
            {
                // Rotate instead: each variant takes each slot in turn.
                order = [.. variants.Skip(i % variants.Length), .. variants.Take(i % variants.Length)];
            }
            foreach (var (name, dir) in order)
            {
                var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                var (path, env) = dir.Contains('@', StringComparison.Ordinal) ? (dir[..dir.IndexOf('@', StringComparison.Ordinal)], dir[(dir.IndexOf('@', StringComparison.Ordinal) + 1)..]) : (dir, "");
                var up = UpCluster.Start(path, nodes, 90 + i % 100, env.Split('+', StringSplitOptions.RemoveEmptyEntries));
                await using (up)
                {
                    try
                    {
                        await up.WaitReadyAsync(TimeSpan.FromSeconds(90));
                    }
                    catch (InvalidOperationException e)
                    {
                        await report.WriteLineAsync($"run {i} {name}: FAILED (load {load}): {e.Message.Split('\n')[0]}");
                        continue;
                    }
                    var (cpu, cpuUp) = up.ClusterCpuSeconds();
                    var phases = Phases(up);
                    phases["cpu-seconds"] = cpu;
                    phases["cpu-seconds-up"] = cpuUp;
                    var ready = up.ReadyAfter.TotalSeconds;
                    results[name].Add((ready, phases));
                    await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"run {i} {name}: ready {ready:F2} s (load {load}); {string.Join(", ", phases.OrderBy(p => p.Value).Select(p => $"{p.Key} {p.Value:F2}"))}"));
                    await report.FlushAsync();
                }
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
        foreach (var (name, list) in results)
        {
            var readies = list.Select(r => r.Ready).ToList();
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{name}: median ready {Median(readies):F2} s, min {readies.Min():F2}, max {readies.Max():F2}, all [{string.Join(" ", readies.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}]"));
            var phaseNames = list.SelectMany(r => r.Phases.Keys).Distinct(StringComparer.Ordinal);
            var medians = phaseNames.Select(p => (p, Median([.. list.Where(r => r.Phases.ContainsKey(p)).Select(r => r.Phases[p])]))).OrderBy(x => x.Item2);
            await report.WriteLineAsync("  phase medians (s from process start): " + string.Join(", ", medians.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.p} {m.Item2:F2}"))));
        }
        if (results.TryGetValue("base", out var baseRuns) && results.TryGetValue("new", out var newRuns))
        {
            var pairs = baseRuns.Zip(newRuns, (b, n) => n.Ready / b.Ready).ToList();
            await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"new/base ready-time ratio: median {Median(pairs):F2}, pairs [{string.Join(" ", pairs.Select(p => p.ToString("F2", CultureInfo.InvariantCulture)))}]"));
        }
        return 0;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static Dictionary<string, double> Phases(UpCluster up)
    {
        var phases = new Dictionary<string, double>(StringComparer.Ordinal);
        var upLog = Path.Combine(up.DataDir, "logs", "up.log");
        var agentLogs = Directory.Exists(Path.Combine(up.DataDir, "nodes"))
            ? Directory.EnumerateDirectories(Path.Combine(up.DataDir, "nodes")).Select(d => Path.Combine(d, "agent.log")).Where(File.Exists).ToList()
            : [];
        foreach (var (name, file, pattern) in Markers)
        {
            var paths = file == "up" ? [upLog] : agentLogs;
            double? latest = null;
            foreach (var path in paths)
            {
                // Per file the first match; across agents the last one (the cluster waits for every node).
                var t = Lines(path).Where(l => pattern.IsMatch(l.Text)).Select(l => (double?)l.At).FirstOrDefault();
                if (file == "up" && name == "agents-spawned")
                {
                    t = Lines(path).Where(l => pattern.IsMatch(l.Text)).Select(l => (double?)l.At).LastOrDefault();
                }
                if (name == "pod-cidrs-assigned")
                {
                    t = Lines(path).Where(l => pattern.IsMatch(l.Text)).Select(l => (double?)l.At).LastOrDefault();
                }
                if (t is { } v && (latest is null || v > latest))
                {
                    latest = v;
                }
            }
            if (latest is { } found)
            {
                phases[name] = found;
            }
        }
        // The start-up timeline `up` itself logs ("startup phase <name>"), where the build has it.
        foreach (var (at, text) in Lines(upLog))
        {
            if (PhaseLine().Match(text) is { Success: true } m)
            {
                phases[m.Groups["p"].Value] = at;
            }
        }
        return phases;

        IEnumerable<(double At, string Text)> Lines(string path)
        {
            if (!File.Exists(path))
            {
                yield break;
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && DateTime.TryParse(line[..space], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var when))
                {
                    yield return ((when - up.StartedUtc).TotalSeconds, line[(space + 1)..]);
                }
            }
        }
    }

    [GeneratedRegex("Opened store")]
    private static partial Regex StoreOpened();

    [GeneratedRegex("API server listening")]
    private static partial Regex ApiListening();

    [GeneratedRegex("started the agent of")]
    private static partial Regex AgentSpawned();

    [GeneratedRegex("kubelet API listening")]
    private static partial Regex KubeletListening();

    [GeneratedRegex("registered node")]
    private static partial Regex NodeRegistered();

    [GeneratedRegex("assigned pod CIDRs")]
    private static partial Regex PodCidrs();

    [GeneratedRegex("pod runtime of node")]
    private static partial Regex RuntimeStarted();

    [GeneratedRegex("first sync completed")]
    private static partial Regex FirstSync();

    [GeneratedRegex(@"startup phase (?<p>\S+)")]
    private static partial Regex PhaseLine();
}
