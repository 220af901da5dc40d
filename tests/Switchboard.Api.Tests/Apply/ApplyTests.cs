using System.Text.Json.Nodes;
using Switchboard.Api.Apply;
using static Switchboard.Api.Tests.Apply.ApplyFixtures;

namespace Switchboard.Api.Tests.Apply;

/// <summary>Server-side apply: merge, ownership, conflicts, force and removal of dropped fields.</summary>
public class ApplyTests
{
    /// <summary>The FieldsV1 of spec.ports[port=80,protocol=TCP] holding <paramref name="item"/>.</summary>
    private static string Port80(string item) => """{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":""" + item + "}}}";

    [Fact]
    public void Apply_NewObject_IsTheConfigurationWithOneApplyEntry()
    {
        var svc = Service("""[{"port":80,"targetPort":8080}]""");

        var result = Services.Apply(null, svc, "kubectl", force: false, "v1", T1);

        Assert.Equal(8080, (int)result["spec"]!["ports"]![0]!["targetPort"]!);
        Json("""
            [{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2019-03-30T15:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}}}}}}]
            """, result["metadata"]!["managedFields"]);
        Assert.False(svc["metadata"]!.AsObject().ContainsKey("managedFields"));
    }

    [Fact]
    public void Apply_SameConfigurationAgain_ChangesNothing()
    {
        var svc = Service("""[{"port":80,"targetPort":8080}]""");
        var live = Services.Apply(null, svc, "kubectl", force: false, "v1", T1);

        var again = Services.Apply(live, svc, "kubectl", force: false, "v1", T2);

        Assert.True(JsonNode.DeepEquals(live, again), again.ToJsonString());
    }

    [Fact]
    public void Apply_OtherManagerChangesAppliedValue_ConflictsLikeUpstream()
    {
        var live = Services.Apply(null, Service("""[{"port":80,"targetPort":8080}]"""), "a", force: false, "v1", T1);

        var e = Assert.Throws<ApplyConflictException>(() =>
            Services.Apply(live, Service("""[{"port":80,"protocol":"TCP","targetPort":9090}]"""), "b", force: false, "v1", T2));

        Assert.Equal("""Apply failed with 1 conflict: conflict with "a": .spec.ports[port=80,protocol="TCP"].targetPort""", e.Message);
        var conflict = Assert.Single(e.Conflicts);
        Assert.Equal("""conflict with "a" """.TrimEnd(), conflict.Message);
        Assert.Equal(""".spec.ports[port=80,protocol="TCP"].targetPort""", conflict.Field);
        Assert.Equal("a", conflict.Manager);
    }

    [Fact]
    public void Apply_Force_TakesTheFieldFromTheOtherManager()
    {
        var live = Services.Apply(null, Service("""[{"port":80,"targetPort":8080}]"""), "a", force: false, "v1", T1);

        var result = Services.Apply(live, Service("""[{"port":80,"targetPort":9090}]"""), "b", force: true, "v1", T2);

        Assert.Equal(9090, (int)result["spec"]!["ports"]![0]!["targetPort"]!);
        Json(Port80("""{".":{},"f:port":{},"f:targetPort":{}}"""), Fields(result, "b"));
        Json(Port80("""{".":{},"f:port":{}}"""), Fields(result, "a"));
    }

    [Fact]
    public void Apply_SameValue_SharesOwnership_AndTheOtherKeepsItWhenOneDropsIt()
    {
        var a = Service("""[{"port":80,"targetPort":8080}]""");
        var live = Services.Apply(null, a, "a", force: false, "v1", T1);
        live = Services.Apply(live, a, "b", force: false, "v1", T2);
        Json(Port80("""{".":{},"f:port":{},"f:targetPort":{}}"""), Fields(live, "b"));

        var result = Services.Apply(live, Service("""[{"port":80}]"""), "a", force: false, "v1", T3);

        Assert.Equal(8080, (int)result["spec"]!["ports"]![0]!["targetPort"]!);
        Json(Port80("""{".":{},"f:port":{}}"""), Fields(result, "a"));
    }

