using System.Text.Json.Nodes;
using k8s.Models;
using Switchboard.Api.Patch;
using static Switchboard.Api.Tests.Patch.PatchAssert;

namespace Switchboard.Api.Tests.Patch;

/// <summary>
/// Random patches built from the vocabulary that matters (directives, merge keys, nulls, nested lists) against a
/// realistic Pod: every outcome must be a result or a <see cref="PatchException"/>, never another exception.
/// </summary>
public class PatchRobustnessTests
{
    private const string Live = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"web"},"finalizers":["a/b","c/d"],
         "ownerReferences":[{"uid":"u1","kind":"ReplicaSet","name":"rs"}]},
         "spec":{"containers":[{"name":"app","image":"app:1","env":[{"name":"A","value":"1"},{"name":"B"}],
           "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":53,"protocol":"UDP"}]},{"name":"side","image":"s"}],
         "volumes":[{"name":"v","emptyDir":{}}],"tolerations":[{"key":"k"}]}}
        """;

    private static readonly string[] Keys =
    [
        "metadata", "spec", "labels", "finalizers", "ownerReferences", "containers", "env", "ports", "volumes", "name",
        "image", "value", "uid", "containerPort", "protocol", "tolerations", "emptyDir", "$patch", "$retainKeys",
        "$setElementOrder/containers", "$setElementOrder/env", "$setElementOrder/finalizers",
        "$deleteFromPrimitiveList/finalizers", "$deleteFromPrimitiveList/env", "$setElementOrder", "$deleteFromPrimitiveList",
    ];

    private static readonly string[] Strings = ["app", "side", "A", "B", "new", "delete", "replace", "merge", "a/b", "u1", ""];

    [Fact]
    public void StrategicMergePatch_RandomPatches_NeverThrowAnythingElse()
    {
        var random = new Random(39188);
        var meta = new SchemaPatchMeta(SchemaPatchMetaTests.Schemas, typeof(V1Pod));
        for (var i = 0; i < 3000; i++)
        {
            var patch = RandomObject(random, 0);
            Survives(() => StrategicMergePatch.Apply(J(Live), patch, meta), patch);
        }
        BothOutcomesSeen();
    }

    [Fact]
    public void MergePatch_RandomPatches_NeverThrowAnythingElse()
    {
        var random = new Random(7386);
        for (var i = 0; i < 2000; i++)
        {
            var patch = RandomObject(random, 0);
            Survives(() => MergePatch.Apply(J(Live), patch), patch);
        }
        Assert.True(_outcomes[0] > 0);
    }

    [Fact]
    public void JsonPatch_RandomOperations_NeverThrowAnythingElse()
    {
        var random = new Random(6902);
        string[] ops = ["add", "remove", "replace", "move", "copy", "test", "bogus"];
        string[] pointers =
        [
            "", "/", "/metadata", "/metadata/labels/x", "/spec/containers/0", "/spec/containers/-", "/spec/containers/-1",
            "/spec/containers/9", "/spec/containers/0/env/1/value", "/spec/containers/01", "/spec/containers/+1",
            "/spec/containers/99999999999", "/metadata/finalizers/-", "/metadata/~1x/~0y", "nope", "/spec/volumes/0/emptyDir/a/b",
        ];
        for (var i = 0; i < 3000; i++)
        {
            var patch = new JsonArray();
            for (var n = random.Next(1, 6); n > 0; n--)
            {
                var operation = new JsonObject { ["op"] = ops[random.Next(ops.Length)], ["path"] = pointers[random.Next(pointers.Length)] };
                if (random.Next(2) == 0)
                {
                    operation["from"] = pointers[random.Next(pointers.Length)];
                }
                if (random.Next(3) > 0)
                {
                    operation["value"] = RandomValue(random, 0);
                }
                patch.Add(operation);
            }
            Survives(() => JsonPatch.Apply(J(Live), patch), patch);
        }
        BothOutcomesSeen();
    }

    private void BothOutcomesSeen() =>
        Assert.True(_outcomes[0] > 100 && _outcomes[1] > 100, $"applied {_outcomes[0]}, rejected {_outcomes[1]}");

    /// <summary>Outcomes seen, so a generator that only ever produces rejected patches fails the test.</summary>
    private readonly int[] _outcomes = new int[2];

    private void Survives(Func<JsonNode> apply, JsonNode patch)
    {
        try
        {
            Assert.NotNull(apply());
            _outcomes[0]++;
        }
        catch (PatchException)
        {
            _outcomes[1]++;
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name}: {e.Message}\npatch: {patch.ToJsonString()}\n{e.StackTrace}");
        }
    }

    private static JsonObject RandomObject(Random random, int depth)
    {
        var obj = new JsonObject();
        for (var n = random.Next(0, depth == 0 ? 4 : 3); n > 0; n--)
        {
            obj[Keys[random.Next(Keys.Length)]] = RandomValue(random, depth + 1);
        }
        return obj;
    }

    private static JsonNode? RandomValue(Random random, int depth) => random.Next(depth > 4 ? 4 : 7) switch
    {
        0 => null,
        1 => JsonValue.Create(Strings[random.Next(Strings.Length)]),
        2 => JsonValue.Create(random.Next(3) == 0 ? 53 : random.Next(100)),
        3 => JsonValue.Create(random.Next(2) == 0),
        4 or 5 => RandomObject(random, depth),
        _ => RandomArray(random, depth),
    };

    private static JsonArray RandomArray(Random random, int depth)
    {
        var array = new JsonArray();
        var objects = random.Next(3) > 0;
        for (var n = random.Next(0, 4); n > 0; n--)
        {
            array.Add(objects ? RandomObject(random, depth + 1) : RandomValue(random, depth + 1));
        }
        return array;
    }
}
