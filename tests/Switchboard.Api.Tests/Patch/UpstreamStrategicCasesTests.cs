using System.Text.Json.Nodes;
using Switchboard.Api.Patch;
using static Switchboard.Api.Tests.Patch.PatchAssert;

namespace Switchboard.Api.Tests.Patch;

/// <summary>
/// Inputs and expected results from upstream's strategicpatch tests (k8s.io/apimachinery/pkg/util/strategicpatch,
/// patch_test.go), run against the same recursive test type: MergeItem, whose <c>mergingList</c> merges by
/// <c>name</c>, <c>mergingIntList</c> merges as a set and <c>nonMergingList</c> is replaced. Where upstream has a
/// three-way case we apply its three-way patch to its "current" object.
/// </summary>
public class UpstreamStrategicCasesTests
{
    /// <summary>MergeItem's tags; the type is recursive, so only the last field name matters.</summary>
    private sealed class MergeItemMeta : IPatchMeta
    {
        public PatchFieldMeta ForField(string path) => path[(path.LastIndexOf('.') + 1)..] switch
        {
            "mergingList" => new PatchFieldMeta("merge", "name"),
            "mergingIntList" => new PatchFieldMeta("merge", null),
            "mergeItemPtr" => new PatchFieldMeta("merge", "name"),
            "replacingItem" => new PatchFieldMeta("replace", null),
            "retainKeysMap" => new PatchFieldMeta("retainKeys", null),
            "retainKeysMergingList" => new PatchFieldMeta("merge,retainKeys", "name"),
            _ => PatchFieldMeta.None,
        };
    }

    private static JsonNode Apply(string current, string patch) => StrategicMergePatch.Apply(J(current), J(patch), new MergeItemMeta());

