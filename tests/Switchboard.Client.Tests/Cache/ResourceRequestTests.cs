using k8s.Models;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Tests.Cache;

public sealed class ResourceRequestTests
{
    [Fact]
    public void For_CoreNamespaced_UsesApiPathWithNamespace()
    {
        Assert.Equal("api/v1/namespaces/ns-1/services", ResourceRequest.For<V1Service>("ns-1").CollectionPath);
    }

    [Fact]
    public void For_GroupAllNamespaces_UsesApisPath()
    {
        Assert.Equal("apis/discovery.k8s.io/v1/endpointslices", ResourceRequest.For<V1EndpointSlice>().CollectionPath);
    }

    [Fact]
    public void For_ClusterScoped_HasNoNamespaceSegment()
    {
        Assert.Equal("api/v1/nodes", ResourceRequest.For<V1Node>().CollectionPath);
    }
}
