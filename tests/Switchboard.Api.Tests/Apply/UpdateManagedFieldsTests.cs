using System.Text.Json.Nodes;
using Switchboard.Api.Apply;
using static Switchboard.Api.Tests.Apply.ApplyFixtures;

namespace Switchboard.Api.Tests.Apply;

/// <summary>Ownership after non-apply writes: create, update, patch and status writes.</summary>
public class UpdateManagedFieldsTests
{
    private static readonly JsonObject TestCm = J("""
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"test-cm","namespace":"default","labels":{"test-label":"test"}},
         "data":{"key":"some value"}}
        """);

    [Fact]
    public void Create_OwnsEverythingSet_MapsAddedWithTheirDot()
    {
        var managed = ConfigMaps.UpdateManagedFields(null, TestCm, "kubectl-create", "Update", "v1", T1);

        // What kube-apiserver records for `kubectl create configmap`: maps that appear get ".", struct fields do not.
        Json("""
            [{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2019-03-30T15:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{".":{},"f:key":{}},"f:metadata":{"f:labels":{".":{},"f:test-label":{}}}}}]
            """, managed);
    }

    [Fact]
    public void Update_SsaDocTwoManagers_ChangedFieldMovesToTheUpdater()
    {
        // server-side-apply.md "An example object with multiple managers": kubectl applied, the controller updated data.key.
        var applied = ConfigMaps.Apply(null, TestCm, "kubectl", force: false, "v1", T1);
        var updated = applied.DeepClone().AsObject();
        updated["data"]!["key"] = "new value";

        var managed = ConfigMaps.UpdateManagedFields(applied, updated, "kube-controller-manager", "Update", "v1", T2);

        Json("""
            [{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2019-03-30T15:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{"f:test-label":{}}}}},
             {"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2019-03-30T16:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{"f:key":{}}}}]
            """, managed);
    }