    [Fact]
    public void Apply_ChangingAFieldAnUpdaterOwns_ConflictNamesItsVersion()
    {
        var created = Service("""[{"port":80,"targetPort":8080}]""");
        var live = WithManagedFields(created, Services.UpdateManagedFields(null, created, "other", "Update", "v1", T1));

        var e = Assert.Throws<ApplyConflictException>(() =>
            Services.Apply(live, Service("""[{"port":80,"targetPort":9090}]"""), "mine", force: false, "v1", T2));

        Assert.Equal("""Apply failed with 1 conflict: conflict with "other" using v1: .spec.ports[port=80,protocol="TCP"].targetPort""", e.Message);
        Assert.Equal("""conflict with "other" using v1""", Assert.Single(e.Conflicts).Message);
    }

    [Fact]
    public void Apply_SeveralConflicts_OneLinePerFieldUnderEachManager()
    {
        var cm = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1","b":"1"}}}""");
        var live = ConfigMaps.Apply(null, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1"}}}"""), "x", false, "v1", T1);
        var withB = live.DeepClone().AsObject();
        withB["metadata"]!["labels"]!["b"] = "1";
        live = WithManagedFields(withB, ConfigMaps.UpdateManagedFields(live, withB, "y", "Update", "v1", T2));
        cm["metadata"]!["labels"]!["a"] = "2";
        cm["metadata"]!["labels"]!["b"] = "2";

        var e = Assert.Throws<ApplyConflictException>(() => ConfigMaps.Apply(live, cm, "z", force: false, "v1", T3));

        Assert.Equal("Apply failed with 2 conflicts: conflicts with \"x\":\n- .metadata.labels.a\nconflicts with \"y\" using v1:\n- .metadata.labels.b", e.Message);
        Assert.Equal(2, e.Conflicts.Count);
    }

    [Fact]
    public void Apply_SeveralConflictsWithOneManager_ListedInUpstreamOrder()
    {
        var created = J("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1"}]}}}}
            """);
        var live = WithManagedFields(created, Deployments.UpdateManagedFields(null, created, "kubectl-create", "Update", "apps/v1", T1));
        var config = created.DeepClone().AsObject();
        config["spec"]!["replicas"] = 2;
        config["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = "nginx:2";

        var e = Assert.Throws<ApplyConflictException>(() => Deployments.Apply(live, config, "kubectl", false, "apps/v1", T2));

        Assert.Equal("Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image", e.Message);
    }

    [Fact]
    public void Apply_FieldDroppedFromConfiguration_IsRemoved()
    {
        var live = ConfigMaps.Apply(null, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1","b":"2"}},"data":{"x":"1"}}"""), "a", false, "v1", T1);

        var result = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1"}}}"""), "a", false, "v1", T2);

        Json("""{"a":"1"}""", result["metadata"]!["labels"]);
        Assert.False(result.ContainsKey("data"));
        Json("""{"f:metadata":{"f:labels":{"f:a":{}}}}""", Fields(result, "a"));
        Assert.Equal("2019-03-30T16:00:00Z", (string?)Entry(result, "a")!["time"]);
    }

    [Fact]
    public void Apply_FieldDroppedButOwnedByAnother_Stays()
    {
        var both = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1","b":"2"}}}""");
        var live = ConfigMaps.Apply(null, both, "a", false, "v1", T1);
        live = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"b":"2"}}}"""), "b", false, "v1", T2);

        var result = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1"}}}"""), "a", false, "v1", T3);

        Json("""{"a":"1","b":"2"}""", result["metadata"]!["labels"]);
        Json("""{"f:metadata":{"f:labels":{"f:b":{}}}}""", Fields(result, "b"));
    }

    [Fact]
    public void Apply_FieldSetByAnUpdater_IsNotRemovedByTheApplier()
    {
        var live = ConfigMaps.Apply(null, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"""), "a", false, "v1", T1);
        var updated = live.DeepClone().AsObject();
        updated["data"]!["b"] = "2";
        live = WithManagedFields(updated, ConfigMaps.UpdateManagedFields(live, updated, "editor", "Update", "v1", T2));

        var result = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"""), "a", false, "v1", T3);

        Json("""{"b":"2"}""", result["data"]);
        Assert.Null(Entry(result, "a"));
    }

    [Fact]
    public void Apply_ListItemDropped_IsRemoved()
    {
        var live = Services.Apply(null, Service("""[{"port":80},{"port":443}]"""), "a", false, "v1", T1);

        var result = Services.Apply(live, Service("""[{"port":80}]"""), "a", false, "v1", T2);

        Json("""[{"port":80}]""", result["spec"]!["ports"]);
    }

    [Fact]
    public void Apply_StructDropped_IsRemovedWhole()
    {
        var live = Services.Apply(null, J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"ClusterIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10}}}}"""), "a", false, "v1", T1);

        var result = Services.Apply(live, J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"ClusterIP"}}"""), "a", false, "v1", T2);

        Json("""{"type":"ClusterIP"}""", result["spec"]);
    }

    [Fact]
    public void Apply_ServicePorts_KeyedByPortAndProtocolUnlikeStrategicMerge()
    {
        var live = Services.Apply(null, Service("""[{"port":53,"protocol":"UDP","name":"dns"}]"""), "a", false, "v1", T1);

        var result = Services.Apply(live, Service("""[{"port":53,"protocol":"TCP","name":"dns-tcp"}]"""), "b", false, "v1", T2);

        Json("""[{"port":53,"protocol":"UDP","name":"dns"},{"port":53,"protocol":"TCP","name":"dns-tcp"}]""", result["spec"]!["ports"]);
        Json("""{"f:spec":{"f:ports":{"k:{\"port\":53,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{}}}}}""", Fields(result, "b"));
    }

    [Fact]
    public void Apply_Containers_MergeByNameAndEachManagerKeepsItsOwn()
    {
        var app = J("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"app:1"}]}}}}
            """);
        var sidecar = J("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"proxy:1"}]}}}}
            """);
        var live = Deployments.Apply(null, app, "a", false, "apps/v1", T1);
        live = Deployments.Apply(live, sidecar, "b", false, "apps/v1", T2);

        var result = Deployments.Apply(live, app, "a", false, "apps/v1", T3);

        Json("""[{"name":"app","image":"app:1"},{"name":"sidecar","image":"proxy:1"}]""", result["spec"]!["template"]!["spec"]!["containers"]);
        Json("""{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{}}}}}}}""", Fields(result, "b"));
    }

    [Fact]
    public void Apply_ContainerOrder_FollowsTheConfigurationForItemsItMentions()
    {
        var live = Pods.Apply(null, J("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"a"},{"name":"x","image":"x"},{"name":"b","image":"b"}]}}"""), "m", false, "v1", T1);

        var result = Pods.Apply(live, J("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"b","image":"b"},{"name":"a","image":"a"},{"name":"x","image":"x"}]}}"""), "m", false, "v1", T2);

        Assert.Equal(["b", "a", "x"], result["spec"]!["containers"]!.AsArray().Select(c => (string)c!["name"]!).ToArray());
    }

    [Fact]
    public void Apply_Finalizers_AreASetUnionedAcrossManagers()
    {
        var live = ConfigMaps.Apply(null, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["example.com/a"]}}"""), "a", false, "v1", T1);
        live = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["example.com/b"]}}"""), "b", false, "v1", T2);
        Json("""["example.com/a","example.com/b"]""", live["metadata"]!["finalizers"]);

        var result = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":[]}}"""), "a", false, "v1", T3);

        Json("""["example.com/b"]""", result["metadata"]!["finalizers"]);
    }

    [Fact]
    public void Apply_AtomicList_ReplacedWholeAndOwnedByOne()
    {
        static JsonObject WithArgs(string args) => J($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"app","args":{{{args}}}}]}}
            """);
        var live = Pods.Apply(null, WithArgs("""["--a","--b"]"""), "a", false, "v1", T1);

        var e = Assert.Throws<ApplyConflictException>(() => Pods.Apply(live, WithArgs("""["--c"]"""), "b", false, "v1", T2));
        Assert.Equal(""".spec.containers[name="app"].args""", Assert.Single(e.Conflicts).Field);

        var result = Pods.Apply(live, WithArgs("""["--c"]"""), "b", true, "v1", T2);
        Json("""["--c"]""", result["spec"]!["containers"]![0]!["args"]);
        Json("""{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}""", Fields(result, "a"));
    }

    [Fact]
    public void Apply_StatusInMainResourceConfiguration_IsNotOwned()
    {
        var svc = J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}""");

        var result = Services.Apply(null, svc, "a", false, "v1", T1);

        Json("""{"f:spec":{"f:type":{}}}""", Fields(result, "a"));
    }

    [Fact]
    public void Apply_StatusSubresource_OwnsOnlyStatusAsSubresourceEntry()
    {
        var live = Services.Apply(null, J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"LoadBalancer"}}"""), "a", false, "v1", T1);

        var result = Services.Apply(live, J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"NodePort"},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}"""),
            "lb", false, "v1", T2, subresource: "status");

        var entry = Entry(result, "lb")!;
        Assert.Equal("status", (string?)entry["subresource"]);
        Json("""{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}""", entry["fieldsV1"]);
    }

    [Fact]
    public void Apply_ObjectWithoutManagedFields_IsFirstOwnedByBeforeFirstApply()
    {
        var live = Service("""[{"port":80,"targetPort":8080}]""");

        var e = Assert.Throws<ApplyConflictException>(() => Services.Apply(live, Service("""[{"port":80,"targetPort":9090}]"""), "a", false, "v1", T1));
        Assert.Equal("""Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .spec.ports[port=80,protocol="TCP"].targetPort""", e.Message);

        var result = Services.Apply(live, Service("""[{"port":80,"targetPort":8080}]"""), "a", false, "v1", T1);
        Assert.Equal(["a/Apply", "before-first-apply/Update"], Managers(result));
    }

    [Fact]
    public void Apply_KubectlAfterClientSideApply_UpgradesWithoutConflictAndKeepsTheAnnotation()
    {
        var lastApplied = """{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"c","namespace":"default"}}""" + "\n";
        var created = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","annotations":{}},"data":{"a":"1"}}""");
        created["metadata"]!["annotations"]![FieldManager.LastAppliedAnnotation] = lastApplied;
        var live = WithManagedFields(created, ConfigMaps.UpdateManagedFields(null, created, "kubectl-client-side-apply", "Update", "v1", T1));
        var config = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"},"data":{"a":"2"}}""");

        Assert.Throws<ApplyConflictException>(() => ConfigMaps.Apply(live, config, "someone-else", false, "v1", T2));
        var result = ConfigMaps.Apply(live, config, "kubectl", false, "v1", T2);

        Assert.Equal("2", (string?)result["data"]!["a"]);
        Json("""{"f:data":{"f:a":{}}}""", Fields(result, "kubectl"));
        Assert.Equal("""{"apiVersion":"v1","data":{"a":"2"},"kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}""" + "\n",
            (string?)result["metadata"]!["annotations"]![FieldManager.LastAppliedAnnotation]);
    }

    [Fact]
    public void Apply_KubectlAfterClientSideApply_FieldChangedByAnotherClientStillConflicts()
    {
        var lastApplied = """{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"name":"c"}}""";
        var created = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","annotations":{}},"data":{"a":"1"}}""");
        created["metadata"]!["annotations"]![FieldManager.LastAppliedAnnotation] = lastApplied;
        var live = WithManagedFields(created, ConfigMaps.UpdateManagedFields(null, created, "kubectl-client-side-apply", "Update", "v1", T1));
        var edited = live.DeepClone().AsObject();
        edited["data"]!["a"] = "5";
        live = WithManagedFields(edited, ConfigMaps.UpdateManagedFields(live, edited, "kubectl-edit", "Update", "v1", T2));

        var e = Assert.Throws<ApplyConflictException>(() =>
            ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"2"}}"""), "kubectl", false, "v1", T3));

        Assert.Equal("""Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a""", e.Message);
    }

    [Fact]
    public void Apply_ManagedFieldsInBody_IsRefused()
    {
        var svc = Service("[]", extraMetadata: ""","managedFields":[]""");

        var e = Assert.Throws<ApplyRequestException>(() => Services.Apply(null, svc, "a", false, "v1", T1));

        Assert.Equal(400, e.StatusCode);
        Assert.Equal("metadata.managedFields must be nil", e.Message);
    }

    [Theory]
    [InlineData("v1", "ConfigMap", "invalid object type: /v1, Kind=ConfigMap")]
    [InlineData("apps/v1", "Service", "invalid object type: apps/v1, Kind=Service")]
    [InlineData(null, null, "invalid object type: /, Kind=")]
    public void Apply_WrongApiVersionOrKind_IsRefused(string? apiVersion, string? kind, string message)
    {
        var obj = J("""{"metadata":{"name":"web"}}""");
        if (apiVersion is not null)
        {
            obj["apiVersion"] = apiVersion;
            obj["kind"] = kind;
        }

        var e = Assert.Throws<ApplyRequestException>(() => Services.Apply(null, obj, "a", false, "v1", T1));

        Assert.Equal(400, e.StatusCode);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Apply_ListMapItemWithoutKey_IsUpstreamsTypedPatchError()
    {
        var e = Assert.Throws<ApplyRequestException>(() => Services.Apply(null, Service("""[{"targetPort":80}]"""), "a", false, "v1", T1));

        Assert.Equal(500, e.StatusCode);
        Assert.Equal("failed to create typed patch object (default/web; /v1, Kind=Service): .spec.ports: element 0: associative list with keys has an element that omits key field \"port\" (and doesn't have default value)", e.Message);
    }

    [Fact]
    public void Apply_DuplicateListMapKeys_AreRefused()
    {
        var e = Assert.Throws<ApplyRequestException>(() => Services.Apply(null, Service("""[{"port":80},{"port":80,"protocol":"TCP"}]"""), "a", false, "v1", T1));

        Assert.EndsWith(""".spec.ports: duplicate entries for key [port=80,protocol="TCP"]""", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_EmptyConfiguration_GivesUpEverythingTheManagerApplied()
    {
        var live = ConfigMaps.Apply(null, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1"}}}"""), "a", false, "v1", T1);

        var result = ConfigMaps.Apply(live, J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"""), "a", false, "v1", T2);

        Assert.False(result["metadata"]!.AsObject().ContainsKey("labels"));
        Assert.False(result["metadata"]!.AsObject().ContainsKey("managedFields"));
    }

    [Fact]
    public void Apply_InputsAreNotChanged()
    {
        var live = Services.Apply(null, Service("""[{"port":80,"targetPort":8080}]"""), "a", false, "v1", T1);
        var liveText = live.ToJsonString();
        var config = Service("""[{"port":443}]""");
        var configText = config.ToJsonString();

        _ = Services.Apply(live, config, "a", false, "v1", T2);

        Assert.Equal(liveText, live.ToJsonString());
        Assert.Equal(configText, config.ToJsonString());
    }
}
