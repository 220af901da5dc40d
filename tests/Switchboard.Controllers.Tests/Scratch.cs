using Switchboard.Controllers.Tests.Support;
using Xunit.Abstractions;
using static Switchboard.Controllers.Tests.Support.Objects;
namespace Switchboard.Controllers.Tests;
public sealed class Scratch(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task OrphanDependents()
    {
        var c = fixture.Server.Client;
        var ns = await CreateNamespaceAsync(c, "s");
        await CreateConfigMapAsync(c, ns, "a", finalizers: [HoldFinalizer]);
        var r = await fixture.Server.Http.DeleteAsync($"api/v1/namespaces/{ns}/configmaps/a?orphanDependents=true");
        output.WriteLine($"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        await CreateConfigMapAsync(c, ns, "b", finalizers: [HoldFinalizer]);
        var m = new HttpRequestMessage(HttpMethod.Delete, $"api/v1/namespaces/{ns}/configmaps/b") { Content = new StringContent("{\"orphanDependents\":true}", System.Text.Encoding.UTF8, "application/json") };
        r = await fixture.Server.Http.SendAsync(m);
        output.WriteLine($"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }
}
