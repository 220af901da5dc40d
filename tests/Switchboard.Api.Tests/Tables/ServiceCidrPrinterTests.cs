namespace Switchboard.Api.Tests.Tables;

public sealed class ServiceCidrPrinterTests
{
    [Fact]
    public void ServiceCidr_NameCidrsAge()
    {
        var cells = TablePrinterTests.Cells("networking.k8s.io", "servicecidrs",
            """{"metadata":{"name":"kubernetes","creationTimestamp":"@CREATED@"},"spec":{"cidrs":["10.96.0.0/12","fd00:10:96::/112"]}}""");
        Assert.Equal(["kubernetes", "10.96.0.0/12,fd00:10:96::/112", "5m"], cells);
    }

    [Theory]
    [InlineData("""{"group":"","resource":"services","namespace":"default","name":"web"}""", "services/default/web")]
    [InlineData("""{"group":"gateway.networking.k8s.io","resource":"Gateways","namespace":"ns","name":"gw"}""", "gateways.gateway.networking.k8s.io/ns/gw")]
    public void IpAddress_ParentRefAsUpstream(string parentRef, string expected)
    {
        var cells = TablePrinterTests.Cells("networking.k8s.io", "ipaddresses",
            $$$"""{"metadata":{"name":"10.96.0.10","creationTimestamp":"@CREATED@"},"spec":{"parentRef":{{{parentRef}}}}}""");
        Assert.Equal(["10.96.0.10", expected, "5m"], cells);
    }
}
