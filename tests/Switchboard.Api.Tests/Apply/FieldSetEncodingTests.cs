using System.Text.Json.Nodes;
using Switchboard.Api.Apply;
using static Switchboard.Api.Tests.Apply.ApplyFixtures;

namespace Switchboard.Api.Tests.Apply;

/// <summary>FieldsV1 of objects, checked against upstream's examples and encoding rules.</summary>
public class FieldSetEncodingTests
{
    [Fact]
    public void FieldsV1Of_SsaDocConfigMap_MatchesTheDocExactly()
    {
        // kubernetes/website server-side-apply.md, "Example": the kubectl Apply entry of test-cm.
        var cm = J("""
            {"apiVersion":"v1","kind":"ConfigMap",
             "metadata":{"name":"test-cm","namespace":"default","labels":{"test-label":"test"}},
             "data":{"key":"some value"}}
            """);

        var fields = ConfigMaps.FieldsV1Of(cm);

        Assert.Equal("""{"f:data":{"f:key":{}},"f:metadata":{"f:labels":{"f:test-label":{}}}}""", Text(fields));
    }

    [Fact]
    public void FieldsV1Of_ServicePorts_KeyedByPortAndDefaultedProtocol()
    {
        var svc = Service("""[{"port":80}]""", extraMetadata: ""","labels":{"app":"web"}""");

        var fields = Services.FieldsV1Of(svc);

        Assert.Equal("""{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}}}}""",
            Text(fields));
    }

    [Fact]
    public void FieldsV1Of_Deployment_ContainersByNameAtomicSelectorAndArgs()
    {
        var deploy = J("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx-deployment","labels":{"app":"nginx"}},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"nginx"}},
              "template":{"metadata":{"labels":{"app":"nginx"}},
               "spec":{"containers":[{"name":"nginx","image":"nginx:1.14.2","args":["-g","daemon off;"],
                 "ports":[{"containerPort":80}]}]}}}}
            """);

        var fields = Deployments.FieldsV1Of(deploy);

        Json("""
            {"f:metadata":{"f:labels":{"f:app":{}}},
             "f:spec":{"f:replicas":{},"f:selector":{},
              "f:template":{"f:metadata":{"f:labels":{"f:app":{}}},
               "f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:args":{},"f:image":{},"f:name":{},
                 "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
            """, fields);
    }

    [Fact]
    public void FieldsV1Of_FinalizersAreASet_ItemsByValue()
    {
        var cm = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","finalizers":["example.com/b","example.com/a"]}}""");

        var fields = ConfigMaps.FieldsV1Of(cm);

        Assert.Equal("""{"f:metadata":{"f:finalizers":{"v:\"example.com/a\"":{},"v:\"example.com/b\"":{}}}}""", Text(fields));
    }

    [Fact]
    public void FieldsV1Of_EmptyStructAndNull_AreOwnedThemselves()
    {
        var svc = J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"sessionAffinityConfig":{},"clusterIP":null}}""");

        Assert.Equal("""{"f:spec":{"f:clusterIP":{},"f:sessionAffinityConfig":{}}}""", Text(Services.FieldsV1Of(svc)));
    }

    [Fact]
    public void FieldsV1Of_StatusOfAKindWithStatusSubresource_OnlyThroughStatus()
    {
        var svc = J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}}""");

        Assert.Equal("""{"f:spec":{"f:type":{}}}""", Text(Services.FieldsV1Of(svc)));
        Assert.Equal("""{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}""", Text(Services.FieldsV1Of(svc, "status")));
    }

    [Fact]
    public void FieldSet_FieldsV1RoundTrip_KeepsMembersChildrenAndOrder()
    {
        const string text = """{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}},"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{}}}}}""";

        var set = FieldSet.FromFieldsV1(JsonNode.Parse(text));

        // Keys sort numerically (80 before 443), members and children merge in one sorted order.
        Assert.Equal("""{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}},"k:{\"port\":443,\"protocol\":\"TCP\"}":{}}}}""",
            Text(set.ToFieldsV1()));
        Assert.True(set.Has([PathElement.Field("spec"), PathElement.Field("ports")]));
        Assert.False(set.Has([PathElement.Field("spec")]));
    }

    [Fact]
    public void PathElement_KeysFromAnyFieldOrder_AreEqualAndPrintLikeUpstream()
    {
        var a = PathElement.Parse("""k:{"protocol":"TCP","port":80}""");
        var b = PathElement.Key([new("port", JsonValue.Create(80)), new("protocol", JsonValue.Create("TCP"))]);

        Assert.Equal(a, b);
        Assert.Equal("""k:{"port":80,"protocol":"TCP"}""", a.Token);
        Assert.Equal("""[port=80,protocol="TCP"]""", a.ToString());
        Assert.Equal("""[="x"]""", PathElement.Parse("""v:"x" """.Trim()).ToString());
        Assert.Equal("[3]", PathElement.Parse("i:3").ToString());
    }

    [Fact]
    public void PathElement_Key_EscapesLikeGo()
    {
        var pe = PathElement.Key([new("name", JsonValue.Create("a<b>&\"c\""))]);

        Assert.Equal("""k:{"name":"a\u003cb\u003e\u0026\"c\""}""", pe.Token);
    }

    [Fact]
    public void FieldSet_Malformed_IsAFormatError()
    {
        Assert.Throws<FormatException>(() => FieldSet.FromFieldsV1(JsonNode.Parse("""{"x:a":{}}""")));
        Assert.Throws<FormatException>(() => FieldSet.FromFieldsV1(JsonNode.Parse("""{"f:a":1}""")));
        Assert.Throws<FormatException>(() => FieldSet.FromFieldsV1(JsonNode.Parse("""{"k:[1]":{}}""")));
    }
}
