using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Switchboard.Controllers.Tests.Workloads;

/// <summary>
/// Plays every node's kubelet for one namespace: a pod bound to a node becomes Running and Ready (with an IP), and a
/// terminating pod is deleted with grace 0 once seen, as kubelet does after its containers stop. Polls the API.
/// </summary>
internal sealed class FakeKubelet : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly string _ns;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _ip;

    public FakeKubelet(IKubernetes client, string ns)
    {
        _client = client;
        _ns = ns;
        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    /// <summary>While false, bound pods stay Running but not Ready.</summary>
    public volatile bool MakeReady = true;

    private async Task LoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                foreach (var pod in (await _client.CoreV1.ListNamespacedPodAsync(_ns, cancellationToken: ct)).Items)
                {
                    if (pod.Metadata.DeletionTimestamp is not null)
                    {
                        await _client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, _ns, new V1DeleteOptions { GracePeriodSeconds = 0 }, cancellationToken: ct);
                        continue;
                    }
                    if (string.IsNullOrEmpty(pod.Spec.NodeName) || pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
                    {
                        continue;
                    }
                    if (!MakeReady && pod.Status?.Phase == "Running")
                    {
                        continue;
                    }
                    var now = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                    var ready = MakeReady ? "True" : "False";
                    var ip = "10.244.0." + (Interlocked.Increment(ref _ip) % 250 + 2).ToString(CultureInfo.InvariantCulture);
                    var patch = new JsonObject
                    {
                        ["status"] = new JsonObject
                        {
                            ["phase"] = "Running",
                            ["podIP"] = ip,
                            ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
                            ["conditions"] = new JsonArray(
                                new JsonObject { ["type"] = "Ready", ["status"] = ready, ["lastTransitionTime"] = now },
                                new JsonObject { ["type"] = "ContainersReady", ["status"] = ready, ["lastTransitionTime"] = now }),
                        },
                    };
                    await _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch), pod.Metadata.Name, _ns, cancellationToken: ct);
                }
            }
            catch (k8s.Autorest.HttpOperationException)
            {
                // Raced with a controller (gone, conflict): the next round sees the new state.
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            try
            {
                await Task.Delay(100, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
