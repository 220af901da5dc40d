using System.Text.Json;
using Switchboard.Api.Selectors;

namespace Switchboard.Api.Tests.Selectors;

public class FieldSelectorTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Theory]
    [InlineData("metadata.name=foo", "metadata.name=foo")]
    [InlineData("metadata.name==foo", "metadata.name=foo")]
    [InlineData("spec.nodeName!=n1,metadata.name=foo", "metadata.name=foo,spec.nodeName!=n1")]
    [InlineData("a=b,,", "a=b")]
    [InlineData("a=", "a=")]
    [InlineData("a=x\\,y", "a=x\\,y")]
    [InlineData("", "")]
    public void Parse_Terms_AreSortedAndReprinted(string selector, string expected)
    {
        Assert.Equal(expected, FieldSelector.Parse(selector).ToString());
    }

    [Theory]
    [InlineData("a=x\\,y", "x,y")]
    [InlineData("a=x\\=y", "x=y")]
    [InlineData("a=x\\\\y", "x\\y")]
    [InlineData("a==b", "b")]
    [InlineData("a!=b=c", null)]
    public void Parse_EscapedValues_AreUnescaped(string selector, string? value)
    {
        if (value is null)
        {
            var e = Assert.Throws<SelectorException>(() => FieldSelector.Parse(selector));
            Assert.Equal("invalid field selector: unescaped character in value: 61", e.Message);
            return;
        }
        Assert.Equal(value, FieldSelector.Parse(selector).Requirements.Single().Value);
    }

    [Theory]
    [InlineData("foo", "invalid selector: 'foo'; can't understand 'foo'")]
    [InlineData("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'")]
    [InlineData("a=x\\qy", "invalid field selector: invalid escape sequence: \\q")]
    [InlineData("a=x\\", "invalid field selector: invalid escape sequence: \\")]
    [InlineData("a=b=c", "invalid field selector: unescaped character in value: 61")]
    public void Parse_Invalid_ReportsUpstreamMessage(string selector, string message)
    {
        var e = Assert.Throws<SelectorException>(() => FieldSelector.Parse(selector));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("", "pods", "spec.nodeName=n1", null)]
    [InlineData("", "pods", "status.podIPs=10.0.0.1", null)]
    [InlineData("", "pods", "spec.containers=x", "field label not supported: spec.containers")]
    [InlineData("", "nodes", "spec.unschedulable=true", null)]
    [InlineData("", "nodes", "metadata.namespace=x", "field label not supported: metadata.namespace")]
    [InlineData("", "namespaces", "status.phase=Active", null)]
    [InlineData("", "namespaces", "metadata.namespace=x", "field label not supported: metadata.namespace")]
    [InlineData("", "events", "involvedObject.uid=u,involvedObject.kind=Pod,reason=x,source=s,type=Normal,reportingComponent=r", null)]
    [InlineData("", "secrets", "type=Opaque", null)]
    [InlineData("", "services", "spec.clusterIP=None,spec.type=ClusterIP", null)]
    [InlineData("", "services", "spec.externalName=x", "field label not supported: spec.externalName")]
    [InlineData("", "configmaps", "metadata.name=a,metadata.namespace=b", null)]
    [InlineData("", "configmaps", "data.x=y", "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    [InlineData("networking.k8s.io", "ingresses", "foo.bar=baz", "\"foo.bar\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    [InlineData("apps", "replicasets", "status.replicas=1", "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    [InlineData("example.com", "widgets", "spec.size=1", "\"spec.size\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    public void ValidateFor_PerKindFields_MatchUpstreamConversions(string group, string plural, string selector, string? error)
    {
        var parsed = FieldSelector.Parse(selector);
        var fields = FieldSelectorFields.For(group, plural);
        if (error is null)
        {
            Assert.Equal(parsed.Requirements.Count, parsed.ValidateFor(fields).Requirements.Count);
            return;
        }
        var e = Assert.Throws<SelectorException>(() => parsed.ValidateFor(fields));
        Assert.Equal(error, e.Message);
    }

    [Fact]
    public void ValidateFor_PodSpecHost_IsRewrittenToNodeName()
    {
        var s = FieldSelector.Parse("spec.host=n1").ValidateFor(FieldSelectorFields.For("", "pods"));
        Assert.Equal("spec.nodeName=n1", s.ToString());
        Assert.Contains("spec.host", FieldSelectorFields.For("", "pods").Supported);
    }

    private const string Pod = """
        {"metadata":{"name":"p1","namespace":"default"},
         "spec":{"nodeName":"n1","restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"sa"},
         "status":{"phase":"Running","podIP":"10.0.0.9","podIPs":[{"ip":"10.0.0.9"},{"ip":"fd00::9"}]}}
        """;

    [Theory]
    [InlineData("metadata.name=p1", true)]
    [InlineData("metadata.namespace=default,metadata.name=p1", true)]
    [InlineData("metadata.name=p2", false)]
    [InlineData("metadata.name!=p2", true)]
    [InlineData("spec.nodeName=n1", true)]
    [InlineData("spec.host=n1", true)]
    [InlineData("spec.hostNetwork=false", true)]
    [InlineData("spec.hostNetwork=true", false)]
    [InlineData("status.phase=Running", true)]
    [InlineData("status.podIP=10.0.0.9", true)]
    [InlineData("status.podIPs=10.0.0.9", false)]
    [InlineData("status.podIPs=", true)]
    [InlineData("status.nominatedNodeName=", true)]
    [InlineData("status.nominatedNodeName!=", false)]
    public void Matches_Pods_UseUpstreamSelectableFields(string selector, bool expected)
    {
        var fields = FieldSelectorFields.For("", "pods");
        var s = FieldSelector.Parse(selector).ValidateFor(fields);
        var pod = Json(Pod);
        Assert.Equal(expected, s.Matches(pod, fields));
        Assert.Equal(expected, s.Matches(f => fields.GetField(pod, f)));
    }

    [Fact]
    public void Matches_EventSource_FallsBackToReportingComponent()
    {
        var fields = FieldSelectorFields.For("", "events");
        var withSource = Json("""{"source":{"component":"kubelet"},"reportingComponent":"other"}""");
        var withoutSource = Json("""{"source":{},"reportingComponent":"scheduler","involvedObject":{"kind":"Pod","name":"p"}}""");
        var s = FieldSelector.Parse("source=scheduler");
        Assert.False(s.Matches(withSource, fields));
        Assert.True(s.Matches(withoutSource, fields));
        Assert.Equal("kubelet", fields.GetField(withSource, "source"));
        Assert.True(FieldSelector.Parse("involvedObject.kind=Pod,involvedObject.name=p").Matches(withoutSource, fields));
    }

    [Fact]
    public void Matches_NodeUnschedulable_DefaultsToFalse()
    {
        var fields = FieldSelectorFields.For("", "nodes");
        Assert.True(FieldSelector.Parse("spec.unschedulable=false").Matches(Json("""{"spec":{}}"""), fields));
        Assert.True(FieldSelector.Parse("spec.unschedulable=true").Matches(Json("""{"spec":{"unschedulable":true}}"""), fields));
    }

    [Fact]
    public void Matches_Json_DoesNotAllocate()
    {
        var fields = FieldSelectorFields.For("", "pods");
        var s = FieldSelector.Parse("metadata.namespace=default,spec.nodeName=n1,status.podIP=10.0.0.9,spec.hostNetwork=false,status.phase!=Failed").ValidateFor(fields);
        var pod = Json(Pod);
        Assert.True(s.Matches(pod, fields));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            s.Matches(pod, fields);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TryGetExactMatch_FindsEqualityTerms()
    {
        var s = FieldSelector.Parse("metadata.name=a,spec.nodeName!=b");
        Assert.True(s.TryGetExactMatch("metadata.name", out var name));
        Assert.Equal("a", name);
        Assert.False(s.TryGetExactMatch("spec.nodeName", out _));
    }

    [Theory]
    [InlineData("spec.clusterIP", "10.0.0.1")]
    [InlineData("spec.ports.0.port", "80")]
    [InlineData("spec.publishNotReadyAddresses", "true")]
    [InlineData("spec.missing", null)]
    [InlineData("spec.ports", null)]
    public void ReadPath_ReadsScalars(string path, string? expected)
    {
        var svc = Json("""{"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}],"publishNotReadyAddresses":true}}""");
        Assert.Equal(expected, FieldSelectorFields.ReadPath(svc, path));
    }

    [Fact]
    public void EscapeValue_RoundTripsThroughParse()
    {
        const string value = "a,b=c\\d";
        var s = FieldSelector.Parse("metadata.name=" + FieldSelector.EscapeValue(value));
        Assert.Equal(value, s.Requirements.Single().Value);
    }
}
