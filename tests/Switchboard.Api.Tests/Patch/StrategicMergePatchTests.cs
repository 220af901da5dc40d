using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Switchboard.Api.Patch;
using static Switchboard.Api.Tests.Patch.PatchAssert;

namespace Switchboard.Api.Tests.Patch;

public class StrategicMergePatchTests
{
    private static readonly SchemaPatchMeta Pod = new(SchemaPatchMetaTests.Schemas, typeof(V1Pod));
    private static readonly SchemaPatchMeta Deployment = new(SchemaPatchMetaTests.Schemas, typeof(V1Deployment));
    private static readonly SchemaPatchMeta Service = new(SchemaPatchMetaTests.Schemas, typeof(V1Service));

    private static JsonNode Apply(string document, string patch, IPatchMeta meta) =>
        StrategicMergePatch.Apply(J(document), Encoding.UTF8.GetBytes(patch), meta);

    [Fact]
    public void Apply_Containers_MergeByName()
    {
        var result = Apply(
            """{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1","ports":[{"containerPort":80}]},{"name":"sidecar","image":"side:1"}]}}}}""",
            """{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"side:2"}]}}}}""",
            Deployment);
        Json("""{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1","ports":[{"containerPort":80}]},{"name":"sidecar","image":"side:2"}]}}}}""", result);
    }

    [Fact]
    public void Apply_Env_MergesByNameAndNullDeletesAField()
    {
        var result = Apply(
            """{"spec":{"containers":[{"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"2","valueFrom":null}]}]}}""",
            """{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"3"},{"name":"A","value":null}]}]}}""",
            Pod);
        Json("""{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"3","valueFrom":null},{"name":"A"}]}]}}""", result);
    }

    [Fact]
    public void Apply_NewListItemWithoutSetElementOrder_GoesFirstLikeUpstream()
    {
        // Upstream places patch items that the live list lacks ahead of the server-only ones.
        var result = Apply(
            """{"spec":{"containers":[{"name":"app","env":[{"name":"A","value":"1"}]}]}}""",
            """{"spec":{"containers":[{"name":"app","env":[{"name":"C","value":"3"}]}]}}""",
            Pod);
        Json("""{"spec":{"containers":[{"name":"app","env":[{"name":"C","value":"3"},{"name":"A","value":"1"}]}]}}""", result);
    }

    [Fact]
    public void Apply_PatchDeleteInListItem_RemovesThatItem()
    {
        var result = Apply(
            """{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}]}}""",
            """{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}""",
            Pod);
        Json("""{"spec":{"containers":[{"name":"b","image":"b"}]}}""", result);
    }

    [Fact]
    public void Apply_PatchReplaceInList_ReplacesTheList()
    {
        var result = Apply(
            """{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}]}}""",
            """{"spec":{"containers":[{"$patch":"replace"},{"name":"c","image":"c"}]}}""",
            Pod);
        Json("""{"spec":{"containers":[{"name":"c","image":"c"}]}}""", result);
    }

    [Fact]
    public void Apply_PatchReplaceAndDeleteOnMaps()
    {
        Json("""{"metadata":{"labels":{"only":"me"}}}""",
            Apply("""{"metadata":{"labels":{"a":"1","b":"2"}}}""", """{"metadata":{"labels":{"$patch":"replace","only":"me"}}}""", Pod));
        Json("""{"metadata":{"labels":{}}}""",
            Apply("""{"metadata":{"labels":{"a":"1"}}}""", """{"metadata":{"labels":{"$patch":"delete"}}}""", Pod));
    }

    [Fact]
    public void Apply_PatchMerge_IsRefusedAsUpstreamDoes()
    {
        var inMap = Fails(500, () => Apply("""{"metadata":{"labels":{"a":"1"}}}""", """{"metadata":{"labels":{"$patch":"merge","b":"2"}}}""", Pod));
        Assert.StartsWith("unknown patch type: merge in map: ", inMap.StatusMessage, StringComparison.Ordinal);
        Assert.Equal("", inMap.Reason);
        var inList = Fails(500, () => Apply("""{"spec":{"containers":[{"name":"a"}]}}""", """{"spec":{"containers":[{"$patch":"merge"}]}}""", Pod));
        Assert.Equal("merging lists cannot yet be specified in the patch", inList.StatusMessage);
    }

    [Fact]
    public void Apply_DeleteFromPrimitiveList_RemovesFinalizers()
    {
        var result = Apply(
            """{"metadata":{"finalizers":["a.io/x","b.io/y","c.io/z"]}}""",
            """{"metadata":{"$deleteFromPrimitiveList/finalizers":["b.io/y","not.there/q"]}}""",
            Service);
        Json("""{"metadata":{"finalizers":["a.io/x","c.io/z"]}}""", result);
    }

