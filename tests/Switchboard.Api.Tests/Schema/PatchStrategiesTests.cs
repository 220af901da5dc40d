using System.Reflection;
using System.Text.Json.Serialization;
using k8s.Models;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Schema;

public sealed class PatchStrategiesTests(SchemaFixture fixture) : IClassFixture<SchemaFixture>
{
    [Fact]
    public void All_EveryEntry_NamesAJsonPropertyOfItsType()
    {
        foreach (var ((type, field), info) in PatchStrategies.All)
        {
            var property = type.GetProperties().SingleOrDefault(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name == field);
            Assert.True(property is not null, $"{type.Name}.{field}");
            if (info.ListType is not null || info.PatchMergeKey is not null)
            {
                Assert.True(property!.PropertyType.IsGenericType, $"{type.Name}.{field} is not a list");
            }
            if (info.ListType == "map")
            {
                Assert.False(info.ListMapKeys.IsDefaultOrEmpty, $"{type.Name}.{field}");
            }
        }
    }

    [Fact]
    public void Find_Containers_MergeByNameAsListMap()
    {
        var info = PatchStrategies.Find(typeof(V1PodSpec), "containers");
        Assert.NotNull(info);
        Assert.Equal("merge", info.PatchStrategy);
        Assert.Equal("name", info.PatchMergeKey);
        Assert.Equal("map", info.ListType);
        Assert.Equal(["name"], info.ListMapKeys.ToArray());
    }

    [Fact]
    public void Find_ServicePorts_MergeByPortOnlyButApplyKeysIncludeProtocol()
    {
        var info = PatchStrategies.Find(typeof(V1ServiceSpec), "ports");
        Assert.NotNull(info);
        Assert.Equal("port", info.PatchMergeKey);
        Assert.Equal(["port", "protocol"], info.ListMapKeys.ToArray());
    }

    [Fact]
    public void Find_MetadataLists_MatchUpstream()
    {
        var finalizers = PatchStrategies.Find(typeof(V1ObjectMeta), "finalizers");
        Assert.Equal(("merge", (string?)null, "set"), (finalizers?.PatchStrategy, finalizers?.PatchMergeKey, finalizers?.ListType));

        var owners = PatchStrategies.Find(typeof(V1ObjectMeta), "ownerReferences");
        Assert.Equal("uid", owners?.PatchMergeKey);
        Assert.Equal(["uid"], owners!.ListMapKeys.ToArray());

        Assert.Equal("atomic", PatchStrategies.Find(typeof(V1ObjectMeta), "managedFields")?.ListType);
        Assert.Null(PatchStrategies.Find(typeof(V1ObjectMeta), "labels"));
    }

    [Fact]
    public void Find_OtherServedKinds_MatchUpstream()
    {
        Assert.Equal("merge,retainKeys", PatchStrategies.Find(typeof(V1PodSpec), "volumes")?.PatchStrategy);
        Assert.Equal("name", PatchStrategies.Find(typeof(V1Container), "env")?.PatchMergeKey);
        Assert.Equal(["containerPort", "protocol"], PatchStrategies.Find(typeof(V1Container), "ports")!.ListMapKeys.ToArray());
        Assert.Equal("mountPath", PatchStrategies.Find(typeof(V1Container), "volumeMounts")?.PatchMergeKey);
        Assert.Equal("type", PatchStrategies.Find(typeof(V1PodStatus), "conditions")?.PatchMergeKey);
        Assert.Equal("type", PatchStrategies.Find(typeof(V1DeploymentStatus), "conditions")?.PatchMergeKey);
        Assert.Equal("atomic", PatchStrategies.Find(typeof(V1EndpointSlice), "endpoints")?.ListType);
        Assert.Equal("set", PatchStrategies.Find(typeof(V1Endpoint), "addresses")?.ListType);
        Assert.Equal("atomic", PatchStrategies.Find(typeof(V1IngressSpec), "rules")?.ListType);
        Assert.Equal("atomic", PatchStrategies.Find(typeof(V1NetworkPolicySpec), "ingress")?.ListType);
        Assert.True(PatchStrategies.IsAtomicStruct(typeof(V1LabelSelector)));
        Assert.False(PatchStrategies.IsAtomicStruct(typeof(V1ServiceSpec)));
    }

    [Theory]
    [InlineData(typeof(V1Deployment), "spec.template.spec.containers", "name")]
    [InlineData(typeof(V1Deployment), "spec.template.spec.containers[0].ports", "containerPort")]
    [InlineData(typeof(V1Deployment), "spec.template.spec.initContainers.env", "name")]
    [InlineData(typeof(V1Service), "spec.ports", "port")]
    [InlineData(typeof(V1Pod), "metadata.ownerReferences", "uid")]
    [InlineData(typeof(V1Pod), "status.conditions", "type")]
    public void FindPatchInfo_JsonPath_ResolvesThroughObjectsAndLists(Type root, string path, string mergeKey)
    {
        Assert.Equal(mergeKey, fixture.Catalog.FindPatchInfo(root, path)?.PatchMergeKey);
    }

    [Theory]
    [InlineData(typeof(V1Service), "spec.nope")]
    [InlineData(typeof(V1Service), "spec.clusterIP.deeper")]
    [InlineData(typeof(V1Service), "metadata.labels")]
    [InlineData(typeof(string), "spec")]
    public void FindPatchInfo_UnknownOrUntagged_IsNull(Type root, string path)
    {
        Assert.Null(fixture.Catalog.FindPatchInfo(root, path));
    }
}
