using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Tests.Workloads;

public sealed class ReplicaSetUnitTests
{
    [Fact]
    public void Expectations_HoldUntilObservedOrExpired()
    {
        var time = new FakeTimeProvider();
        var e = new ControllerExpectations(time);
        Assert.True(e.Satisfied("ns/rs"));
        e.ExpectCreations("ns/rs", 2);
        Assert.False(e.Satisfied("ns/rs"));
        e.CreationObserved("ns/rs");
        Assert.False(e.Satisfied("ns/rs"));
        e.CreationObserved("ns/rs");
        Assert.True(e.Satisfied("ns/rs"));

        e.ExpectDeletions("ns/rs", ["ns/a", "ns/b"]);
        e.DeletionObserved("ns/rs", "ns/a");
        e.DeletionObserved("ns/rs", "ns/a");
        Assert.False(e.Satisfied("ns/rs"));
        time.Advance(ControllerExpectations.Ttl + TimeSpan.FromSeconds(1));
        Assert.True(e.Satisfied("ns/rs"));
    }

    [Fact]
    public async Task SlowStartBatch_DoublesAndStopsAfterTheFirstFailingBatch()
    {
        var calls = 0;
        var ok = await ReplicaSetController.SlowStartBatchAsync(10, 1, _ => { Interlocked.Increment(ref calls); return Task.CompletedTask; }, CancellationToken.None);
        Assert.Equal((10, 10, 0), (ok.Attempted, ok.Succeeded, ok.Failed));
        Assert.Equal(10, calls);

        // Batches 1, 2, 4: the 4th call fails, so the batch of 4 is the last one tried (7 of 10 attempted).
        calls = 0;
        var failing = await ReplicaSetController.SlowStartBatchAsync(10, 1, _ =>
            Interlocked.Increment(ref calls) == 4 ? Task.FromException(new HttpOperationException("quota")) : Task.CompletedTask, CancellationToken.None);
        Assert.Equal((7, 6, 1), (failing.Attempted, failing.Succeeded, failing.Failed));
        Assert.IsType<HttpOperationException>(failing.Error);
    }

    [Fact]
    public void CalculateStatus_CountsLabelledReadyAndAvailableWithMinReadySeconds()
    {
        var now = DateTimeOffset.UnixEpoch.AddHours(1);
        var rs = new V1ReplicaSet
        {
            Metadata = new V1ObjectMeta { Name = "rs", Generation = 3 },
            Spec = new V1ReplicaSetSpec
            {
                Replicas = 3,
                MinReadySeconds = 10,
                Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "a", ["tier"] = "web" } } },
            },
        };
        V1Pod Pod(bool ready, int readyForSeconds, bool fullyLabelled) => new()
        {
            Metadata = new V1ObjectMeta { Labels = fullyLabelled ? new Dictionary<string, string> { ["app"] = "a", ["tier"] = "web" } : new Dictionary<string, string> { ["app"] = "a" } },
            Status = new V1PodStatus { Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = now.UtcDateTime.AddSeconds(-readyForSeconds) }] },
        };

        var status = ReplicaSetController.CalculateStatus(rs, [Pod(true, 60, true), Pod(true, 2, true), Pod(false, 0, false)], null, now);

        Assert.Equal((3, 2, 2, 1), (status.Replicas, status.FullyLabeledReplicas, status.ReadyReplicas, status.AvailableReplicas));
        Assert.Null(status.Conditions);

        var failed = ReplicaSetController.CalculateStatus(rs, [Pod(true, 60, true)], new HttpOperationException("forbidden: exceeded quota"), now);
        var condition = Assert.Single(failed.Conditions);
        Assert.Equal(("ReplicaFailure", "True", "FailedCreate"), (condition.Type, condition.Status, condition.Reason));
    }

    [Fact]
    public void PodFromTemplate_GenerateNameOwnerAndTemplateMetadata()
    {
        var rs = new V1ReplicaSet
        {
            Metadata = new V1ObjectMeta { Name = "web-abc", NamespaceProperty = "ns", Uid = "u1" },
            Spec = new V1ReplicaSetSpec
            {
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web" }, Annotations = new Dictionary<string, string> { ["note"] = "x" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "i" }] },
                },
            },
        };
        var pod = ReplicaSetController.PodFromTemplate(rs);
        Assert.Equal("web-abc-", pod.Metadata.GenerateName);
        Assert.Null(pod.Metadata.Name);
        Assert.Equal("web", pod.Metadata.Labels["app"]);
        Assert.Equal("x", pod.Metadata.Annotations["note"]);
        var owner = Assert.Single(pod.Metadata.OwnerReferences);
        Assert.Equal(("apps/v1", "ReplicaSet", "web-abc", "u1", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        // A copy: changing the pod leaves the template alone.
        pod.Spec.Containers[0].Image = "other";
        Assert.Equal("i", rs.Spec.Template.Spec.Containers[0].Image);
    }
}
