using k8s.Models;
using Switchboard.Api.Patch;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Patch;

public class SchemaPatchMetaTests
{
    internal static readonly SchemaCatalog Schemas = new(ResourceCatalog.Default);

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
        Assert.Equal(new PatchFieldMeta(strategy, mergeKey), new SchemaPatchMeta(Schemas, kind).ForField(path));
    }

    [Theory]
    [InlineData(typeof(V1Pod), "spec.containers[].envFrom")] // atomic: replaced
    [InlineData(typeof(V1Pod), "spec.tolerations")]
    [InlineData(typeof(V1Pod), "spec.nodeSelector")]
    [InlineData(typeof(V1Pod), "metadata.labels")]
    [InlineData(typeof(V1Pod), "metadata.labels.app.kubernetes.io/name")]
    [InlineData(typeof(V1Pod), "spec.noSuchField.containers")]
    [InlineData(typeof(V1Pod), "")]
    [InlineData(typeof(V1Service), "spec.selector")]
    public void ForField_UntaggedOrUnknown_HasNoStrategy(Type kind, string path)
    {
        Assert.Equal(PatchFieldMeta.None, new SchemaPatchMeta(Schemas, kind).ForField(path));
    }

    [Fact]
    public void SchemaPatchMeta_ManyDistinctUnknownPaths_DoesNotThrow()
    {
        var meta = new SchemaPatchMeta(Schemas, typeof(V1ConfigMap));
        for (var i = 0; i < 10_000; i++)
        {
            Assert.Equal(PatchFieldMeta.None, meta.ForField("data.key" + i));
        }
    }

    [Fact]
    public void ForField_KindTheCatalogueDoesNotServe_HasNoStrategy()
    {
        Assert.Equal(PatchFieldMeta.None, new SchemaPatchMeta(Schemas, typeof(V1StatefulSet)).ForField("spec.template.spec.containers"));
    }
}
