using System.Text.Json.Nodes;
using Switchboard.Api.Resources;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Protobuf;

namespace Switchboard.ApiServer.Tests.Protobuf;

/// <summary>Decoding protobuf bodies built field by field, and kubectl's real ones, into JSON.</summary>
public sealed class ProtobufDecoderTests
{
    internal static ResourceInfo Info(string kind) =>
        ResourceCatalog.Default.FindKind(kind == "Deployment" ? "apps" : "", kind) ?? throw new ArgumentException(kind);

    internal static JsonNode Decode(string kind, byte[] body) => JsonNode.Parse(ProtobufDecoder.Decode(Info(kind), body))!;

    private static ApiException Fails(string kind, byte[] body) => Assert.Throws<ApiException>(() => ProtobufDecoder.Decode(Info(kind), body));

    [Theory]
    [MemberData(nameof(KubectlBodies.All), MemberType = typeof(KubectlBodies))]
    public void Decode_RealKubectlBody_EqualsKubectlOwnJson(string command, string kind, string hex, string expected)
    {
        var json = Decode(kind, Convert.FromHexString(hex));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), json), $"{command}:\n{json.ToJsonString()}");
    }

    [Fact]
    public void Decode_ObjectMeta_AllFieldsAndTimes()
    {
        var body = ProtoWriter.Envelope("v1", "Namespace", o => o
            .Message(1, m => m
                .String(1, "ns1").String(2, "gen-").String(5, "uid-1").String(6, "42").Int(7, 3)
                .Message(8, t => t.Int(1, 1_700_000_000).Int(2, 5))
                .Message(9, t => t.Int(1, 1_700_000_060))
                .Int(10, 0)
                .Entry(11, "app", "web").Entry(11, "empty", "").Entry(12, "note", "x y")
                .Message(13, r => r.String(5, "apps/v1").String(1, "Deployment").String(3, "d").String(4, "u1").Bool(6, true).Bool(7, false))
                .String(14, "example.com/f").String(14, "")
                .Message(17, f => f.String(1, "kubectl").String(2, "Update").String(3, "v1").Message(4, t => t.Int(1, 0))
                    .String(6, "FieldsV1").Message(7, r => r.String(1, """{"f:metadata":{}}""")).String(8, "status")))
            .Message(2, s => s.String(1, "kubernetes"))
            .Message(3, s => s.String(1, "Active")));

        var json = Decode("Namespace", body);

        var meta = json["metadata"]!;
        Assert.Equal("ns1", (string?)meta["name"]);
        Assert.Equal("gen-", (string?)meta["generateName"]);
        Assert.Null(meta["namespace"]);
        Assert.Equal(3L, (long)meta["generation"]!);
        Assert.Equal("2023-11-14T22:13:20Z", (string?)meta["creationTimestamp"]);
        Assert.Equal("2023-11-14T22:14:20Z", (string?)meta["deletionTimestamp"]);
        Assert.Equal(0L, (long)meta["deletionGracePeriodSeconds"]!);
        Assert.Equal("web", (string?)meta["labels"]!["app"]);
        Assert.Equal("", (string?)meta["labels"]!["empty"]);
        Assert.Equal("x y", (string?)meta["annotations"]!["note"]);
        var owner = meta["ownerReferences"]![0]!;
        Assert.Equal("apps/v1", (string?)owner["apiVersion"]);
        Assert.True((bool)owner["controller"]!);
        Assert.False((bool)owner["blockOwnerDeletion"]!);
        Assert.Equal(["example.com/f", ""], meta["finalizers"]!.AsArray().Select(f => (string?)f));
        var managed = meta["managedFields"]![0]!;
        Assert.Equal("1970-01-01T00:00:00Z", (string?)managed["time"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"f:metadata":{}}"""), managed["fieldsV1"]));
        Assert.Equal("status", (string?)managed["subresource"]);
        Assert.Equal("kubernetes", (string?)json["spec"]!["finalizers"]![0]);
        Assert.Equal("Active", (string?)json["status"]!["phase"]);
    }

    [Fact]
    public void Decode_ConfigMap_BinaryDataIsBase64AndFalseImmutableIsKept()
    {
        var body = ProtoWriter.Envelope("v1", "ConfigMap", o => o.Meta("c", "ns")
            .Bool(4, false)
            .Entry(2, "a", "b")
            .Message(3, e => e.String(1, "bin").Bytes(2, [0, 1, 2, 255])));

        var json = Decode("ConfigMap", body);

        Assert.Equal("ns", (string?)json["metadata"]!["namespace"]);
        Assert.False((bool)json["immutable"]!);
        Assert.Equal("b", (string?)json["data"]!["a"]);
        Assert.Equal("AAEC/w==", (string?)json["binaryData"]!["bin"]);
    }

    [Fact]
    public void Decode_Secret_DataStringDataAndType()
    {
        var body = ProtoWriter.Envelope("v1", "Secret", o => o.Meta("s")
            .Message(2, e => e.String(1, "k").Bytes(2, "v"u8.ToArray()))
            .Message(2, e => e.String(1, "missing-value"))
            .Entry(4, "plain", "text")
            .String(3, "kubernetes.io/tls")
            .Bool(5, true));

        var json = Decode("Secret", body);

        Assert.Equal("dg==", (string?)json["data"]!["k"]);
        Assert.Equal("", (string?)json["data"]!["missing-value"]);
        Assert.Equal("text", (string?)json["stringData"]!["plain"]);
        Assert.Equal("kubernetes.io/tls", (string?)json["type"]);
        Assert.True((bool)json["immutable"]!);
    }

    [Fact]
    public void Decode_Service_PortsIntOrStringAndPointerFields()
    {
        var body = ProtoWriter.Envelope("v1", "Service", o => o.Meta("svc")
            .Message(2, s => s
                .Message(1, p => p.String(1, "http").String(2, "TCP").Int(3, 80).Message(4, t => t.Int(1, 0).Int(2, 8080)).Int(5, 30080))
                .Message(1, p => p.String(1, "named").Int(3, 81).Message(4, t => t.Int(1, 1).String(3, "web")).String(6, "kubernetes.io/h2c"))
                .Message(1, p => p.String(1, "none").Int(3, 82).Message(4, t => t.Int(1, 0).Int(2, 0)))
                .Entry(2, "app", "svc")
                .String(3, "10.96.0.10").String(18, "10.96.0.10").String(4, "NodePort")
                .String(7, "ClientIP").Message(14, a => a.Message(1, c => c.Int(1, 60)))
                .String(19, "IPv4").String(17, "SingleStack").Bool(20, false).String(11, "Local").String(22, "Cluster")
                .String(23, "PreferClose"))
            .Message(3, s => s.Message(1, lb => lb.Message(1, i => i.String(1, "192.0.2.1").String(3, "VIP")
                .Message(4, p => p.Int(1, 80).String(2, "TCP"))))));

        var spec = Decode("Service", body)["spec"]!;

        var ports = spec["ports"]!.AsArray();
        Assert.Equal(8080, (int)ports[0]!["targetPort"]!);
        Assert.Equal(30080, (int)ports[0]!["nodePort"]!);
        Assert.Equal("web", (string?)ports[1]!["targetPort"]);
        Assert.Equal("kubernetes.io/h2c", (string?)ports[1]!["appProtocol"]);
        Assert.Null(ports[2]!["targetPort"]); // zero IntOrString means unset, so defaulting applies
        Assert.Equal("svc", (string?)spec["selector"]!["app"]);
        Assert.Equal("NodePort", (string?)spec["type"]);
        Assert.Equal(60, (int)spec["sessionAffinityConfig"]!["clientIP"]!["timeoutSeconds"]!);
        Assert.Equal("IPv4", (string?)spec["ipFamilies"]![0]);
        Assert.False((bool)spec["allocateLoadBalancerNodePorts"]!);
        Assert.Equal("PreferClose", (string?)spec["trafficDistribution"]);
    }

    [Fact]
    public void Decode_ServiceAccount_SecretsAndAutomount()
    {
        var body = ProtoWriter.Envelope("v1", "ServiceAccount", o => o.Meta("sa")
            .Message(2, r => r.String(3, "tok").String(2, "ns"))
            .Message(3, r => r.String(1, "pull"))
            .Bool(4, false));

        var json = Decode("ServiceAccount", body);

        Assert.Equal("tok", (string?)json["secrets"]![0]!["name"]);
        Assert.Equal("pull", (string?)json["imagePullSecrets"]![0]!["name"]);
        Assert.False((bool)json["automountServiceAccountToken"]!);
    }

    [Fact]
    public void Decode_Deployment_WholePodTemplate()
    {
        var json = Decode("Deployment", FullDeployment());
        var spec = json["spec"]!;

        Assert.Equal(0, (int)spec["replicas"]!);
        Assert.Equal("d", (string?)spec["selector"]!["matchLabels"]!["app"]);
        Assert.Equal("In", (string?)spec["selector"]!["matchExpressions"]![0]!["operator"]);
        Assert.Equal(["a", "b"], spec["selector"]!["matchExpressions"]![0]!["values"]!.AsArray().Select(v => (string?)v));
        Assert.Equal("RollingUpdate", (string?)spec["strategy"]!["type"]);
        Assert.Equal(0, (int)spec["strategy"]!["rollingUpdate"]!["maxUnavailable"]!);
        Assert.Equal("25%", (string?)spec["strategy"]!["rollingUpdate"]!["maxSurge"]);
        Assert.Equal(5, (int)spec["revisionHistoryLimit"]!);

        var pod = spec["template"]!["spec"]!;
        Assert.Equal("d", (string?)spec["template"]!["metadata"]!["labels"]!["app"]);
        var c = pod["containers"]![0]!;
        Assert.Equal("app", (string?)c["name"]);
        Assert.Equal("registry.k8s.io/e2e-test-images/agnhost:2.53", (string?)c["image"]);
        Assert.Equal(["/agnhost"], c["command"]!.AsArray().Select(v => (string?)v));
        Assert.Equal(["netexec", "--http-port=8080"], c["args"]!.AsArray().Select(v => (string?)v));
        Assert.Equal(8080, (int)c["ports"]![0]!["containerPort"]!);
        Assert.Equal("http", (string?)c["ports"]![0]!["name"]);
        Assert.Equal("MODE", (string?)c["env"]![0]!["name"]);
        Assert.Equal("fast", (string?)c["env"]![0]!["value"]);
        var secretRef = c["env"]![1]!["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal("creds", (string?)secretRef["name"]); // LocalObjectReference is inlined
        Assert.Equal("password", (string?)secretRef["key"]);
        Assert.True((bool)secretRef["optional"]!);
        Assert.Equal("metadata.name", (string?)c["env"]![2]!["valueFrom"]!["fieldRef"]!["fieldPath"]);
        Assert.Equal("cfg", (string?)c["envFrom"]![0]!["configMapRef"]!["name"]);
        Assert.Equal("CFG_", (string?)c["envFrom"]![0]!["prefix"]);
        Assert.Equal("500m", (string?)c["resources"]!["limits"]!["cpu"]);
        Assert.Equal("64Mi", (string?)c["resources"]!["requests"]!["memory"]);
        Assert.Equal("/healthz", (string?)c["livenessProbe"]!["httpGet"]!["path"]); // ProbeHandler is inlined
        Assert.Equal("http", (string?)c["livenessProbe"]!["httpGet"]!["port"]);
        Assert.Equal(3, (int)c["livenessProbe"]!["initialDelaySeconds"]!);
        Assert.Equal(8080, (int)c["readinessProbe"]!["tcpSocket"]!["port"]!);
        Assert.Equal("true", (string?)c["startupProbe"]!["exec"]!["command"]![0]);
        Assert.Equal(5L, (long)c["lifecycle"]!["preStop"]!["sleep"]!["seconds"]!);
        Assert.Equal("/etc/cfg", (string?)c["volumeMounts"]![0]!["mountPath"]);
        Assert.True((bool)c["volumeMounts"]![0]!["readOnly"]!);
        Assert.False((bool)c["securityContext"]!["allowPrivilegeEscalation"]!);
        Assert.Equal("ALL", (string?)c["securityContext"]!["capabilities"]!["drop"]![0]);
        Assert.Equal(1000L, (long)c["securityContext"]!["runAsUser"]!);
        Assert.Equal("init", (string?)pod["initContainers"]![0]!["name"]);

        var volumes = pod["volumes"]!.AsArray();
        Assert.Equal("cfg", (string?)volumes[0]!["name"]); // VolumeSource is inlined
        Assert.Equal("cfg", (string?)volumes[0]!["configMap"]!["name"]);
        Assert.Equal("k", (string?)volumes[0]!["configMap"]!["items"]![0]!["key"]);
        Assert.Equal(420, (int)volumes[0]!["configMap"]!["defaultMode"]!);
        Assert.True(JsonNode.DeepEquals(new JsonObject(), volumes[1]!["emptyDir"]));
        Assert.Equal("1Gi", (string?)volumes[2]!["emptyDir"]!["sizeLimit"]);
        Assert.Equal("tls", (string?)volumes[3]!["secret"]!["secretName"]);
        Assert.Equal(3600L, (long)volumes[4]!["projected"]!["sources"]![0]!["serviceAccountToken"]!["expirationSeconds"]!);
        Assert.Equal("Directory", (string?)volumes[5]!["hostPath"]!["type"]);

        Assert.Equal(0L, (long)pod["terminationGracePeriodSeconds"]!);
        Assert.Equal("runner", (string?)pod["serviceAccountName"]);
        Assert.Equal("linux", (string?)pod["nodeSelector"]!["kubernetes.io/os"]);
        Assert.Equal([1L, 2L, 3L], pod["securityContext"]!["supplementalGroups"]!.AsArray().Select(v => (long)v!));
        Assert.Equal(2000L, (long)pod["securityContext"]!["fsGroup"]!);
        Assert.Equal("NoSchedule", (string?)pod["tolerations"]![0]!["effect"]);
        Assert.Equal("zone", (string?)pod["affinity"]!["nodeAffinity"]!["requiredDuringSchedulingIgnoredDuringExecution"]!["nodeSelectorTerms"]![0]!["matchExpressions"]![0]!["key"]);
        Assert.Equal("topology.kubernetes.io/zone", (string?)pod["topologySpreadConstraints"]![0]!["topologyKey"]);
        Assert.Equal("d", (string?)pod["topologySpreadConstraints"]![0]!["labelSelector"]!["matchLabels"]!["app"]);
        Assert.Equal("ndots", (string?)pod["dnsConfig"]!["options"]![0]!["name"]);
    }

    [Fact]
    public void Decode_Pod_AsKubectlRunSendsIt()
    {
        var body = ProtoWriter.Envelope("v1", "Pod", o => o.Message(1, m => m.String(1, "p").Entry(11, "run", "p"))
            .Message(2, s => s.Message(2, c => c.String(1, "p").String(2, "nginx").Message(6, p => p.Int(3, 80)).Message(8, _ => { }))
                .String(3, "Always").String(6, "ClusterFirst"))
            .Message(3, _ => { }));

        var json = Decode("Pod", body);

        Assert.Equal("p", (string?)json["metadata"]!["labels"]!["run"]);
        Assert.Equal(80, (int)json["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!);
        Assert.Equal("Always", (string?)json["spec"]!["restartPolicy"]);
        Assert.True(JsonNode.DeepEquals(new JsonObject(), json["status"]));
    }

    [Fact]
    public void Decode_ProtoMergeRules_RepeatedAppendMessagesMergeScalarsLastWins()
    {
        var body = ProtoWriter.Envelope("v1", "ConfigMap", o => o
            .Message(1, m => m.String(1, "first").String(14, "a"))
            .Entry(2, "k", "1")
            .Message(1, m => m.String(1, "second").Entry(11, "l", "v").String(14, "b"))
            .Entry(2, "k", "2")
            .Message(1, m => m.String(14, "c").Int(7, 9).Int(7, 0)));

        var json = Decode("ConfigMap", body);

        var meta = json["metadata"]!;
        Assert.Equal("second", (string?)meta["name"]);
        Assert.Equal("v", (string?)meta["labels"]!["l"]);
        Assert.Equal(["a", "b", "c"], meta["finalizers"]!.AsArray().Select(v => (string?)v));
        Assert.Null(meta["generation"]); // a later zero value resets the field to unset
        Assert.Equal("2", (string?)json["data"]!["k"]);
    }

    [Fact]
    public void Decode_PackedAndUnpackedRepeatedInts_BothAccepted()
    {
        var packed = new ProtoWriter().VarintRaw(7).VarintRaw(300).VarintRaw(unchecked((ulong)-1L)).ToArray();
        var body = ProtoWriter.Envelope("v1", "Pod", o => o.Meta("p")
            .Message(2, s => s.Message(14, sc => sc.Int(4, 1).Bytes(4, packed).Int(4, 2))));

        var groups = Decode("Pod", body)["spec"]!["securityContext"]!["supplementalGroups"]!.AsArray();

        Assert.Equal([1L, 7L, 300L, -1L, 2L], groups.Select(v => (long)v!));
    }

    [Fact]
    public void Decode_UnknownFieldsOfEveryWireType_Skipped()
    {
        var body = ProtoWriter.Envelope("v1", "ConfigMap", o => o
            .Int(99, 5).Fixed32(98, 7).Fixed64(97, 9).String(96, "x")
            .Tag(95, 3).Int(1, 1).Tag(94, 3).String(2, "nested").Tag(94, 4).Tag(95, 4)
            .Meta("c")
            .Message(2, e => e.String(1, "k").String(2, "v").Int(3, 1)));

        var json = Decode("ConfigMap", body);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}"""), json));
    }

    [Fact]
    public void Decode_EmptyTypeMeta_DefaultsToTheEndpointKind()
    {
        var raw = new ProtoWriter().Meta("c").ToArray();
        var body = new ProtoWriter().Raw("k8s\0"u8.ToArray()).Message(1, _ => { }).Bytes(2, raw).ToArray();

        var json = Decode("ConfigMap", body);

        Assert.Equal("v1", (string?)json["apiVersion"]);
        Assert.Equal("ConfigMap", (string?)json["kind"]);
    }

    [Fact]
    public void Decode_KindWithoutSchema_415WithUpstreamMessage()
    {
        var body = ProtoWriter.Envelope("v1", "Endpoints", o => o.Meta("e"));

        var e = Fails("Endpoints", body);

        Assert.Equal(415, e.Code);
        Assert.Equal("UnsupportedMediaType", e.Reason);
        Assert.Contains("application/vnd.kubernetes.protobuf", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1", "ConfigMap", "the kind in the data (ConfigMap) does not match the expected kind (Namespace)")]
    [InlineData("apps/v1", "Namespace", "the API version in the data (apps/v1) does not match the expected API version (v1)")]
    public void Decode_TypeMetaDiffersFromEndpoint_400(string apiVersion, string kind, string message)
    {
        var e = Fails("Namespace", ProtoWriter.Envelope(apiVersion, kind, o => o.Meta("x")));

        Assert.Equal(400, e.Code);
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("6b3873")]
    [InlineData("7b7d")]
    [InlineData("6b38730100")]
    public void Decode_MissingMagic_400(string hex)
    {
        var e = Fails("Namespace", Convert.FromHexString(hex));

        Assert.Equal(400, e.Code);
        Assert.StartsWith("the object provided is unrecognized (must be of type Namespace)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("6b387300ff", "unexpected end of data in a varint")]
    [InlineData("6b387300ffffffffffffffffffff01", "varint overflows 64 bits")]
    [InlineData("6b387300120a0a02", "runs past the end")]
    [InlineData("6b3873000f", "illegal wire type 7 for field 1")]
    [InlineData("6b38730000", "illegal tag 0")]
    [InlineData("6b3873004b", "unexpected end of data in group 9")]
    [InlineData("6b387300080a", "wrong wire type 0 for envelope field typeMeta")]
    public void Decode_MalformedEnvelope_400(string hex, string detail)
    {
        var e = Fails("Namespace", Convert.FromHexString(hex));

        Assert.Equal(400, e.Code);
        Assert.Equal("BadRequest", e.Reason);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_WrongWireTypeInObject_400NamesThePath()
    {
        var body = ProtoWriter.Envelope("apps/v1", "Deployment", o => o.Meta("d")
            .Message(2, s => s.Message(3, t => t.Message(2, p => p.Message(2, c => c.Message(6, port => port.String(3, "80")))))));

        var e = Fails("Deployment", body);

        Assert.Equal(400, e.Code);
        Assert.Equal(
            "Deployment in version \"v1\" cannot be handled as a Deployment: protobuf: wrong wire type 2 for field 3 (containerPort), expected 0 at spec.template.spec.containers[0].ports[0].containerPort",
            e.Message);
    }

    [Fact]
    public void Decode_ErrorInsideEmbeddedStruct_PathSkipsTheEmbeddedLevel()
    {
        var body = ProtoWriter.Envelope("v1", "Pod", o => o.Meta("p")
            .Message(2, s => s.Message(2, c => c.String(1, "c").Message(10, probe => probe.Message(1, h => h.Message(2, g => g.Int(1, 5)))))));

        var e = Fails("Pod", body);

        Assert.EndsWith("at spec.containers[0].livenessProbe.httpGet.path", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-1)]
    public void Decode_ImpossibleIntOrStringType_400(int type)
    {
        var body = ProtoWriter.Envelope("v1", "Service", o => o.Meta("s")
            .Message(2, s => s.Message(1, p => p.Int(3, 80).Message(4, t => t.Int(1, type).Int(2, 80)))));

        Assert.Contains("impossible IntOrString type", Fails("Service", body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_TimeOutsideYears1To9999_400()
    {
        var body = ProtoWriter.Envelope("v1", "ConfigMap", o => o.Message(1, m => m.String(1, "c").Message(8, t => t.Int(1, long.MaxValue))));

        Assert.Contains("outside years 1 to 9999", Fails("ConfigMap", body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_FieldsV1NotJson_400()
    {
        var body = ProtoWriter.Envelope("v1", "ConfigMap", o => o.Message(1, m => m.String(1, "c")
            .Message(17, f => f.Message(7, r => r.String(1, "{not json")))));

        Assert.Contains("fieldsV1 is not valid JSON", Fails("ConfigMap", body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_DeeplyNestedUnknownGroups_400NotStackOverflow()
    {
        var w = new ProtoWriter();
        for (var i = 0; i < 100_000; i++)
        {
            w.Tag(90, 3);
        }
        var raw = w.ToArray();
        var body = new ProtoWriter().Raw("k8s\0"u8.ToArray()).Bytes(2, raw).ToArray();

        Assert.Contains("groups nested too deeply", Fails("ConfigMap", body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_MillionsOfTinyValues_400()
    {
        var body = ProtoWriter.Envelope("v1", "Namespace", o =>
        {
            o.Meta("n");
            o.Message(2, s =>
            {
                for (var i = 0; i <= ProtoJsonConverter.MaxValues; i++)
                {
                    s.String(1, "");
                }
            });
        });

        Assert.Contains($"more than {ProtoJsonConverter.MaxValues} values", Fails("Namespace", body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_EveryTruncationOfRealBodies_Is400OrDecodes()
    {
        foreach (var row in KubectlBodies.All)
        {
            var kind = (string)row[1];
            var full = Convert.FromHexString((string)row[2]);
            for (var length = 0; length < full.Length; length++)
            {
                AssertDecodesOr400(kind, full[..length]);
            }
        }
    }

    [Fact]
    public void Decode_RandomMutationsOfRealBodies_Are400OrDecode()
    {
        var random = new Random(1234);
        var rows = KubectlBodies.All.Select(r => ((string)r[1], Convert.FromHexString((string)r[2]))).ToArray();
        for (var i = 0; i < 20_000; i++)
        {
            var (kind, original) = rows[random.Next(rows.Length)];
            var body = (byte[])original.Clone();
            var flips = random.Next(1, 4);
            for (var f = 0; f < flips; f++)
            {
                body[random.Next(4, body.Length)] = (byte)random.Next(256);
            }
            AssertDecodesOr400(kind, body);
        }
        for (var i = 0; i < 2_000; i++)
        {
            var garbage = new byte[random.Next(0, 200)];
            random.NextBytes(garbage);
            AssertDecodesOr400("Deployment", [.. "k8s\0"u8, .. garbage]);
        }
    }

    private static void AssertDecodesOr400(string kind, byte[] body)
    {
        try
        {
            var json = ProtobufDecoder.Decode(Info(kind), body);
            Assert.NotNull(JsonNode.Parse(json));
        }
        catch (ApiException e)
        {
            Assert.True(e.Code == 400, $"{e.Code} {e.Message} for {Convert.ToHexString(body)}");
        }
    }

    /// <summary>A Deployment using most of the pod template, written as Go's encoder would (plus a few zero values).</summary>
    internal static byte[] FullDeployment() => ProtoWriter.Envelope("apps/v1", "Deployment", o => o
        .Message(1, m => m.String(1, "d").String(3, "ns").Entry(11, "app", "d").Message(8, _ => { }))
        .Message(2, s => s
            .Int(1, 0)
            .Message(2, sel => sel.Entry(1, "app", "d").Message(2, r => r.String(1, "tier").String(2, "In").String(3, "a").String(3, "b")))
            .Message(3, t => t
                .Message(1, m => m.Entry(11, "app", "d"))
                .Message(2, p => p
                    .Message(1, v => v.String(1, "cfg").Message(2, src => src.Message(19, cm => cm
                        .Message(1, l => l.String(1, "cfg")).Message(2, k => k.String(1, "k").String(2, "k.txt")).Int(3, 420))))
                    .Message(1, v => v.String(1, "scratch").Message(2, src => src.Message(2, _ => { })))
                    .Message(1, v => v.String(1, "sized").Message(2, src => src.Message(2, e => e.Message(2, q => q.String(1, "1Gi")))))
                    .Message(1, v => v.String(1, "tls").Message(2, src => src.Message(6, sv => sv.String(1, "tls"))))
                    .Message(1, v => v.String(1, "token").Message(2, src => src.Message(26, pr => pr
                        .Message(1, vp => vp.Message(4, sat => sat.Int(2, 3600).String(3, "token"))))))
                    .Message(1, v => v.String(1, "host").Message(2, src => src.Message(1, h => h.String(1, "/var").String(2, "Directory"))))
                    .Message(20, c => c.String(1, "init").String(2, "busybox"))
                    .Message(2, c => c
                        .String(1, "app").String(2, "registry.k8s.io/e2e-test-images/agnhost:2.53")
                        .String(3, "/agnhost").String(4, "netexec").String(4, "--http-port=8080").String(5, "")
                        .Message(6, port => port.String(1, "http").Int(3, 8080).String(4, "TCP").Int(2, 0))
                        .Message(7, e => e.String(1, "MODE").String(2, "fast"))
                        .Message(7, e => e.String(1, "PASSWORD").Message(3, from => from.Message(4, k => k
                            .Message(1, l => l.String(1, "creds")).String(2, "password").Bool(3, true))))
                        .Message(7, e => e.String(1, "POD").Message(3, from => from.Message(1, f => f.String(1, "v1").String(2, "metadata.name"))))
                        .Message(19, e => e.String(1, "CFG_").Message(2, cm => cm.Message(1, l => l.String(1, "cfg"))))
                        .Message(8, r => r
                            .Message(1, e => e.String(1, "cpu").Message(2, q => q.String(1, "500m")))
                            .Message(2, e => e.String(1, "memory").Message(2, q => q.String(1, "64Mi"))))
                        .Message(9, vm => vm.String(1, "cfg").Bool(2, true).String(3, "/etc/cfg"))
                        .Message(10, pr => pr.Message(1, h => h.Message(2, g => g.String(1, "/healthz").Message(2, port => port.Int(1, 1).String(3, "http"))))
                            .Int(2, 3))
                        .Message(11, pr => pr.Message(1, h => h.Message(3, tcp => tcp.Message(1, port => port.Int(2, 8080)))))
                        .Message(22, pr => pr.Message(1, h => h.Message(1, x => x.String(1, "true"))))
                        .Message(12, l => l.Message(2, ps => ps.Message(4, sl => sl.Int(1, 5))))
                        .Message(15, sc => sc.Message(1, cap => cap.String(2, "ALL")).Int(4, 1000).Bool(5, true).Bool(7, false))
                        .String(14, "IfNotPresent"))
                    .String(3, "Always")
                    .Int(4, 0)
                    .Entry(7, "kubernetes.io/os", "linux")
                    .String(8, "runner")
                    .Message(14, sc => sc.Int(4, 1).Int(4, 2).Int(4, 3).Int(5, 2000))
                    .Message(18, a => a.Message(1, na => na.Message(1, ns => ns.Message(1, term => term
                        .Message(1, r => r.String(1, "zone").String(2, "In").String(3, "a"))))))
                    .Message(22, tol => tol.String(1, "dedicated").String(2, "Equal").String(3, "x").String(4, "NoSchedule"))
                    .Message(26, dns => dns.Message(3, opt => opt.String(1, "ndots").String(2, "2")))
                    .Message(33, tsc => tsc.Int(1, 1).String(2, "topology.kubernetes.io/zone").String(3, "DoNotSchedule")
                        .Message(4, sel => sel.Entry(1, "app", "d")))))
            .Message(4, st => st.String(1, "RollingUpdate").Message(2, ru => ru
                .Message(1, v => v.Int(1, 0).Int(2, 0))
                .Message(2, v => v.Int(1, 1).String(3, "25%"))))
            .Int(6, 5))
        .Message(3, _ => { }));
}
