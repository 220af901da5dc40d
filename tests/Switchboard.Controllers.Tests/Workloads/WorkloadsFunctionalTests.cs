using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Controllers.Hosting;
using Switchboard.Controllers.Nodes;
using Switchboard.Controllers.Tests.Support;
using Switchboard.Controllers.Workloads;
using Xunit.Abstractions;

namespace Switchboard.Controllers.Tests.Workloads;

/// <summary>
/// The Deployment and ReplicaSet controllers and the scheduler as `switchboard server` runs them, against the real
/// in-process API server, with simulated Nodes in zones a, b, c and <see cref="FakeKubelet"/> playing the kubelets.
/// </summary>
public sealed class WorkloadsFunctionalTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    private readonly Kubernetes _client = fixture.Server.Client;

    private ControllerManager StartControllers() =>
        ControllerManager.Start(fixture.Server.Host.KubeconfigPath, new TestOutputLoggerFactory(output), TimeProvider.System);

    private static async Task<SimulatedCluster> ThreeZonesAsync(IKubernetes client, string prefix)
    {
        var cluster = new SimulatedCluster(client);
        foreach (var zone in new[] { "a", "b", "c" })
        {
            await cluster.AddNodeAsync($"{prefix}-{zone}", zone);
        }
        return cluster;
    }

    private static V1Deployment Deployment(string name, int replicas, string image = "registry.k8s.io/e2e-test-images/agnhost:2.53", Action<V1DeploymentSpec>? configure = null)
    {
        var spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = image, Args = ["netexec"] }] },
            },
        };
        configure?.Invoke(spec);
        return new V1Deployment { ApiVersion = "apps/v1", Kind = "Deployment", Metadata = new V1ObjectMeta { Name = name }, Spec = spec };
    }

    private async Task<List<V1Pod>> ActivePodsAsync(string ns) =>
        [.. (await _client.CoreV1.ListNamespacedPodAsync(ns)).Items.Where(p => p.Metadata.DeletionTimestamp is null)];

    private async Task<V1Deployment> WaitForDeploymentAsync(string ns, string name, Func<V1Deployment, bool> condition, string what)
    {
        V1Deployment d = null!;
        await Poll.UntilAsync(async () => condition(d = await _client.AppsV1.ReadNamespacedDeploymentAsync(name, ns)), what);
        return d;
    }

    private static bool RolledOut(V1Deployment d, int replicas) =>
        d.Status?.ObservedGeneration >= d.Metadata.Generation && d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas
        && d.Status.AvailableReplicas == replicas && d.Status.ReadyReplicas == replicas;

    [Fact]
    public async Task Deployment_SixReplicasOverThreeZones_OneReplicaSetAndPodsSpreadEvenly()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("spread");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "deploy");
        await using var kubelet = new FakeKubelet(_client, ns);

        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 6), ns);
        var d = await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 6), "6 available replicas");

        var rs = Assert.Single((await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);
        var hash = rs.Metadata.Labels[DeploymentUtil.PodTemplateHashLabel];
        Assert.Equal("web-" + hash, rs.Metadata.Name);
        Assert.Equal(hash, rs.Spec.Selector.MatchLabels[DeploymentUtil.PodTemplateHashLabel]);
        Assert.Equal("1", rs.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.Equal("6", rs.Metadata.Annotations[DeploymentUtil.DesiredReplicasAnnotation]);
        Assert.Equal("8", rs.Metadata.Annotations[DeploymentUtil.MaxReplicasAnnotation]);
        var owner = Assert.Single(rs.Metadata.OwnerReferences);
        Assert.Equal((d.Metadata.Uid, true, true), (owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("1", d.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.Equal(("True", "MinimumReplicasAvailable"), Condition(d, "Available"));
        Assert.Equal(("True", "NewReplicaSetAvailable"), Condition(d, "Progressing"));
        Assert.Equal(0, d.Status.UnavailableReplicas ?? 0);

        var pods = await ActivePodsAsync(ns);
        Assert.Equal(6, pods.Count);
        Assert.All(pods, p =>
        {
            Assert.StartsWith(rs.Metadata.Name + "-", p.Metadata.Name, StringComparison.Ordinal);
            Assert.Equal(rs.Metadata.Name + "-", p.Metadata.GenerateName);
            Assert.Equal(rs.Metadata.Uid, p.Metadata.OwnerReferences.Single(o => o.Controller == true).Uid);
            Assert.Equal(hash, p.Metadata.Labels[DeploymentUtil.PodTemplateHashLabel]);
            Assert.Equal("True", p.Status.Conditions.Single(c => c.Type == "PodScheduled").Status);
        });
        Assert.Equal([2, 2, 2], pods.GroupBy(p => p.Spec.NodeName).Select(g => g.Count()).ToList());
        Assert.Equal(3, pods.Select(p => p.Spec.NodeName).Distinct().Count());

        var events = (await _client.CoreV1.ListNamespacedEventAsync(ns)).Items;
        Assert.Contains(events, e => e.Reason == "ScalingReplicaSet" && e.Message == $"Scaled up replica set {rs.Metadata.Name} from 0 to 6");
        Assert.Contains(events, e => e.Reason == "SuccessfulCreate" && e.Message.StartsWith("Created pod: " + rs.Metadata.Name, StringComparison.Ordinal));
        Assert.Contains(events, e => e.Reason == "Scheduled" && e.Source.Component == "default-scheduler");
    }

    private static (string?, string?) Condition(V1Deployment d, string type) =>
        d.Status.Conditions?.FirstOrDefault(c => c.Type == type) is { } c ? (c.Status, c.Reason) : (null, null);

    [Fact]
    public async Task Scale_UpAndDownThroughTheScaleSubresource_PodsFollow()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("scale");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "scale");
        await using var kubelet = new FakeKubelet(_client, ns);
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2), ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 2), "2 replicas");

        foreach (var replicas in new[] { 5, 1 })
        {
            var patch = new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } };
            await _client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), "web", ns);
            await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, replicas), $"{replicas} replicas");
            await Poll.UntilAsync(async () => (await ActivePodsAsync(ns)).Count == replicas, $"{replicas} pods");
        }
        var rs = Assert.Single((await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);
        Assert.Equal("1", rs.Metadata.Annotations[DeploymentUtil.DesiredReplicasAnnotation]);
        var events = (await _client.CoreV1.ListNamespacedEventAsync(ns)).Items;
        Assert.Contains(events, e => e.Reason == "SuccessfulDelete" && e.InvolvedObject.Name == rs.Metadata.Name);
        Assert.Contains(events, e => e.Reason == "ScalingReplicaSet" && e.Message == $"Scaled down replica set {rs.Metadata.Name} from 5 to 1");
    }

    [Fact]
    public async Task RollingUpdate_EveryObservedStep_StaysWithinMaxSurgeAndMaxUnavailable()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("roll");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "roll");
        await using var kubelet = new FakeKubelet(_client, ns);
        const int replicas = 4;
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", replicas, configure: s =>
            s.Strategy = new V1DeploymentStrategy { Type = "RollingUpdate", RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = 1, MaxUnavailable = 1 } }), ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, replicas), "first rollout");

        var patch = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "registry.k8s.io/e2e-test-images/agnhost:2.54" }) } } } };
        await _client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch), "web", ns);

        var steps = 0;
        await Poll.UntilAsync(async () =>
        {
            var sets = (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items;
            var pods = await ActivePodsAsync(ns);
            var ready = pods.Count(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true);
            var total = sets.Sum(r => r.Spec.Replicas ?? 0);
            Assert.True(ready >= replicas - 1, $"step {steps}: only {ready} ready pods");
            Assert.True(total <= replicas + 1, $"step {steps}: ReplicaSets want {total} replicas");
            steps++;
            var d = await _client.AppsV1.ReadNamespacedDeploymentAsync("web", ns);
            return RolledOut(d, replicas) && sets.Count == 2 && sets.Single(r => r.Metadata.Annotations[DeploymentUtil.RevisionAnnotation] == "1").Spec.Replicas == 0;
        }, "second rollout");

        var current = await _client.AppsV1.ReadNamespacedDeploymentAsync("web", ns);
        Assert.Equal("2", current.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.All(await ActivePodsAsync(ns), p => Assert.EndsWith(":2.54", p.Spec.Containers[0].Image, StringComparison.Ordinal));
        output.WriteLine($"observed {steps} steps");
    }

    [Fact]
    public async Task Recreate_NewReplicaSetStartsOnlyAfterEveryOldPodIsGone()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("recreate");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "recreate");
        await using var kubelet = new FakeKubelet(_client, ns);
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 3, configure: s => s.Strategy = new V1DeploymentStrategy { Type = "Recreate" }), ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 3), "first rollout");

        var patch = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "registry.k8s.io/e2e-test-images/agnhost:2.54" }) } } } };
        await _client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch), "web", ns);
        await Poll.UntilAsync(async () =>
        {
            var pods = (await _client.CoreV1.ListNamespacedPodAsync(ns)).Items;
            // Never old and new pods at once (terminating old ones included).
            Assert.False(pods.Any(p => p.Spec.Containers[0].Image.EndsWith(":2.53", StringComparison.Ordinal)) && pods.Any(p => p.Spec.Containers[0].Image.EndsWith(":2.54", StringComparison.Ordinal)), "old and new pods coexist");
            return RolledOut(await _client.AppsV1.ReadNamespacedDeploymentAsync("web", ns), 3);
        }, "recreate rollout");
        var sets = (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items;
        Assert.Equal([0, 3], sets.Select(r => r.Spec.Replicas ?? 0).Order().ToList());
    }

    [Fact]
    public async Task RevisionHistoryLimit_OldestIdleReplicaSetsAreDeleted()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("history");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "history");
        await using var kubelet = new FakeKubelet(_client, ns);
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2, configure: s => s.RevisionHistoryLimit = 1), ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 2), "revision 1");

        for (var revision = 2; revision <= 4; revision++)
        {
            var patch = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["rev"] = revision.ToString(System.Globalization.CultureInfo.InvariantCulture) } } } } };
            await _client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), "web", ns);
            var expected = revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 2) && d.Metadata.Annotations[DeploymentUtil.RevisionAnnotation] == expected, "revision " + expected);
        }

        await Poll.UntilAsync(async () => (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items.Count == 2, "one old ReplicaSet kept");
        var revisions = (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items.Select(r => r.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]).Order().ToList();
        Assert.Equal(["3", "4"], revisions);
    }

    [Fact]
    public async Task Kubectl_RolloutRestartUndoAndStatus_WorkThroughTheController()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("undo");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "undo");
        await using var kubelet = new FakeKubelet(_client, ns);
        var kubeconfig = fixture.Server.Host.KubeconfigPath;
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 3), ns);
        var status = await Kubectl.RunAsync(kubeconfig, "rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        Assert.Contains("successfully rolled out", status, StringComparison.Ordinal);
        var first = Assert.Single((await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);

        await Kubectl.RunAsync(kubeconfig, "rollout", "restart", "deployment/web", "-n", ns);
        await Kubectl.RunAsync(kubeconfig, "rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        var afterRestart = await _client.AppsV1.ReadNamespacedDeploymentAsync("web", ns);
        Assert.Equal("2", afterRestart.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.True(afterRestart.Spec.Template.Metadata.Annotations.ContainsKey("kubectl.kubernetes.io/restartedAt"));
        Assert.Equal(2, (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items.Count);

        var history = await Kubectl.RunAsync(kubeconfig, "rollout", "history", "deployment/web", "-n", ns);
        Assert.Contains("1 ", history, StringComparison.Ordinal);
        await Kubectl.RunAsync(kubeconfig, "rollout", "undo", "deployment/web", "-n", ns);
        await WaitForDeploymentAsync(ns, "web", d => d.Metadata.Annotations[DeploymentUtil.RevisionAnnotation] == "3" && RolledOut(d, 3), "undo to revision 3");

        // The first ReplicaSet serves again, renumbered 3 and remembering it was 1; no third ReplicaSet exists.
        var sets = (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items;
        Assert.Equal(2, sets.Count);
        var back = sets.Single(r => r.Metadata.Uid == first.Metadata.Uid);
        Assert.Equal("3", back.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.Equal("1", back.Metadata.Annotations[DeploymentUtil.RevisionHistoryAnnotation]);
        await Poll.UntilAsync(async () => (await _client.AppsV1.ReadNamespacedReplicaSetAsync(back.Metadata.Name, ns)).Spec.Replicas == 3, "first ReplicaSet back at 3");
        await Kubectl.RunAsync(kubeconfig, "rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");

        // What users look at: READY 3/3, UP-TO-DATE 3, AVAILABLE 3; describe names the new ReplicaSet.
        var get = await Kubectl.RunAsync(kubeconfig, "get", "deployment", "web", "-n", ns, "--no-headers");
        Assert.Matches(@"^web\s+3/3\s+3\s+3\s", get);
        var describe = await Kubectl.RunAsync(kubeconfig, "describe", "deployment", "web", "-n", ns);
        Assert.Contains($"NewReplicaSet:   {back.Metadata.Name} (3/3 replicas created)", describe, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scheduler_NoMatchingNode_UnschedulableConditionAndEventThenBindsWhenANodeAppears()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("unsched");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "unsched");
        var zone = "z-" + prefix;
        await _client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "picky" },
            Spec = new V1PodSpec
            {
                NodeSelector = new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = zone },
                Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }],
            },
        }, ns);

        V1PodCondition? condition = null;
        await Poll.UntilAsync(async () =>
        {
            var pod = await _client.CoreV1.ReadNamespacedPodAsync("picky", ns);
            condition = pod.Status.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
            return condition is not null;
        }, "PodScheduled condition");
        Assert.Equal(("False", "Unschedulable"), (condition!.Status, condition.Reason));
        var nodes = (await _client.CoreV1.ListNodeAsync()).Items.Count;
        Assert.Equal($"0/{nodes} nodes are available: {nodes} node(s) didn't match Pod's node affinity/selector. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.", condition.Message);
        await Poll.UntilAsync(async () => (await _client.CoreV1.ListNamespacedEventAsync(ns)).Items.Any(e => e.Reason == "FailedScheduling" && e.Type == "Warning" && e.Message == condition.Message), "FailedScheduling event");

        await cluster.AddNodeAsync(prefix + "-z", zone);
        await Poll.UntilAsync(async () => (await _client.CoreV1.ReadNamespacedPodAsync("picky", ns)).Spec.NodeName == prefix + "-z", "binding to the new node");
        var bound = await _client.CoreV1.ReadNamespacedPodAsync("picky", ns);
        Assert.Equal("True", bound.Status.Conditions.Single(c => c.Type == "PodScheduled").Status);
    }

    [Fact]
    public async Task Scheduler_BurstOfThirty_SpreadsEvenlyAndLeavesOtherSchedulersPodsAlone()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("burst");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "burst");
        await _client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "other" },
            Spec = new V1PodSpec { SchedulerName = "my-scheduler", Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
        }, ns);

        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 30), ns);

        await Poll.UntilAsync(async () => (await ActivePodsAsync(ns)).Count(p => !string.IsNullOrEmpty(p.Spec.NodeName)) == 30, "30 bound pods");
        var pods = await ActivePodsAsync(ns);
        Assert.Equal([10, 10, 10], pods.Where(p => p.Spec.NodeName is not null).GroupBy(p => p.Spec.NodeName).Select(g => g.Count()).ToList());
        var other = pods.Single(p => p.Metadata.Name == "other");
        Assert.Null(other.Spec.NodeName);
        Assert.Null(other.Status.Conditions);
    }

    [Fact]
    public async Task ReplicaSet_AdoptsOrphansReleasesRelabelledAndLeavesUserBoundPodsWhereTheyAre()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("adopt");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "adopt");
        await using var kubelet = new FakeKubelet(_client, ns);
        // An orphan that matches, pinned by its user to node c.
        await cluster.CreatePodAsync(ns, "orphan", prefix + "-c", new Dictionary<string, string> { ["app"] = "rs" });
        await _client.AppsV1.CreateNamespacedReplicaSetAsync(new V1ReplicaSet
        {
            Metadata = new V1ObjectMeta { Name = "rs" },
            Spec = new V1ReplicaSetSpec
            {
                Replicas = 2,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "rs" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "rs" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "registry.k8s.io/pause:3.10" }] },
                },
            },
        }, ns);
        V1ReplicaSet rs = null!;
        await Poll.UntilAsync(async () => (rs = await _client.AppsV1.ReadNamespacedReplicaSetAsync("rs", ns)).Status?.ReadyReplicas == 2, "2 ready replicas");
        var pods = await ActivePodsAsync(ns);
        Assert.Equal(2, pods.Count);
        var orphan = pods.Single(p => p.Metadata.Name == "orphan");
        Assert.Equal(rs.Metadata.Uid, orphan.Metadata.OwnerReferences.Single().Uid);
        Assert.Equal(prefix + "-c", orphan.Spec.NodeName);
        Assert.Null(orphan.Status.Conditions.FirstOrDefault(c => c.Type == "PodScheduled"));
        Assert.Equal(2, rs.Status.FullyLabeledReplicas);
        Assert.Equal(rs.Metadata.Generation, rs.Status.ObservedGeneration);

        // Relabel the orphan: released, and a replacement is created.
        var relabel = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = "gone" } } };
        await _client.CoreV1.PatchNamespacedPodAsync(new V1Patch(relabel.ToJsonString(), V1Patch.PatchType.MergePatch), "orphan", ns);
        await Poll.UntilAsync(async () => (await _client.CoreV1.ReadNamespacedPodAsync("orphan", ns)).Metadata.OwnerReferences is null or { Count: 0 }, "released");
        await Poll.UntilAsync(async () => (await ActivePodsAsync(ns)).Count(p => p.Metadata.Labels["app"] == "rs") == 2, "replacement");
    }

    [Fact]
    public async Task ProgressDeadline_PodsNeverReady_ProgressingFalseAndRolloutStatusFails()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("deadline");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "deadline");
        await using var kubelet = new FakeKubelet(_client, ns) { MakeReady = false };
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2, configure: s => s.ProgressDeadlineSeconds = 2), ns);

        var d = await WaitForDeploymentAsync(ns, "web", d => Condition(d, "Progressing").Item2 == "ProgressDeadlineExceeded", "ProgressDeadlineExceeded");

        Assert.Equal("False", Condition(d, "Progressing").Item1);
        Assert.Equal(("False", "MinimumReplicasUnavailable"), Condition(d, "Available"));
        Assert.Equal(2, d.Status.UnavailableReplicas);
        var failure = await Assert.ThrowsAsync<Xunit.Sdk.TrueException>(() => Kubectl.RunAsync(fixture.Server.Host.KubeconfigPath, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s"));
        Assert.Contains("exceeded its progress deadline", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paused_TemplateChangeWaitsForResume()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("pause");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "pause");
        await using var kubelet = new FakeKubelet(_client, ns);
        var kubeconfig = fixture.Server.Host.KubeconfigPath;
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2), ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 2), "first rollout");

        await Kubectl.RunAsync(kubeconfig, "rollout", "pause", "deployment/web", "-n", ns);
        await Kubectl.RunAsync(kubeconfig, "set", "image", "deployment/web", "app=registry.k8s.io/e2e-test-images/agnhost:2.54", "-n", ns);
        var paused = await WaitForDeploymentAsync(ns, "web", d => d.Status.ObservedGeneration == d.Metadata.Generation && Condition(d, "Progressing").Item2 == "DeploymentPaused", "paused condition");
        Assert.Equal("Unknown", Condition(paused, "Progressing").Item1);
        Assert.Single((await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);

        await Kubectl.RunAsync(kubeconfig, "rollout", "resume", "deployment/web", "-n", ns);
        await WaitForDeploymentAsync(ns, "web", d => RolledOut(d, 2) && d.Metadata.Annotations[DeploymentUtil.RevisionAnnotation] == "2", "rollout after resume");
        Assert.Equal(2, (await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items.Count);
    }

    [Fact]
    public async Task ReplicaSet_TerminatingPodIsNotCounted_ReplacementCreatedAtOnce()
    {
        await using var controllers = StartControllers();
        var prefix = Objects.UniqueNamespace("term");
        await using var cluster = await ThreeZonesAsync(_client, prefix);
        var ns = await Objects.CreateNamespaceAsync(_client, "term");
        // No kubelet: a deleted pod that is bound stays Terminating (graceful deletion).
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2), ns);
        await Poll.UntilAsync(async () => (await ActivePodsAsync(ns)).Count(p => !string.IsNullOrEmpty(p.Spec.NodeName)) == 2, "2 bound pods");
        var victim = (await ActivePodsAsync(ns))[0];

        await _client.CoreV1.DeleteNamespacedPodAsync(victim.Metadata.Name, ns);

        await Poll.UntilAsync(async () => (await ActivePodsAsync(ns)).Count == 2 && (await ActivePodsAsync(ns)).All(p => p.Metadata.Name != victim.Metadata.Name), "replacement");
        var terminating = await _client.CoreV1.ReadNamespacedPodAsync(victim.Metadata.Name, ns);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        var rs = Assert.Single((await _client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);
        await Poll.UntilAsync(async () => (await _client.AppsV1.ReadNamespacedReplicaSetAsync(rs.Metadata.Name, ns)).Status.Replicas == 2, "status.replicas 2");
        await _client.CoreV1.DeleteNamespacedPodAsync(victim.Metadata.Name, ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
    }

    [Fact]
    public async Task NodeLifecycle_LeaseLapses_PodsOnTheNodeLoseReady()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var lifecycle = new NodeLifecycleController(_client, NullLoggerFactory.Instance, time);
        var ns = await Objects.CreateNamespaceAsync(_client, "notready");
        var prefix = Objects.UniqueNamespace("lc");
        await using var cluster = new SimulatedCluster(_client);
        await cluster.AddNodeAsync(prefix + "-dead", "a");
        await cluster.RunPodAsync(ns, "on-dead", prefix + "-dead", new Dictionary<string, string> { ["app"] = "x" }, "10.244.9.2");

        await lifecycle.MonitorAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(41));
        await lifecycle.MonitorAsync(CancellationToken.None);

        var node = await _client.CoreV1.ReadNodeAsync(prefix + "-dead");
        Assert.Equal("Unknown", node.Status.Conditions.Single(c => c.Type == "Ready").Status);
        var pod = await _client.CoreV1.ReadNamespacedPodAsync("on-dead", ns);
        Assert.Equal("False", pod.Status.Conditions.Single(c => c.Type == "Ready").Status);
        Assert.Equal("True", pod.Status.Conditions.Single(c => c.Type == "ContainersReady").Status);
        Assert.Equal("Running", pod.Status.Phase);
    }
}