    [Theory]
    [InlineData("unique scalars when merging lists",
        """{"mergingIntList":[1,2]}""", """{"mergingIntList":[2,3]}""", """{"mergingIntList":[1,2,3]}""")]
    [InlineData("delete map from nested map",
        """{"simpleMap":{"key1":1,"key2":1}}""", """{"simpleMap":{"$patch":"delete"}}""", """{"simpleMap":{}}""")]
    [InlineData("delete all items from merging list",
        """{"mergingList":[{"name":1},{"name":2}]}""", """{"mergingList":[{"$patch":"replace"}]}""", """{"mergingList":[]}""")]
    [InlineData("merge empty merging lists",
        """{"mergingList":[]}""", """{"mergingList":[]}""", """{"mergingList":[]}""")]
    [InlineData("delete all keys from map",
        """{"name":1,"value":1}""", """{"$patch":"replace"}""", """{}""")]
    [InlineData("add key and delete all keys from map",
        """{"name":1,"value":1}""", """{"other":"a","$patch":"replace"}""", """{"other":"a"}""")]
    [InlineData("de-duplicate entries in a merging list",
        """{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}""",
        """{"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]}""",
        """{"mergingList":[{"name":1},{"name":2,"value":"a"},{"name":3}]}""")]
    [InlineData("delete all duplicate entries in a merging list",
        """{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}""",
        """{"mergingList":[{"name":1,"$patch":"delete"},{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"},{"name":3,"$patch":"delete"}]}""",
        """{"mergingList":[{"name":2,"value":"a"}]}""")]
    [InlineData("retainKeys map can delete a field when no retainKeys directive present",
        """{"retainKeysMap":{"name":"foo","value":"a"}}""", """{"retainKeysMap":{"value":null}}""", """{"retainKeysMap":{"name":"foo"}}""")]
    [InlineData("retainKeys list can change a field when no retainKeys directive present",
        """{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}""",
        """{"retainKeysMergingList":[{"name":"foo","value":"b"}]}""",
        """{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"b"}]}""")]
    [InlineData("preserve the order from the patch in a merging list",
        """{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}""",
        """{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]}""",
        """{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]}""")]
    [InlineData("preserve the order from the patch in a merging list 2",
        """{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}""",
        """{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]}""",
        """{"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]}""")]
    [InlineData("preserve the order from the patch in a merging int list",
        """{"mergingIntList":[1,2,3]}""", """{"mergingIntList":[3,1]}""", """{"mergingIntList":[2,3,1]}""")]
    [InlineData("$setElementOrder contains item that is not present in the list to be merged",
        """{"mergingList":[{"name":1},{"name":3}]}""",
        """{"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}""",
        """{"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}""")]
    [InlineData("$setElementOrder contains item that is not present in the int list to be merged",
        """{"mergingIntList":[1,3]}""", """{"$setElementOrder/mergingIntList":[3,2,1]}""", """{"mergingIntList":[3,1]}""")]
    [InlineData("delete items in lists of scalars (three-way)",
        """{"mergingIntList":[1,2,3,4]}""",
        """{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}""",
        """{"mergingIntList":[1,2,4]}""")]
    [InlineData("delete all duplicate items in lists of scalars (three-way)",
        """{"mergingIntList":[1,2,3,3,4]}""",
        """{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}""",
        """{"mergingIntList":[1,2,4]}""")]
    [InlineData("merge lists of maps (three-way)",
        """{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}""",
        """{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}""",
        """{"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}""")]
    [InlineData("add field to map in merging list with conflict (three-way)",
        """{"mergingList":[{"name":1,"other":"a"},{"name":3,"value":2,"other":"b"}]}""",
        """{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}""",
        """{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2},{"name":3,"value":2,"other":"b"}]}""")]
    [InlineData("delete missing map from merging list with conflict (three-way)",
        """{"mergingList":[{"name":3,"other":"a"}]}""",
        """{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":2},{"name":1,"$patch":"delete"}]}""",
        """{"mergingList":[{"name":2},{"name":3,"other":"a"}]}""")]
    [InlineData("add map and delete map from merging list (three-way)",
        """{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]}""",
        """{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}""",
        """{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}""")]
    [InlineData("add map and delete map from merging list with conflict (three-way)",
        """{"mergingList":[{"name":1,"other":"a"},{"name":4,"other":"c"}]}""",
        """{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":2},{"name":3},{"name":1,"$patch":"delete"}]}""",
        """{"mergingList":[{"name":4,"other":"c"},{"name":2},{"name":3}]}""")]
    [InlineData("replace non merging list nested in merging list (three-way)",
        """{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]}""",
        """{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}""",
        """{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":1,"value":1}]},{"name":2,"other":"b"}]}""")]
    [InlineData("set elements order in a list with server-only items 2 (three-way)",
        """{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":9},{"name":3,"value":3},{"name":4,"value":4}]}""",
        """{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}""",
        """{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":9},{"name":4,"value":4},{"name":3,"value":3}]}""")]
    [InlineData("set elements order in a list with server-only items 3 (three-way)",
        """{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":7},{"name":9},{"name":8},{"name":3,"value":3},{"name":4,"value":4}]}""",
        """{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}""",
        """{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":7},{"name":9},{"name":8},{"name":4,"value":4},{"name":3,"value":3}]}""")]
    [InlineData("add and delete an item in a int list and preserve order (three-way)",
        """{"mergingIntList":[1,2,3]}""",
        """{"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4],"$deleteFromPrimitiveList/mergingIntList":[3]}""",
        """{"mergingIntList":[4,2,1]}""")]
    [InlineData("set elements order in a int list with server-only items 2 (three-way)",
        """{"mergingIntList":[1,2,9,3,4]}""", """{"$setElementOrder/mergingIntList":[2,1,4,3]}""", """{"mergingIntList":[2,1,9,4,3]}""")]
    [InlineData("behavior of set element order for a merging list with duplicate",
        """{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}""",
        """{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}""",
        """{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}""")]
    [InlineData("behavior of set element order for a merging int list with duplicate",
        """{"mergingIntList":[1,2,3,2,4]}""", """{"$setElementOrder/mergingIntList":[2,1,4,3,2]}""", """{"mergingIntList":[2,2,1,4,3]}""")]
    [InlineData("retainKeys map should clear defaulted field with conflict (three-way)",
        """{"retainKeysMap":{"name":"type1","value":"foo"}}""",
        """{"retainKeysMap":{"$retainKeys":["name","other"],"name":"type2","other":"bar"}}""",
        """{"retainKeysMap":{"name":"type2","other":"bar"}}""")]
    [InlineData("retainKeys map adds a field in a nested map (three-way)",
        """{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a","key3":"c"}}}""",
        """{"retainKeysMap":{"$retainKeys":["name","simpleMap","value"],"simpleMap":{"key2":"b"}}}""",
        """{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a","key2":"b","key3":"c"}}}""")]
    [InlineData("delete duplicate field in merging list",
        """{"mergingList":[{"name":1},{"name":1}]}""", """{"mergingList":{}}""", """{"mergingList":{}}""")]
    [InlineData("defined null values should propagate overwrite current fields (with conflict)",
        """{"name":"a","other":"a"}""", """{"name":1,"value":1,"other":null}""", """{"name":1,"value":1}""")]
    public void Apply_UpstreamCase(string description, string current, string patch, string expected)
    {
        Assert.NotEmpty(description);
        Json(expected, Apply(current, patch));
    }

    [Theory]
    [InlineData("should check if order in $setElementOrder and patch list match",
        """{"mergingList":[{"name":1},{"name":3},{"name":2}]}""",
        """{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}""",
        "doesn't match")]
    [InlineData("should check if order in $setElementOrder and patch int list match",
        """{"mergingIntList":[1,3,2]}""",
        """{"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]}""",
        "doesn't match")]
    [InlineData("missing merge key should error out",
        """{"mergingList":[{"name":1,"value":"a"}]}""", """{"mergingList":[{"value":"b"}]}""",
        "does not contain declared merge key")]
    public void Apply_UpstreamErrorCase(string description, string current, string patch, string expected)
    {
        Assert.NotEmpty(description);
        var error = Fails(500, () => Apply(current, patch));
        Assert.Contains(expected, error.StatusMessage, StringComparison.Ordinal);
    }
}
