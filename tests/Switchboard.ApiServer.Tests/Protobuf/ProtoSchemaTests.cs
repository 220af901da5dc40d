using System.Text.Json.Nodes;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Protobuf;

namespace Switchboard.ApiServer.Tests.Protobuf;

/// <summary>
/// Checks on the schema table itself: it is closed, its JSON names are unambiguous, and every JSON name it can produce
/// is a field the served model knows (a typo would make <c>fieldValidation=Strict</c> reject kubectl's bodies).
/// </summary>
public sealed class ProtoSchemaTests
{
    private static readonly KubeProtoSchema Schema = KubeProtoSchema.Instance;

    [Fact]
    public void Schema_EveryReferencedMessage_IsDefined()
    {
        var missing = Schema.Messages.Values
            .SelectMany(m => m.Fields.Values.Where(f => f.MessageType is not null && !Schema.Messages.ContainsKey(f.MessageType))
                .Select(f => $"{m.Name}.{f.JsonName} -> {f.MessageType}"))
            .ToList();

        Assert.Empty(missing);
    }

    [Fact]
    public void Schema_JsonNames_UniqueWithinEachObjectIncludingInlinedFields()
    {
        foreach (var message in Schema.Messages.Values.Where(m => m.Rendering == ProtoRendering.Object))
        {
            var names = JsonNames(message).ToList();
            Assert.True(names.Count == names.Distinct(StringComparer.Ordinal).Count(), $"{message.Name}: {string.Join(", ", names)}");
        }
    }

    [Fact]
    public void Schema_RootKinds_AreServedResources()
    {
        foreach (var (apiVersion, kind) in Schema.Roots.Keys)
        {
            var group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
            Assert.NotNull(ResourceCatalog.Default.FindKind(group, kind));
        }
    }

    public static TheoryData<string> RootKinds => [.. Schema.Roots.Keys.Select(k => k.Kind)];

    [Theory]
    [MemberData(nameof(RootKinds))]
    public void Decode_EveryFieldOfTheKindSet_StrictValidationAndModelDecodeAccept(string kind)
    {
        var info = ProtobufDecoderTests.Info(kind);
        var root = Schema.FindRoot(info.GroupVersion, kind)!;
        var raw = new ProtoWriter();
        WriteEverything(raw, root, depth: 0);
        var body = ProtoWriter.Envelope(info.GroupVersion, kind, o => o.Raw(raw.ToArray()));

        var json = ProtobufDecoder.Decode(info, body);

        var problems = new FieldValidator(new SchemaCatalog(ResourceCatalog.Default)).Validate(json, info);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.NotNull(KubeJson.Deserialize(json, info.ModelType));
        // Every field of every message was set, so the JSON is large: a sanity check that nothing was dropped.
        Assert.True(JsonNode.Parse(json)!.ToJsonString().Length > 500);
    }

    private static IEnumerable<string> JsonNames(ProtoMessage message) =>
        message.Fields.Values.SelectMany(f => f.Inline ? JsonNames(Schema.Message(f.MessageType!)) : [f.JsonName]);

    /// <summary>Writes every field of <paramref name="message"/> with a non-zero value, recursing into messages.</summary>
    private static void WriteEverything(ProtoWriter w, ProtoMessage message, int depth)
    {
        Assert.True(depth < 20, $"schema recursion at {message.Name}");
        foreach (var field in message.Fields.Values)
        {
            switch (field.Shape, field.Kind)
            {
                case (ProtoShape.Map, ProtoKind.Message):
                    w.Message(field.Number, e => e.String(1, "cpu").Message(2, v => WriteEverything(v, Schema.Message(field.MessageType!), depth + 1)));
                    break;
                case (ProtoShape.Map, ProtoKind.Bytes):
                    w.Message(field.Number, e => e.String(1, "key").Bytes(2, [1, 2, 3]));
                    break;
                case (ProtoShape.Map, _):
                    w.Entry(field.Number, "key", "value");
                    break;
                case (_, ProtoKind.Message):
                    w.Message(field.Number, v => WriteEverything(v, Schema.Message(field.MessageType!), depth + 1));
                    break;
                default:
                    WriteScalar(w, field, message);
                    break;
            }
        }
    }

    private static void WriteScalar(ProtoWriter w, ProtoField field, ProtoMessage owner)
    {
        switch (field.Kind)
        {
            case ProtoKind.String:
                w.String(field.Number, owner.Rendering switch
                {
                    ProtoRendering.Quantity => "250m",
                    ProtoRendering.IntOrString => "web",
                    _ => "x",
                });
                break;
            case ProtoKind.Bytes:
                w.Bytes(field.Number, owner.Rendering == ProtoRendering.RawJson ? """{"f:a":{}}"""u8.ToArray() : [1, 2, 3]);
                break;
            case ProtoKind.Bool:
                w.Bool(field.Number, true);
                break;
            default:
                // IntOrString.type 1 selects strVal; Time seconds land in 2001.
                w.Int(field.Number, owner.Rendering switch
                {
                    ProtoRendering.IntOrString when field.Number == 1 => 1,
                    ProtoRendering.Time => 1_000_000_000,
                    _ => 1,
                });
                break;
        }
    }
}