    [Fact]
    public void Apply_DeleteFromMissingPrimitiveList_AddsNothing()
    {
        // Upstream would store the deletion list as the finalizers here; a deletion must never add.
        Json("""{"metadata":{"name":"x"}}""", Apply("""{"metadata":{"name":"x"}}""", """{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}""", Service));
    }

    [Fact]
    public void Apply_Finalizers_UnionAsASet()
    {
        var result = Apply("""{"metadata":{"finalizers":["a","b"]}}""", """{"metadata":{"finalizers":["b","c"]}}""", Service);
        Json("""{"metadata":{"finalizers":["a","b","c"]}}""", result);
    }

    [Fact]
    public void Apply_SetElementOrder_ReordersContainers()
    {
        var result = Apply(
            """{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}]}}""",
            """{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"c"},{"name":"a"}],"containers":[{"name":"c","image":"c"}]}}""",
            Pod);
        Json("""{"spec":{"containers":[{"name":"b","image":"b"},{"name":"c","image":"c"},{"name":"a","image":"a"}]}}""", result);
    }

    [Fact]
    public void Apply_SetElementOrderNotMatchingPatchList_Is500LikeUpstream()
    {
        var error = Fails(500, () => Apply(
            """{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}""",
            """{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"b","image":"x"},{"name":"a","image":"y"}]}}""",
            Pod));
        Assert.Contains("doesn't match $setElementOrder list", error.StatusMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_RetainKeys_ClearsTheOtherMemberOfAUnion()
    {
        // What kubectl apply sends when a Deployment switches from RollingUpdate to Recreate.
        var result = Apply(
            """{"spec":{"replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}""",
            """{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}}""",
            Deployment);
        Json("""{"spec":{"replicas":2,"strategy":{"type":"Recreate"}}}""", result);
    }

    [Fact]
    public void Apply_RetainKeysInVolume_SwitchesTheVolumeSource()
    {
        var result = Apply(
            """{"spec":{"volumes":[{"name":"data","emptyDir":{}},{"name":"other","emptyDir":{}}]}}""",
            """{"spec":{"volumes":[{"name":"data","$retainKeys":["configMap","name"],"configMap":{"name":"cm"}}]}}""",
            Pod);
        Json("""{"spec":{"volumes":[{"name":"data","configMap":{"name":"cm"}},{"name":"other","emptyDir":{}}]}}""", result);
    }

    [Fact]
    public void Apply_RetainKeysNotListingAPatchedField_Is400()
    {
        var error = Fails(400, () => Apply("""{"spec":{"strategy":{"type":"A"}}}""", """{"spec":{"strategy":{"$retainKeys":["type"],"type":"B","other":1}}}""", Deployment));
        Assert.Equal("invalid patch format of retainKeys", error.StatusMessage);
    }

    [Fact]
    public void Apply_ServicePorts_TcpAndUdpOnOnePortCollapse()
    {
        // Upstream bug #39188 (still open): spec.ports merges by port alone, so adding UDP 53 next to TCP 53 overwrites
        // the TCP entry instead of adding one. Matched on purpose; server-side apply keys on port+protocol.
        var result = Apply(
            """{"spec":{"ports":[{"name":"dns-tcp","port":53,"protocol":"TCP","targetPort":53}]}}""",
            """{"spec":{"ports":[{"name":"dns-udp","port":53,"protocol":"UDP"}]}}""",
            Service);
        Json("""{"spec":{"ports":[{"name":"dns-udp","port":53,"protocol":"UDP","targetPort":53}]}}""", result);
    }

    [Fact]
    public void Apply_ServicePorts_PatchForUdpLandsOnTheFirstPort53()
    {
        var result = Apply(
            """{"spec":{"ports":[{"name":"tcp","port":53,"protocol":"TCP"},{"name":"udp","port":53,"protocol":"UDP"}]}}""",
            """{"spec":{"ports":[{"port":53,"protocol":"UDP","targetPort":5353}]}}""",
            Service);
        Json("""{"spec":{"ports":[{"name":"tcp","port":53,"protocol":"UDP","targetPort":5353},{"name":"udp","port":53,"protocol":"UDP"}]}}""", result);
    }

    [Fact]
    public void Apply_KubectlApplyLabelChange()
    {
        // kubectl apply's three-way patch for labels {app: web, tier: fe, old: x} → {app: web, tier: be, env: prod}:
        // changed and new labels are set, the dropped one is null, untouched ones and labels others added stay.
        var result = Apply(
            """{"metadata":{"name":"web","labels":{"app":"web","tier":"fe","old":"x","added-by":"controller"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},"spec":{"ports":[{"port":80}]}}""",
            """{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"new\":true}\n"},"labels":{"env":"prod","old":null,"tier":"be"}}}""",
            Service);
        Json("""{"metadata":{"name":"web","labels":{"app":"web","tier":"be","env":"prod","added-by":"controller"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"new\":true}\n"}},"spec":{"ports":[{"port":80}]}}""", result);
    }

    [Fact]
    public void Apply_NullDeletesALabel()
    {
        Json("""{"metadata":{"labels":{"b":"2"}}}""", Apply("""{"metadata":{"labels":{"a":"1","b":"2"}}}""", """{"metadata":{"labels":{"a":null,"zz":null}}}""", Pod));
    }

    [Fact]
    public void Apply_UntaggedList_IsReplaced()
    {
        var result = Apply(
            """{"spec":{"tolerations":[{"key":"a","operator":"Exists"}]}}""",
            """{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}""",
            Pod);
        Json("""{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}""", result);
    }

    [Fact]
    public void Apply_NewFieldsAreTakenWithoutNullsOrDirectives()
    {
        var result = Apply(
            """{"spec":{}}""",
            """{"spec":{"affinity":{"nodeAffinity":null,"podAffinity":{"$patch":"replace","x":1}}}}""",
            Pod);
        Json("""{"spec":{"affinity":{"podAffinity":{"x":1}}}}""", result);
    }

    [Fact]
    public void Apply_MissingMergeKey_Is500WithUpstreamsText()
    {
        var error = Fails(500, () => Apply("""{"spec":{"containers":[{"name":"a"}]}}""", """{"spec":{"containers":[{"image":"x"}]}}""", Pod));
        Assert.Equal("map: map[image:x] does not contain declared merge key: name", error.StatusMessage);
        Assert.Equal("", error.Reason);
    }

    [Fact]
    public void Apply_ListOfLists_Is422()
    {
        Fails(422, () => Apply("""{"metadata":{"finalizers":[]}}""", """{"metadata":{"finalizers":[["b"]]}}""", Pod));
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("\"x\"")]
    [InlineData("3")]
    public void Apply_BodyThatIsNotAnObject_Is400(string body)
    {
        var error = Fails(400, () => Apply("{}", body, Pod));
        Assert.Contains("into Go value of type map[string]interface {}", error.StatusMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_NullBody_IsAnEmptyPatchAsUpstreamDecodesIt() => Json("""{"a":1}""", Apply("""{"a":1}""", "null", Pod));

    [Theory]
    [InlineData("""{"$deleteFromPrimitiveListfinalizers":["a"]}""", "invalid patch format of primitive list")]
    [InlineData("""{"$setElementOrderContainers":[]}""", "invalid patch format of setElementOrder list")]
    [InlineData("""{"$retainKeys":"name"}""", "invalid patch format of retainKeys")]
    public void Apply_MalformedDirective_Is400(string patch, string message)
    {
        Assert.Equal(message, Fails(400, () => Apply("""{"finalizers":["a"]}""", patch, Pod)).StatusMessage);
    }

    [Fact]
    public void Apply_DoesNotChangeInputs()
    {
        var document = J("""{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"}]}]}}""");
        var patch = J("""{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],"containers":[{"name":"b","image":"b"},{"name":"a","env":[{"name":"Y","value":"2"}]}]}}""");
        var (before, patchBefore) = (document.ToJsonString(), patch.ToJsonString());

        var result = StrategicMergePatch.Apply(document, patch, Pod);

        Json("""{"spec":{"containers":[{"name":"b","image":"b"},{"name":"a","env":[{"name":"Y","value":"2"},{"name":"X","value":"1"}]}]}}""", result);
        Assert.Equal(before, document.ToJsonString());
        Assert.Equal(patchBefore, patch.ToJsonString());
    }

    [Fact]
    public void Apply_DeepPatch_Is400()
    {
        var body = string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000);
        Fails(400, () => Apply("{}", body, Pod));
    }

    [Fact]
    public void Apply_HugeListMerge_StaysLinear()
    {
        // 20k live env vars, 20k deletions and 20k additions: quadratic matching would take minutes.
        const int n = 20_000;
        var live = new JsonArray();
        var patch = new JsonArray();
        for (var i = 0; i < n; i++)
        {
            live.Add(new JsonObject { ["name"] = "L" + i, ["value"] = "v" });
            patch.Add(new JsonObject { ["name"] = "L" + i, ["$patch"] = "delete" });
            patch.Add(new JsonObject { ["name"] = "N" + i, ["value"] = "w" });
        }
        var document = new JsonObject { ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "a", ["env"] = live }) } };
        var body = new JsonObject { ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "a", ["env"] = patch }) } };

        var result = StrategicMergePatch.Apply(document, body, Pod);

        var env = result["spec"]!["containers"]![0]!["env"]!.AsArray();
        Assert.Equal(n, env.Count);
        Assert.Equal("N0", (string)env[0]!["name"]!);
    }
}
