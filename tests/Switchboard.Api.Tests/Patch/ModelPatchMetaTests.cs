using k8s.Models;
using Switchboard.Api.Patch;

namespace Switchboard.Api.Tests.Patch;

public class ModelPatchMetaTests
{
    [Theory]
    [InlineData(typeof(V1Pod), "spec.containers", "merge", "name")]
    [InlineData(typeof(V1Pod), "spec.initContainers", "merge", "name")]
    [InlineData(typeof(V1Pod), "spec.ephemeralContainers", "merge", "name")]
    [InlineData(typeof(V1Pod), "spec.volumes", "merge,retainKeys", "name")]
    [InlineData(typeof(V1Pod), "spec.containers[].env", "merge", "name")]
    [InlineData(typeof(V1Pod), "spec.containers[].ports", "merge", "containerPort")]
    [InlineData(typeof(V1Pod), "spec.containers[].volumeMounts", "merge", "mountPath")]
    [InlineData(typeof(V1Pod), "spec.ephemeralContainers[].env", "merge", "name")]
    [InlineData(typeof(V1Deployment), "spec.template.spec.containers", "merge", "name")]
    [InlineData(typeof(V1Deployment), "spec.template.spec.containers[].env", "merge", "name")]
    [InlineData(typeof(V1Service), "spec.ports", "merge", "port")]
    [InlineData(typeof(V1Service), "metadata.ownerReferences", "merge", "uid")]
    [InlineData(typeof(V1Service), "metadata.finalizers", "merge", null)]
    public void ForField_TaggedFields_ComeFromTheStrategyTable(Type kind, string path, string strategy, string? mergeKey)
    {
        Assert.Equal(new PatchFieldMeta(strategy, mergeKey), new ModelPatchMeta(kind).ForField(path));
    }

    [Theory]
    [InlineData(typeof(V1Pod), "spec.containers[].envFrom")] // atomic: replaced
    [InlineData(typeof(V1Pod), "spec.tolerations")]
    [InlineData(typeof(V1Pod), "spec.containers[]")] // an element is not a field
    [InlineData(typeof(V1Pod), "spec.nodeSelector")]
    [InlineData(typeof(V1Pod), "metadata.labels")]
    [InlineData(typeof(V1Pod), "metadata.labels.app.kubernetes.io/name")]
    [InlineData(typeof(V1Pod), "spec.noSuchField.containers")]
    [InlineData(typeof(V1Pod), "")]
    [InlineData(typeof(V1Service), "spec.selector")]
    public void ForField_UntaggedOrUnknown_HasNoStrategy(Type kind, string path)
    {
        Assert.Equal(PatchFieldMeta.None, new ModelPatchMeta(kind).ForField(path));
    }

    [Fact]
    public void ForField_ManyDistinctUnknownPaths_DoesNotThrow()
    {
        var meta = new ModelPatchMeta(typeof(V1ConfigMap));
        for (var i = 0; i < 10_000; i++)
        {
            Assert.Equal(PatchFieldMeta.None, meta.ForField("data.key" + i));
        }
    }
}
