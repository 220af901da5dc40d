using System.Diagnostics;
using System.Text.Json;
using Switchboard.E2E.Infrastructure;
using Xunit.Sdk;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// Small steps the Pod-lifecycle E2E classes share (ProbeTests, RolloutTests, KubeletApiTests): kubectl JSON, bounded
/// polling that fails with the last state seen, and a host directory the Pods (host processes without filesystem
/// isolation) and the test both see.
/// </summary>
internal static class ClusterSteps
{
    public const string Agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    public static readonly TimeSpan Converge = TimeSpan.FromSeconds(90);

    public static async Task ApplyAsync(this Kubectl k, string ns, string manifest) =>
        (await k.RunAsync(["apply", "-n", ns, "-f", "-"], stdin: manifest)).ShouldSucceed();

    public static async Task WaitReadyAsync(this Kubectl k, string ns, params string[] pods) =>
        (await k.RunAsync(["wait", "-n", ns, .. pods.Select(p => "pod/" + p), "--for=condition=Ready", "--timeout=90s"], stdin: null, timeout: TimeSpan.FromSeconds(120))).ShouldSucceed();

    /// <summary>`kubectl get … -o json` parsed; the element outlives the document.</summary>
    public static async Task<JsonElement> JsonAsync(this Kubectl k, params string[] args)
    {
        using var doc = JsonDocument.Parse((await k.RunAsync([.. args, "-o", "json"], stdin: null)).ShouldSucceed().Stdout);
        return doc.RootElement.Clone();
    }

    public static Task<JsonElement> PodAsync(this Kubectl k, string ns, string pod) => k.JsonAsync("get", "pod", "-n", ns, pod);

    /// <summary>Deletes the test's namespace without waiting for its Pods to finish (the next test does not need that).</summary>
    public static async Task DeleteNamespaceAsync(this Kubectl k, string ns) =>
        await k.RunAsync("delete", "namespace", ns, "--wait=false", "--ignore-not-found");

    /// <summary>
    /// Polls <paramref name="probe"/> (every 250 ms) until it returns a value; the timeout only keeps a broken
    /// cluster from hanging the run and fails with the last state the probe described.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<(T? Value, string State)>> probe, string what, TimeSpan? timeout = null)
        where T : class
    {
        var limit = timeout ?? Converge;
        var deadline = DateTime.UtcNow + limit;
        var last = "";
        while (true)
        {
            var (value, state) = await probe();
            if (value is not null)
            {
                return value;
            }
            last = state;
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"{what}: not within {limit.TotalSeconds} s; last seen: {last}");
            }
            await Task.Delay(250);
        }
    }

    public static string Str(this JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e))
            {
                return "";
            }
        }
        return e.ValueKind switch
        {
            JsonValueKind.String => e.GetString()!,
            JsonValueKind.Undefined or JsonValueKind.Null => "",
            _ => e.GetRawText(),
        };
    }

    public static JsonElement At(this JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e))
            {
                return default;
            }
        }
        return e;
    }

    public static IEnumerable<JsonElement> Items(this JsonElement e, params string[] path) =>
        e.At(path) is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];

    /// <summary>status of the Pod condition <paramref name="type"/> ("" when absent).</summary>
    public static string Condition(this JsonElement pod, string type) =>
        pod.Items("status", "conditions").FirstOrDefault(c => c.Str("type") == type).Str("status");

    public static JsonElement ContainerStatus(this JsonElement pod, string container) =>
        pod.Items("status", "containerStatuses").FirstOrDefault(c => c.Str("name") == container);

    /// <summary>The endpoints of a Service's EndpointSlices: (Pod name, ready, serving, terminating).</summary>
    public static async Task<List<(string Pod, bool Ready, bool Serving, bool Terminating)>> EndpointsAsync(this Kubectl k, string ns, string service)
    {
        var slices = await k.JsonAsync("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=" + service);
        return [.. slices.Items("items").SelectMany(s => s.Items("endpoints")).Select(e => (
            e.Str("targetRef", "name"),
            e.Str("conditions", "ready") == "true",
            e.Str("conditions", "serving") == "true",
            e.Str("conditions", "terminating") == "true"))];
    }

    /// <summary>Total count of the Pod's Events with this reason whose message starts with <paramref name="prefix"/>.</summary>
    public static async Task<int> EventCountAsync(this Kubectl k, string ns, string pod, string reason, string prefix)
    {
        var events = await k.JsonAsync("get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + pod);
        return events.Items("items")
            .Where(e => e.Str("reason") == reason && e.Str("message").StartsWith(prefix, StringComparison.Ordinal))
            .Sum(e => e.At("count") is { ValueKind: JsonValueKind.Number } c ? c.GetInt32() : 1);
    }

    /// <summary>Runs a host program to completion (60 s bound) and returns its exit code and both streams.</summary>
    /// <remarks>
    /// With <paramref name="keepStdinOpen"/> stdin stays open until the program exits: `script` ends its session
    /// when its input ends, which would cut a remote command short.
    /// </remarks>
    public static async Task<(int Code, string Stdout, string Stderr)> RunHostAsync(string program, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null, bool keepStdinOpen = false)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("KUBECONFIG");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            await p.StandardInput.FlushAsync();
        }
        if (!keepStdinOpen)
        {
            p.StandardInput.Close();
        }
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new XunitException($"{program} {string.Join(' ', psi.ArgumentList)} did not finish; output so far:\n{await stdout}\n{await stderr}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// A host directory `/tmp/sbt&lt;hex&gt;` that Pods can read and write (containers are host processes on the host's
/// filesystem) and the test can inspect; removed on dispose.
/// </summary>
internal sealed class HostDir : IDisposable
{
    public HostDir()
    {
        Path = "/tmp/sbt" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A Pod may still be writing into it while its namespace goes; nothing else lives there.
        }
    }
}
