using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Switchboard.TestKit;

namespace Switchboard.E2E.Durability;

/// <summary>
/// Every write the SQLite store acknowledged survives kill -9 of the server, with its resourceVersion, and the
/// revision counter continues past it.
/// </summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "sb-durability-" + Guid.NewGuid().ToString("N")[..10]);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        return Task.CompletedTask;
    }

    private static HttpClient Client(string kubeconfig) => ClusterHttp.FromKubeconfig(kubeconfig, maxConnections: 64);

    [Fact]
    public async Task KillDashNine_EveryAcknowledgedWriteSurvives_AndRevisionsContinue()
    {
        var acknowledged = new ConcurrentDictionary<string, long>();
        await using (var server = await ServerProcess.StartAsync(_dataDir))
        {
            using var http = Client(server.Kubeconfig);
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var name = $"cm-{w}-{i}";
                    using var content = new StringContent($$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"{{{name}}}"},"data":{"i":"{{{i}}}"}}""", Encoding.UTF8, "application/json");
                    try
                    {
                        using var resp = await http.PostAsync("/api/v1/namespaces/default/configmaps", content);
                        if ((int)resp.StatusCode == 201)
                        {
                            var body = JsonNode.Parse(await resp.Content.ReadAsStringAsync())!;
                            acknowledged[name] = long.Parse(body["metadata"]!["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture);
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return; // the server is gone: no acknowledgement for this one
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }
                }
            })).ToList();

            // Let writes flow at full speed, then crash the server in the middle of them.
            while (acknowledged.Count < 500)
            {
                await Task.Delay(20);
            }
            await server.KillHardAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.True(acknowledged.Count >= 500);
        await using (var restarted = await ServerProcess.StartAsync(_dataDir))
        {
            using var http = Client(restarted.Kubeconfig);
            var list = JsonNode.Parse(await http.GetStringAsync("/api/v1/namespaces/default/configmaps"))!;
            var stored = list["items"]!.AsArray().ToDictionary(
                i => i!["metadata"]!["name"]!.GetValue<string>(),
                i => long.Parse(i!["metadata"]!["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture));
            var missing = acknowledged.Where(a => !stored.TryGetValue(a.Key, out var rv) || rv != a.Value).Select(a => a.Key).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged writes lost or changed, e.g. {string.Join(", ", missing.Take(5))}");

            using var content = new StringContent("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-restart"}}""", Encoding.UTF8, "application/json");
            using var resp = await http.PostAsync("/api/v1/namespaces/default/configmaps", content);
            Assert.Equal(201, (int)resp.StatusCode);
            var rv = long.Parse(JsonNode.Parse(await resp.Content.ReadAsStringAsync())!["metadata"]!["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            Assert.True(rv > acknowledged.Values.Max(), $"new write got {rv}, not above {acknowledged.Values.Max()}");
        }
    }
}
