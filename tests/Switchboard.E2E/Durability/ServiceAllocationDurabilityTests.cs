using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Switchboard.TestKit;

namespace Switchboard.E2E.Durability;

/// <summary>
/// kill -9 of the server in the middle of concurrent Service creates: after the restart every acknowledged Service is
/// there, no two Services share an address or node port, and no IPAddress object is left without its Service (the
/// start-up repair deletes the ones whose Service never got stored).
/// </summary>
public sealed class ServiceAllocationDurabilityTests : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "sb-svc-durability-" + Guid.NewGuid().ToString("N")[..10]);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        return Task.CompletedTask;
    }

    private static string Body(string name, int i) => (i % 3) switch
    {
        0 => $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"name":"a","port":53,"protocol":"UDP"},{"name":"b","port":53,"protocol":"TCP"}]}}""",
        1 => $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"ipFamilyPolicy":"RequireDualStack","selector":{"app":"x"},"ports":[{"port":80}]}}""",
        _ => $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}"},"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","selector":{"app":"x"},"ports":[{"port":80}]}}""",
    };

    [Fact]
    public async Task KillDashNine_DuringServiceCreates_AllocationsStayUniqueAndNothingLeaks()
    {
        var acknowledged = new ConcurrentDictionary<string, bool>();
        await using (var server = await ServerProcess.StartAsync(_dataDir))
        {
            using var http = ClusterHttp.FromKubeconfig(server.Kubeconfig, maxConnections: 64);
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var name = $"s-{w}-{i}";
                    using var content = new StringContent(Body(name, i), Encoding.UTF8, "application/json");
                    try
                    {
                        using var resp = await http.PostAsync("/api/v1/namespaces/default/services", content);
                        if ((int)resp.StatusCode == 201)
                        {
                            acknowledged[name] = true;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }
                }
            })).ToList();
            while (acknowledged.Count < 300)
            {
                await Task.Delay(20);
            }
            await server.KillHardAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        await using var restarted = await ServerProcess.StartAsync(_dataDir);
        using var client = ClusterHttp.FromKubeconfig(restarted.Kubeconfig);
        var services = JsonNode.Parse(await client.GetStringAsync("/api/v1/services"))!["items"]!.AsArray();
        var names = services.Select(s => s!["metadata"]!["name"]!.GetValue<string>()).ToHashSet();
        Assert.All(acknowledged.Keys, n => Assert.Contains(n, names));

        var held = new Dictionary<string, string>();
        var ports = new HashSet<int>();
        foreach (var svc in services)
        {
            var owner = svc!["metadata"]!["namespace"]!.GetValue<string>() + "/" + svc["metadata"]!["name"]!.GetValue<string>();
            foreach (var ip in svc["spec"]!["clusterIPs"]?.AsArray() ?? [])
            {
                Assert.True(held.TryAdd(ip!.GetValue<string>(), owner), $"{ip} held twice");
            }
            var nodePorts = svc["spec"]!["ports"]!.AsArray().Select(p => p!["nodePort"]).Where(p => p is not null).Select(p => p!.GetValue<int>()).Distinct();
            foreach (var port in nodePorts.Concat(svc["spec"]!["healthCheckNodePort"] is { } hc ? [hc.GetValue<int>()] : []))
            {
                Assert.True(ports.Add(port), $"node port {port} held twice");
            }
        }
        var addresses = JsonNode.Parse(await client.GetStringAsync("/apis/networking.k8s.io/v1/ipaddresses"))!["items"]!.AsArray()
            .ToDictionary(a => a!["metadata"]!["name"]!.GetValue<string>(),
                a => a!["spec"]!["parentRef"]!["namespace"]!.GetValue<string>() + "/" + a["spec"]!["parentRef"]!["name"]!.GetValue<string>());
        Assert.Equal(held.OrderBy(k => k.Key), addresses.OrderBy(k => k.Key));

        // And allocation carries on without colliding with what survived.
        for (var i = 0; i < 30; i++)
        {
            using var content = new StringContent(Body($"after-{i}", i), Encoding.UTF8, "application/json");
            using var resp = await client.PostAsync("/api/v1/namespaces/default/services", content);
            Assert.Equal(201, (int)resp.StatusCode);
            var created = JsonNode.Parse(await resp.Content.ReadAsStringAsync())!;
            foreach (var ip in created["spec"]!["clusterIPs"]!.AsArray())
            {
                Assert.True(held.TryAdd(ip!.GetValue<string>(), "after"), $"{ip} reused");
            }
        }
    }
}
