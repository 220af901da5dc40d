using Switchboard.ApiServer.Http;

namespace Switchboard.ApiServer.Tests.Http;

public sealed class RequestInfoTests
{
    [Theory]
    [InlineData("/api/v1/namespaces", "", "v1", null, "namespaces", null, null)]
    [InlineData("/api/v1/namespaces/demo", "", "v1", null, "namespaces", "demo", null)]
    [InlineData("/api/v1/namespaces/demo/finalize", "", "v1", null, "namespaces", "demo", "finalize")]
    [InlineData("/api/v1/namespaces/demo/status", "", "v1", null, "namespaces", "demo", "status")]
    [InlineData("/api/v1/namespaces/demo/services", "", "v1", "demo", "services", null, null)]
    [InlineData("/api/v1/namespaces/demo/services/web/status", "", "v1", "demo", "services", "web", "status")]
    [InlineData("/apis/apps/v1/namespaces/demo/deployments/d/scale", "apps", "v1", "demo", "deployments", "d", "scale")]
    [InlineData("/apis/networking.k8s.io/v1/ingressclasses/nginx", "networking.k8s.io", "v1", null, "ingressclasses", "nginx", null)]
    [InlineData("/api/v1/services", "", "v1", null, "services", null, null)]
    public void Parse_ResourcePaths_AsUpstreamRequestInfoFactory(string path, string group, string version, string? ns, string resource, string? name, string? sub)
    {
        Assert.Equal(new RequestInfo(group, version, ns, resource, name, sub), RequestInfo.Parse(path));
    }

    [Theory]
    [InlineData("/api")]
    [InlineData("/apis")]
    [InlineData("/apis/apps")]
    [InlineData("/healthz")]
    [InlineData("/api/v1/namespaces/a/services/b/status/extra")]
    public void Parse_NonResourcePaths_Null(string path) => Assert.Null(RequestInfo.Parse(path));
}
