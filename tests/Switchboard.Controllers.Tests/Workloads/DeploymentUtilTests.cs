using k8s.Models;
using Switchboard.Controllers.Workloads;

namespace Switchboard.Controllers.Tests.Workloads;

public sealed class DeploymentUtilTests
{
    private static V1Deployment Deployment(int replicas, string? surge = "25%", string? unavailable = "25%", string type = "RollingUpdate") => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", Generation = 1 },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Strategy = new V1DeploymentStrategy
            {
                Type = type,
                RollingUpdate = type == "RollingUpdate" ? new V1RollingUpdateDeployment { MaxSurge = surge, MaxUnavailable = unavailable } : null,
            },
            Template = Template("nginx:1"),
        },
        Status = new V1DeploymentStatus(),
    };

    private static V1PodTemplateSpec Template(string image) => new()
    {
        Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web" } },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = image }] },
    };

    private static V1ReplicaSet RS(string name, int replicas, int available = 0, string? maxReplicas = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            CreationTimestamp = DateTime.UnixEpoch.AddMinutes(name[^1]),
            Annotations = maxReplicas is null ? null : new Dictionary<string, string> { [DeploymentUtil.MaxReplicasAnnotation] = maxReplicas },
        },
        Spec = new V1ReplicaSetSpec { Replicas = replicas },
        Status = new V1ReplicaSetStatus { Replicas = replicas, AvailableReplicas = available },
    };

    [Theory]
    [InlineData("25%", "25%", 10, 3, 2)]
    [InlineData("25%", "25%", 1, 1, 0)]
    [InlineData("0", "0", 5, 0, 1)]
    [InlineData("0%", "1%", 10, 0, 1)]
    [InlineData("50%", "50%", 3, 2, 1)]
    [InlineData("2", "3", 10, 2, 3)]
    public void ResolveFenceposts_SurgeRoundsUpUnavailableDown_BothZeroMeansOneUnavailable(string surge, string unavailable, int desired, int expectedSurge, int expectedUnavailable)
    {
        Assert.Equal((expectedSurge, expectedUnavailable), DeploymentUtil.ResolveFenceposts(surge, unavailable, desired));
    }

    [Fact]
    public void MaxUnavailable_CappedAtReplicasAndZeroForRecreate()
    {
        Assert.Equal(2, DeploymentUtil.MaxUnavailable(Deployment(2, "0", "5")));
        Assert.Equal(0, DeploymentUtil.MaxUnavailable(Deployment(4, type: "Recreate")));
        Assert.Equal(0, DeploymentUtil.MaxSurge(Deployment(4, type: "Recreate")));
    }

    [Fact]
    public void NewRSNewReplicas_GrowsUpToReplicasPlusSurge()
    {
        var d = Deployment(10); // surge 3
        var newRS = RS("new2", 0);
        Assert.Equal(3, DeploymentUtil.NewRSNewReplicas(d, [RS("old1", 10), newRS], newRS));
        Assert.Equal(3, DeploymentUtil.NewRSNewReplicas(d, [RS("old1", 10), RS("new2", 3)], RS("new2", 3)));
        Assert.Equal(10, DeploymentUtil.NewRSNewReplicas(d, [RS("old1", 0), RS("new2", 8)], RS("new2", 8)));
        Assert.Equal(10, DeploymentUtil.NewRSNewReplicas(Deployment(10, type: "Recreate"), [RS("new2", 0)], RS("new2", 0)));
    }

    [Fact]
    public void ComputeHash_IsStableLooksLikeUpstreamAndChangesWithTemplateAndCollisionCount()
    {
        var a = DeploymentUtil.ComputeHash(Template("nginx:1"), null);
        Assert.Equal(a, DeploymentUtil.ComputeHash(Template("nginx:1"), null));
        Assert.NotEqual(a, DeploymentUtil.ComputeHash(Template("nginx:2"), null));
        Assert.NotEqual(a, DeploymentUtil.ComputeHash(Template("nginx:1"), 1));
        Assert.InRange(a.Length, 1, 10);
        Assert.All(a, c => Assert.Contains(c, "bcdfghjklmnpqrstvwxz2456789"));
    }

    [Fact]
    public void SafeEncode_MapsEachByteOntoTheUpstreamAlphabet()
    {
        // '0' is 48 → 48 % 27 = 21 → '4'; '9' is 57 → 3 → 'f'.
        Assert.Equal("4f", DeploymentUtil.SafeEncode("09"));
    }

    [Fact]
    public void EqualIgnoreHash_IgnoresOnlyThePodTemplateHashLabel()
    {
        var withHash = Template("nginx:1");
        withHash.Metadata.Labels[DeploymentUtil.PodTemplateHashLabel] = "abc";
        Assert.True(DeploymentUtil.EqualIgnoreHash(withHash, Template("nginx:1")));
        Assert.False(DeploymentUtil.EqualIgnoreHash(withHash, Template("nginx:2")));
    }

    [Fact]
    public void SetNewReplicaSetAnnotations_RollbackKeepsRevisionHistoryAndNewOnesGetReplicaAnnotations()
    {
        var d = Deployment(4);
        d.Metadata.Annotations = new Dictionary<string, string> { ["team"] = "a", [DeploymentUtil.LastAppliedAnnotation] = "{}", [DeploymentUtil.RevisionAnnotation] = "2" };
        var fresh = RS("new3", 0);
        Assert.True(DeploymentUtil.SetNewReplicaSetAnnotations(d, fresh, "1", exists: false));
        Assert.Equal("1", fresh.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.Equal("4", fresh.Metadata.Annotations[DeploymentUtil.DesiredReplicasAnnotation]);
        Assert.Equal("5", fresh.Metadata.Annotations[DeploymentUtil.MaxReplicasAnnotation]);
        Assert.Equal("a", fresh.Metadata.Annotations["team"]);
        Assert.False(fresh.Metadata.Annotations.ContainsKey(DeploymentUtil.LastAppliedAnnotation));

        // Rolled back to revision 1 twice: it becomes 3, then 5, remembering 1 and 3.
        DeploymentUtil.SetNewReplicaSetAnnotations(d, fresh, "3", exists: true);
        DeploymentUtil.SetNewReplicaSetAnnotations(d, fresh, "5", exists: true);
        Assert.Equal("5", fresh.Metadata.Annotations[DeploymentUtil.RevisionAnnotation]);
        Assert.Equal("1,3", fresh.Metadata.Annotations[DeploymentUtil.RevisionHistoryAnnotation]);
        Assert.False(DeploymentUtil.SetNewReplicaSetAnnotations(d, fresh, "4", exists: true));
    }

    [Fact]
    public void ProportionalSizes_ScaleUpMidRollout_SplitsByShareLeftoverToLargest()
    {
        // Upstream TestScale "proportional scaling: 5 -> 10": old 5 and new 5 of max 10... here a 10 → 20 scale
        // with old 8 + new 4 (max-replicas 12 before): 20+5 surge = 25 allowed, 13 to add.
        var d = Deployment(20); // surge 5
        d.Status.Replicas = 12;
        var sizes = DeploymentUtil.ProportionalSizes(d, [RS("old1", 8, maxReplicas: "12"), RS("new2", 4, maxReplicas: "12")]);
        Assert.Equal(25, sizes.Values.Sum());
        Assert.Equal(17, sizes["old1"]);
        Assert.Equal(8, sizes["new2"]);
    }

    [Fact]
    public void ProportionalSizes_ScaleDownToZero_EmptiesEverything()
    {
        var sizes = DeploymentUtil.ProportionalSizes(Deployment(0), [RS("old1", 3, maxReplicas: "6"), RS("new2", 3, maxReplicas: "6")]);
        Assert.Equal(0, sizes.Values.Sum());
    }

    [Fact]
    public void CalculateStatus_CountsFromReplicaSetsAndSetsAvailability()
    {
        var d = Deployment(4); // maxUnavailable 1
        var newRS = RS("new2", 2, available: 2);
        var status = DeploymentUtil.CalculateStatus([RS("old1", 2, available: 1), newRS], newRS, d, DateTimeOffset.UnixEpoch);
        Assert.Equal(4, status.Replicas);
        Assert.Equal(2, status.UpdatedReplicas);
        Assert.Equal(3, status.AvailableReplicas);
        Assert.Equal(1, status.UnavailableReplicas);
        Assert.Equal(1, status.ObservedGeneration);
        var available = Assert.Single(status.Conditions);
        Assert.Equal(("Available", "True", "MinimumReplicasAvailable"), (available.Type, available.Status, available.Reason));

        var worse = DeploymentUtil.CalculateStatus([RS("old1", 2, available: 0), RS("new2", 2, available: 2)], newRS, d, DateTimeOffset.UnixEpoch);
        Assert.Equal(("False", "MinimumReplicasUnavailable"), (worse.Conditions.Single().Status, worse.Conditions.Single().Reason));
    }

    [Fact]
    public void IsTimedOut_AfterProgressDeadlineSinceLastUpdate()
    {
        var d = Deployment(1);
        d.Spec.ProgressDeadlineSeconds = 60;
        var status = new V1DeploymentStatus();
        DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition("Progressing", "True", "ReplicaSetUpdated", "x", DateTimeOffset.UnixEpoch));
        Assert.False(DeploymentUtil.IsTimedOut(d, status, DateTimeOffset.UnixEpoch.AddSeconds(59)));
        Assert.True(DeploymentUtil.IsTimedOut(d, status, DateTimeOffset.UnixEpoch.AddSeconds(61)));
    }

    [Fact]
    public void Scaled_BadPercent_IsAFormatError()
    {
        Assert.Throws<FormatException>(() => DeploymentUtil.Scaled("x%", 10, true));
    }
}