    [Fact]
    public void Update_NothingChanged_KeepsEntriesAndTimes()
    {
        var live = WithManagedFields(TestCm, ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Update", "v1", T1));

        var managed = ConfigMaps.UpdateManagedFields(live, live.DeepClone().AsObject(), "b", "Update", "v1", T2);

        Assert.True(JsonNode.DeepEquals(live["metadata"]!["managedFields"], managed));
    }

    [Fact]
    public void Update_SameManagerAgain_MergesIntoOneEntryWithNewTime()
    {
        var live = WithManagedFields(TestCm, ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Update", "v1", T1));
        var updated = live.DeepClone().AsObject();
        updated["data"]!["other"] = "x";

        var managed = ConfigMaps.UpdateManagedFields(live, updated, "a", "Update", "v1", T2);

        var entry = Assert.Single(managed)!;
        Assert.Equal("2019-03-30T16:00:00Z", (string?)entry["time"]);
        Json("""{"f:data":{".":{},"f:key":{},"f:other":{}},"f:metadata":{"f:labels":{".":{},"f:test-label":{}}}}""", entry["fieldsV1"]);
    }

    [Fact]
    public void Update_RemovedField_LeavesEveryOwner_EmptyEntriesDropped()
    {
        var live = WithManagedFields(TestCm, ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Update", "v1", T1));
        var updated = live.DeepClone().AsObject();
        updated.Remove("data");
        updated["metadata"]!.AsObject().Remove("labels");

        var managed = ConfigMaps.UpdateManagedFields(live, updated, "b", "Update", "v1", T2);

        Assert.Empty(managed);
    }

    [Fact]
    public void Update_ResetManagedFields_ClearsThenRecordsTheRequestsChanges()
    {
        var live = WithManagedFields(TestCm, ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Update", "v1", T1));
        var updated = live.DeepClone().AsObject();
        updated["metadata"]!["managedFields"] = J("""{"x":[{}]}""")["x"]!.DeepClone();
        updated["data"]!["key"] = "changed";

        var managed = ConfigMaps.UpdateManagedFields(live, updated, "b", "Update", "v1", T2);

        var entry = Assert.Single(managed)!;
        Assert.Equal("b", (string?)entry["manager"]);
        Json("""{"f:data":{"f:key":{}}}""", entry["fieldsV1"]);
    }

    [Fact]
    public void Update_EmptyManagedFieldsInRequest_KeepsLiveOnes()
    {
        var live = WithManagedFields(TestCm, ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Update", "v1", T1));
        var updated = live.DeepClone().AsObject();
        updated["metadata"]!["managedFields"] = new JsonArray();

        var managed = ConfigMaps.UpdateManagedFields(live, updated, "b", "Update", "v1", T2);

        Assert.Equal(["a/Update"], Managers(J("""{"metadata":{}}""").Also(o => o["metadata"]!["managedFields"] = managed)));
    }

    [Fact]
    public void Update_StatusSubresource_OwnsOnlyStatus_RecordedAsSubresource()
    {
        var svc = J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"LoadBalancer"}}""");
        var live = WithManagedFields(svc, Services.UpdateManagedFields(null, svc, "kubectl-create", "Update", "v1", T1));
        var updated = live.DeepClone().AsObject();
        updated["status"] = J("""{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}""");

        var managed = Services.UpdateManagedFields(live, updated, "switchboard-lb", "Update", "v1", T2, "status");

        var entry = managed.Single(e => (string?)e!["manager"] == "switchboard-lb")!;
        Assert.Equal("status", (string?)entry["subresource"]);
        Json("""{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}""", entry["fieldsV1"]);
    }

    [Fact]
    public void Update_MainResourceWithStatusSubresource_NeverOwnsStatus()
    {
        var svc = J("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{}}}""");

        var managed = Services.UpdateManagedFields(null, svc, "kubectl-create", "Update", "v1", T1);

        Json("""{"f:spec":{"f:type":{}}}""", Assert.Single(managed)!["fieldsV1"]);
    }

    [Fact]
    public void Update_NeverConflicts_TakesAnAppliedField()
    {
        var svc = Service("""[{"port":80,"targetPort":8080}]""");
        var applied = Services.Apply(null, svc, "a", force: false, "v1", T1);
        var updated = applied.DeepClone().AsObject();
        updated["spec"]!["ports"]![0]!["targetPort"] = 9090;

        var managed = Services.UpdateManagedFields(applied, updated, "other", "Update", "v1", T2);

        var obj = WithManagedFields(updated, managed);
        Json("""{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{"f:targetPort":{}}}}}""", Fields(obj, "other", "Update"));
        Json("""{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}}}}""", Fields(obj, "a"));
    }

    [Fact]
    public void Update_ElevenUpdaters_OldestMergedIntoAncientChanges()
    {
        var live = J("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{}}""");
        for (var i = 0; i < 11; i++)
        {
            var updated = live.DeepClone().AsObject();
            updated["data"]!["k" + i] = "v";
            live = WithManagedFields(updated, ConfigMaps.UpdateManagedFields(live, updated, "m" + i, "Update", "v1", T1.AddMinutes(i)));
        }

        var managers = Managers(live);
        Assert.Equal(10, managers.Length);
        Assert.Contains("ancient-changes/Update", managers);
        Assert.DoesNotContain("m0/Update", managers);
        Assert.DoesNotContain("m1/Update", managers);
        Json("""{"f:data":{"f:k0":{},"f:k1":{}}}""", Fields(live, "ancient-changes", "Update"));
    }

    [Fact]
    public void Update_OperationOtherThanUpdate_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => ConfigMaps.UpdateManagedFields(null, TestCm, "a", "Apply", "v1", T1));
    }
}

internal static class JsonObjectTestExtensions
{
    public static JsonObject Also(this JsonObject obj, Action<JsonObject> change)
    {
        change(obj);
        return obj;
    }
}
